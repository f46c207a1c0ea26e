"""Researchers' pages (staff only) that write a study: creating one, and opening or closing it."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from . import services
from .forms import StudyCreateForm
from .models import Study
from .participant_admin_views import SeeOther, refused

#: The buttons that put a study in each status (the monitor's and the study list's).
STATUS_ACTIONS = {Study.Status.DRAFT: "Back to draft", Study.Status.OPEN: "Open", Study.Status.CLOSED: "Close"}


def status_buttons() -> list[tuple[str, str]]:
    """(status, button label) of every status, in the model's order: the context of ``_status_buttons.html``."""
    return [(status, STATUS_ACTIONS[status]) for status in Study.Status.values]


@require_http_methods(["GET", "HEAD", "POST"])
@staff_member_required
def study_create(request: HttpRequest) -> HttpResponse:
    """GET: the form. POST: a study through ``services.create_study``; what it refuses is a form error in its words."""
    form = StudyCreateForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        from explainers.data import MnistDataError  # NumPy: imported on use, like the pictures it guards

        try:
            study = services.create_study(**form.create_arguments())
        except services.SurveyError as exc:
            form.add_error(None, exc.message)
        except MnistDataError as exc:  # the MNIST files the attention checks come from
            form.add_error(None, str(exc))
        else:
            messages.success(
                request,
                f"Created study {study.slug} ({study.get_status_display().lower()}): {study.n_real_questions} "
                f"questions and {study.n_attention_checks} attention checks, comparing {study.n_options} methods "
                f"({', '.join(study.methods)}).",
            )
            return redirect(study.get_monitor_url())
    return render(request, "survey/research/study_create.html", {"form": form})


@require_POST
@staff_member_required
def study_status(request: HttpRequest, slug: str) -> HttpResponse:
    """Make the study a draft, open or closed (``status``), then back to ``next`` if it is a page of this
    site, else the monitor."""
    study = get_object_or_404(Study, slug=slug)
    try:
        study = services.set_study_status(study, request.POST.get("status", ""))
    except services.SurveyError as exc:
        return refused(request, study, exc)
    messages.success(request, f"Study {study.slug} is now {study.get_status_display().lower()}.")
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = study.get_monitor_url()
    return SeeOther(target)
