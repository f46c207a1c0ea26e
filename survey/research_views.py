"""Researchers' pages (staff only): the studies, a live monitor of each, and the downloads."""

from __future__ import annotations

import io

from django.contrib.admin.views.decorators import staff_member_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.http import require_safe

from explainers.methods import registry

from . import export, services
from .models import Study
from .platforms import prolific
from .study_views import status_buttons


@require_safe
@staff_member_required
def study_list(request: HttpRequest) -> HttpResponse:
    studies = Study.objects.select_related("explanation_set")
    return render(request, "survey/research/study_list.html", {"studies": studies, "statuses": status_buttons()})


@require_safe
@staff_member_required
def monitor(request: HttpRequest, slug: str) -> HttpResponse:
    study = get_object_or_404(Study.objects.select_related("explanation_set"), slug=slug)
    summary = services.study_summary(study)
    participant_url = request.build_absolute_uri(study.get_absolute_url())
    votes = [
        {
            "method": method,
            "label": registry.label(method),
            "all": summary.votes[method],
            "passing": summary.votes_passing[method],
        }
        for method in study.methods
    ]
    context = {
        "study": study,
        "summary": summary,
        "votes": votes,
        "participant_url": participant_url,
        "prolific_url": prolific.study_url_template(participant_url),
        "hits": study.hits.all(),
        "now": timezone.now(),
        "statuses": status_buttons(),
    }
    return render(request, "survey/research/monitor.html", context)


@require_safe
@staff_member_required
def download(request: HttpRequest, slug: str, fmt: str) -> HttpResponse:
    if fmt not in export.FORMATS:
        raise Http404("unknown format")
    study = get_object_or_404(Study, slug=slug)
    buffer = io.StringIO()
    export.write(study, fmt, buffer)
    content_type = "text/csv; charset=utf-8" if fmt == "csv" else "application/json"
    response = HttpResponse(buffer.getvalue(), content_type=content_type)
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="{study.slug}-responses-{stamp}.{fmt}"'
    return response
