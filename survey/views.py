"""Participant pages: landing (consent or MTurk preview), instructions, questions, finish.

Each view checks its input with a form, calls one service, and renders. Everything a
participant sees was decided when they started; the browser only sends the position it chose
for the item it was shown. Errors are pages with a 4xx status, logged, and change nothing.
"""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from . import services
from .forms import AnswerForm, ConsentForm, EntryForm
from .models import Item, Participant, Study, StudyImage
from .pictures import picture
from .platforms import mturk, prolific
from .prepared import PreparedQuery
from .security import participant_page
from .tokens import BadToken, make_token, read_token

logger = logging.getLogger(__name__)

DIRECT_COOKIE = "survey_{slug}"  # first-party only: lets a direct-link participant resume


class SeeOther(HttpResponseRedirect):
    status_code = 303  # after a POST: the browser GETs the next page, so refresh never re-posts


def error_page(request: HttpRequest, status: int, title: str, message: str, study: Study | None = None) -> HttpResponse:
    logger.warning("%s %s -> %s: %s (%s)", request.method, request.path, status, title, message)
    return render(request, "survey/error.html", {"title": title, "message": message, "study": study}, status=status)


_STUDY_FIELDS = [f.attname for f in Study._meta.concrete_fields]
_PARTICIPANT_FIELDS = [f.attname for f in Participant._meta.concrete_fields]
# Every participant request reads these rows: compiled once per worker thread (survey.prepared).
_study_by_slug = PreparedQuery(
    lambda slug: Study.objects.filter(slug=slug).order_by().values_list(*_STUDY_FIELDS)[:1], str
)
_participant_with_study = PreparedQuery(
    lambda public_id: (
        Participant.objects.filter(public_id=public_id)
        .order_by()
        .values_list(*_PARTICIPANT_FIELDS, *(f"study__{name}" for name in _STUDY_FIELDS))[:1]
    ),
    uuid.UUID,
)


def _study(slug: str) -> Study | None:
    rows = _study_by_slug(slug)
    return Study.from_db(_study_by_slug.using, _STUDY_FIELDS, rows[0]) if rows else None


def _participant(public_id: uuid.UUID) -> Participant | None:
    """The participant with their study (one query, as select_related would)."""
    rows = _participant_with_study(public_id)
    if not rows:
        return None
    split = len(_PARTICIPANT_FIELDS)
    participant = Participant.from_db(_participant_with_study.using, _PARTICIPANT_FIELDS, rows[0][:split])
    participant.study = Study.from_db(_participant_with_study.using, _STUDY_FIELDS, rows[0][split:])
    return participant


def _unknown_study(request: HttpRequest, slug: str) -> HttpResponse:
    return error_page(request, 404, "No such study", f"There is no study called “{slug}”. Please check the link.")


def _participant_url(participant: Participant, name: str = "survey:home", **kwargs) -> str:
    return reverse(name, kwargs={"slug": participant.study.slug, "token": make_token(participant.public_id), **kwargs})


_example_key = PreparedQuery(
    lambda study_id: (
        StudyImage.objects.filter(study_id=study_id, role=StudyImage.Role.EXAMPLE).order_by("pk").values_list("key")[:1]
    ),
    int,
)


def _example_picture(study: Study) -> str | None:
    """The instructions example's ``data:`` URL (its key is read; its picture is built once per worker)."""
    rows = _example_key(study.pk)
    return picture(rows[0][0]) if rows else None


# --- the site root -----------------------------------------------------------------------------


@participant_page
@require_safe
def site_root(request: HttpRequest) -> HttpResponse:
    """A neutral page: anyone may land here, so it names no method and links to nothing of the study's."""
    return render(request, "survey/site_root.html", {"is_staff": request.user.is_staff})


# --- landing, consent and start ----------------------------------------------------------------


