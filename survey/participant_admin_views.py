"""Researchers' pages (staff only) about a study's participants by kind: a pilot preview, deleting
pilot and simulated participants, and the Prolific id lists."""

from __future__ import annotations

from django.contrib.admin.views.decorators import staff_member_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from . import services
from .forms import DeleteParticipantsForm
from .models import Study
from .tokens import make_token

# The two lists of ``prolific-<which>.txt``: whether the participants in it passed the checks.
PROLIFIC_LISTS = {"passed": True, "failed": False}


class SeeOther(HttpResponseRedirect):
    status_code = 303  # after a POST: the browser GETs the next page, so refresh never re-posts


def refused(request: HttpRequest, study: Study, exc: services.SurveyError) -> HttpResponse:
    """The researcher's page of a refused action: the rule's title and words, with its HTTP status."""
    return render(
        request,
        "survey/research/refused.html",
        {"study": study, "title": exc.title, "message": exc.message},
        status=exc.status,
    )


@require_POST
@staff_member_required
def pilot(request: HttpRequest, slug: str) -> HttpResponse:
    """Preview as a participant: a new pilot participant, sent into the participant pages."""
    study = get_object_or_404(Study, slug=slug)
    try:
        participant = services.start_pilot(study, request.headers.get("User-Agent", ""))
    except services.SurveyError as exc:
        return refused(request, study, exc)
    return SeeOther(reverse("survey:home", args=[study.slug, make_token(participant.public_id)]))


@require_POST
@staff_member_required
def delete_participants(request: HttpRequest, slug: str) -> HttpResponse:
    """Delete pilot and/or simulated participants: a first POST asks to confirm, the second deletes."""
    study = get_object_or_404(Study, slug=slug)
    form = DeleteParticipantsForm(request.POST)
    if not form.is_valid():
        return render(request, "survey/research/delete_participants.html", {"study": study, "form": form}, status=400)
    kinds = form.cleaned_data["kinds"]
    if not form.cleaned_data["confirm"]:
        counts = services.study_summary(study).not_counted
        context = {"study": study, "form": form, "kinds": kinds, "counts": {kind: counts[kind] for kind in kinds}}
        return render(request, "survey/research/delete_participants.html", context)
    try:
        services.delete_participants(study, kinds)
    except services.SurveyError as exc:
        form.add_error(None, exc.message)
        return render(request, "survey/research/delete_participants.html", {"study": study, "form": form}, status=400)
    return SeeOther(study.get_monitor_url())


@require_safe
@staff_member_required
def prolific_ids(request: HttpRequest, slug: str, which: str) -> HttpResponse:
    """The Prolific ids of finished real participants who passed (or failed) the checks, one a line."""
    if which not in PROLIFIC_LISTS:
        raise Http404("the lists are prolific-passed.txt and prolific-failed.txt")
    study = get_object_or_404(Study, slug=slug)
    ids = services.prolific_ids(study, passed=PROLIFIC_LISTS[which])
    response = HttpResponse("".join(f"{pid}\n" for pid in ids), content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{study.slug}-prolific-{which}.txt"'
    return response
