"""The researcher's page for a study's participant texts: edit them, preview them as participants see them, save."""

from __future__ import annotations

import copy

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from . import services, texts
from .forms import StudyTextsForm
from .models import Item, Study
from .views import _example_picture, _numbered_pictures


@require_http_methods(["GET", "HEAD", "POST"])
@staff_member_required
def study_texts(request: HttpRequest, slug: str) -> HttpResponse:
    """GET: the saved texts. POST "preview": the typed ones shown, nothing saved. POST "save": through update_texts."""
    study = get_object_or_404(Study.objects.select_related("explanation_set"), slug=slug)
    # The form writes what was typed into this copy (the model form's instance): the preview, never saved.
    shown = copy.copy(study)
    form = StudyTextsForm(request.POST if request.method == "POST" else None, instance=shown)
    if request.method == "POST" and form.is_valid() and "save" in request.POST:
        try:
            services.update_texts(study, **form.cleaned_data)
        except (services.StudyLocked, services.BadStudyInput) as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, "The participant texts are saved.")
            return redirect("survey:study_texts", slug=study.slug)
    context = {
        "study": study,
        "shown": shown,
        "form": form,
        "previewing": request.method == "POST",
        "placeholders": texts.PLACEHOLDERS,
        "example": _example_picture(study),
        "question": _first_question(study),
    }
    return render(request, "survey/research/study_texts.html", context)


def _first_question(study: Study) -> dict | None:
    """The study's first real question by number, its options in their canonical slots."""
    item = Item.objects.filter(study=study, kind=Item.Kind.REAL).order_by("number").first()
    if item is None:
        return None
    keys = item.options.order_by("slot").values_list("key", flat=True)
    return {"digit": item.digit, "images": _numbered_pictures(keys), "number": item.number}