@participant_page
@require_safe
def landing(request: HttpRequest, slug: str) -> HttpResponse:
    """The study link: MTurk preview, or the consent page (or a refusal)."""
    study = _study(slug)
    if study is None:
        return _unknown_study(request, slug)
    form = EntryForm(request.GET)
    if not form.is_valid():
        return error_page(request, 400, "This link is incomplete or damaged", _form_problem(form), study)
    if form.is_preview:
        return _preview(request, study)
    params = form.params()
    try:
        services.check_can_start(study, params)
    except services.SurveyError as exc:
        return error_page(request, exc.status, exc.title, exc.message, study)
    existing = services.find_participant(study, params) or _direct_participant(request, study, params)
    if existing is not None and existing.is_finished:
        return error_page(
            request,
            403,
            services.AlreadyTookPart.title,
            "You have already completed this study; it can be taken only once. Thank you!",
            study,
        )
    context = {"study": study, "hidden": form.hidden_values(), "form": ConsentForm(), "resuming": existing is not None}
    return render(request, "survey/consent.html", context)


def _direct_participant(request: HttpRequest, study: Study, params: services.EntryParams) -> Participant | None:
    if params.platform != Participant.Platform.DIRECT:
        return None
    token = request.COOKIES.get(DIRECT_COOKIE.format(slug=study.slug))
    if not token:
        return None
    try:
        public_id = read_token(token)
    except BadToken:
        return None
    return Participant.objects.filter(public_id=public_id, study=study, platform=Participant.Platform.DIRECT).first()


def _preview(request: HttpRequest, study: Study) -> HttpResponse:
    """What a worker sees before accepting the HIT: instructions and a sample, nothing stored."""
    sample = Item.objects.filter(study=study, kind=Item.Kind.REAL).order_by("number").first()
    keys = list(sample.options.values_list("key", flat=True)) if sample else []
    # Slots are in the methods' fixed order: a fresh random order per preview tells nothing.
    random.shuffle(keys)
    context = {
        "study": study,
        "example": _example_picture(study),
        "sample": {"digit": sample.digit if sample else 0, "images": _numbered_pictures(keys)},
    }
    return render(request, "survey/preview.html", context)


@participant_page
@require_POST
def start(request: HttpRequest, slug: str) -> HttpResponse:
    """Consent given: create (or resume) the participation and go to the instructions."""
    study = _study(slug)
    if study is None:
        return _unknown_study(request, slug)
    form = ConsentForm(request.POST)
    if not form.is_valid():
        if set(form.errors) == {"consent"}:
            hidden = {k: v for k, v in form.cleaned_data.items() if v and k != "consent"}
            context = {"study": study, "hidden": hidden, "form": form, "resuming": False}
            return render(request, "survey/consent.html", context, status=400)
        return error_page(request, 400, "This link is incomplete or damaged", _form_problem(form), study)
    if form.is_preview:
        return error_page(
            request,
            400,
            "Please accept the HIT first",
            "This is a preview. Accept the HIT on Mechanical Turk to take part.",
            study,
        )
    params = form.params()
    returning = _direct_participant(request, study, params)
    if returning is not None and not returning.is_finished:  # a direct-link participant coming back
        return SeeOther(_participant_url(returning))
    try:
        participant, _ = services.start_participant(study, params, request.headers.get("User-Agent", ""))
    except services.SurveyError as exc:
        return error_page(request, exc.status, exc.title, exc.message, study)
    response = SeeOther(_participant_url(participant))
    if participant.platform == Participant.Platform.DIRECT:
        response.set_cookie(
            DIRECT_COOKIE.format(slug=study.slug),
            make_token(participant.public_id),
            max_age=settings.SURVEY_TOKEN_MAX_AGE,
            secure=request.is_secure(),
            httponly=True,
            samesite="Lax",
        )
    return response


def _form_problem(form) -> str:
    problems = [
        f"{name}: {' '.join(errors)}" if name != "__all__" else " ".join(errors) for name, errors in form.errors.items()
    ]
    return "; ".join(problems) or "The link's parameters are not valid."


# --- the participant's own pages (identified by the signed token) --------------------------------


def with_participant(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Resolve ``token`` to the participant, or answer 403 (forged, expired, another study's)."""

    @wraps(view)
    def wrapped(request: HttpRequest, slug: str, token: str, **kwargs) -> HttpResponse:
        try:
            public_id = read_token(token)
        except BadToken as exc:
            return error_page(
                request,
                403,
                "This link is not valid",
                f"The participant link is {'too old' if str(exc) == 'expired' else 'not valid'}. "
                "Please open the study again from its original link.",
            )
        participant = _participant(public_id)
        if participant is None or participant.study.slug != slug:
            return error_page(
                request, 403, "This link is not valid", "This participant link does not belong to this study."
            )
        return view(request, participant, **kwargs)

    return wrapped


@participant_page
@require_safe
@with_participant
def home(request: HttpRequest, participant: Participant) -> HttpResponse:
    """The instructions before the first question; afterwards, straight back to where they were."""
    if participant.is_finished:
        return HttpResponseRedirect(_participant_url(participant, "survey:finish"))
    position = services.next_position(participant)
    if position is None:
        services.finish_participant(participant)
        return HttpResponseRedirect(_participant_url(participant, "survey:finish"))
    if position > 1 and "instructions" not in request.GET:
        return HttpResponseRedirect(_participant_url(participant, "survey:question", position=position))
    context = {
        "study": participant.study,
        "participant": participant,
        "example": _example_picture(participant.study),
        "next_url": _participant_url(participant, "survey:question", position=position),
        "resume_url": request.build_absolute_uri(_participant_url(participant)),
        "resuming": position > 1,
    }
    return render(request, "survey/instructions.html", context)


@participant_page
@require_http_methods(["GET", "HEAD", "POST"])
@with_participant
def question(request: HttpRequest, participant: Participant, position: int) -> HttpResponse:
    if request.method == "POST":
        return _answer(request, participant, position)
    if participant.is_finished:
        return HttpResponseRedirect(_participant_url(participant, "survey:finish"))
    current = services.current_question(participant)
    if current is None:
        services.finish_participant(participant)
        return HttpResponseRedirect(_participant_url(participant, "survey:finish"))
    if position != current.position:  # back button, an old tab, a guessed URL: go to the question due
        return HttpResponseRedirect(_participant_url(participant, "survey:question", position=current.position))
    return _render_question(request, participant, current)


def _numbered_pictures(keys) -> list[tuple[int, str]]:
    """(option number from 1, the option's picture as a ``data:`` URL) for the options template."""
    return [(number, picture(key)) for number, key in enumerate(keys, start=1)]


def _render_question(
    request, participant: Participant, q: services.Question, form: AnswerForm | None = None, status: int = 200
):
    context = {
        "study": participant.study,
        "q": q,
        "images": _numbered_pictures(q.option_keys),
        "form": form,
        "action": _participant_url(participant, "survey:question", position=q.position),
        "percent": round(100 * (q.position - 1) / q.total),
    }
    return render(request, "survey/question.html", context, status=status)


def _answer(request: HttpRequest, participant: Participant, position: int) -> HttpResponse:
    form = AnswerForm(request.POST)
    if not form.is_valid():
        if form.only_choice_missing and not participant.is_finished:
            try:
                q = services.show_question(participant, position)
            except services.SurveyError as exc:
                return error_page(request, exc.status, exc.title, exc.message, participant.study)
            if q.item_id == form.cleaned_data["item"]:
                return _render_question(request, participant, q, form, status=400)
        return error_page(request, 400, "The answer could not be read", _form_problem(form), participant.study)
    try:
        result = services.record_answer(participant, position, form.cleaned_data["item"], form.cleaned_data["choice"])
    except services.SurveyError as exc:
        return error_page(request, exc.status, exc.title, exc.message, participant.study)
    if result.finished or result.next_position is None:
        return SeeOther(_participant_url(participant, "survey:finish"))
    return SeeOther(_participant_url(participant, "survey:question", position=result.next_position))


@participant_page
@require_safe
@with_participant
def finish(request: HttpRequest, participant: Participant) -> HttpResponse:
    if not participant.is_finished:
        position = services.next_position(participant)
        if position is not None:
            return HttpResponseRedirect(_participant_url(participant, "survey:question", position=position))
        participant = services.finish_participant(participant)
    study = participant.study
    if participant.platform == Participant.Platform.PROLIFIC:
        return HttpResponseRedirect(prolific.completion_url(study, participant))
    context = {"study": study, "participant": participant}
    if participant.platform == Participant.Platform.MTURK:
        context.update(
            submit_url=mturk.submit_url(participant.turk_submit_to),
            completion_field=mturk.COMPLETION_FIELD,
        )
    return render(request, "survey/finish.html", context)
