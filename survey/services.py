"""Writes that carry the study's rules: building studies, starting, answering, finishing.

Views and commands call these functions and nothing else writes survey data. Each rule is also
backed by a database constraint (see models.py), so a bug here or a race between two requests
ends in an IntegrityError, never in a duplicate or a corrupted answer.
"""
from __future__ import annotations

import logging
import math
import random
import secrets
import statistics
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Sequence

from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Exists, OuterRef, Q, Subquery
from django.utils import timezone

from explainers.models import ClassMap, ExplanationSet, MethodName

from . import sheets
from .prepared import PreparedQuery, update_query
from .models import (
    DIGITS,
    MAX_OPTIONS,
    MAX_QUESTIONS,
    MIN_OPTIONS,
    Answer,
    Item,
    ItemOption,
    Participant,
    SheetEntry,
    ShownOption,
    Study,
    StudyImage,
    default_consent,
    paper_methods,
)

if TYPE_CHECKING:
    import numpy as np

# survey.attention (NumPy, Pillow, matplotlib) is imported inside the functions that build studies:
# participants' pages import this module and must stay light (a fresh worker answers at once).

logger = logging.getLogger(__name__)

DEMO_SLUG = "demo"
#: Real questions a study has unless told otherwise: at least this many (the paper's 20).
MIN_DEFAULT_REAL_QUESTIONS = 20


# --- errors ---------------------------------------------------------------------------------


class SurveyError(Exception):
    """A request the rules refuse; ``status`` is the HTTP status a view answers with."""

    status = 400
    title = "Request refused"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class StudyNotOpen(SurveyError):
    status = 403
    title = "This study is not taking participants"


class PlatformNotAccepted(SurveyError):
    status = 403
    title = "This study is not run on that platform"


class AlreadyTookPart(SurveyError):
    status = 403
    title = "You have already taken part"


class AssignmentTaken(SurveyError):
    status = 409
    title = "This assignment belongs to another participant"


class NotOnSheet(SurveyError):
    status = 400
    title = "This question is not on your sheet"


class InvalidChoice(SurveyError):
    status = 400
    title = "Not one of the images"


class OutOfOrder(SurveyError):
    status = 409
    title = "Please answer the questions in order"


class NotComplete(SurveyError):
    status = 409
    title = "The survey is not complete yet"


class StudyLocked(SurveyError):
    status = 409
    title = "The study's questions can no longer change"


class BadStudyInput(SurveyError):
    status = 400
    title = "The study cannot be built"


class MissingIdentity(SurveyError):
    status = 400
    title = "The link does not say who you are"


class ImportRefused(SurveyError):
    """Imported participants that break the survey's rules; nothing was written.

    ``problems`` are (index of the participant in the list given, message), in that order.
    """

    title = "The participants cannot be imported"

    def __init__(self, problems: list[tuple[int, str]]):
        super().__init__(problems[0][1] if len(problems) == 1 else f"{problems[0][1]} (and {len(problems) - 1} more)")
        self.problems = problems


# --- studies ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class EntryParams:
    """Who a participant is on their platform, as their link said (validated by the form)."""

    platform: str
    worker_id: str = ""
    assignment_id: str = ""
    hit_id: str = ""
    turk_submit_to: str = ""
    prolific_pid: str = ""
    prolific_study_id: str = ""
    prolific_session_id: str = ""


def real_question_block(n_methods: int) -> int:
    """The number of real questions must be a multiple of this: lcm(10, k).

    Every digit equally often needs a multiple of 10; every method in every position equally
    often needs a multiple of k (the rows of a Latin square of order k, dealt equally often).
    The Williams square :func:`survey.sheets.deal_rows` uses has k rows for even k and 2k for
    odd k, and 2k divides lcm(10, k) for odd k too (10 is even), so one rule covers both.
    """
    return math.lcm(DIGITS, n_methods)


def default_real_questions(n_methods: int) -> int:
    """The smallest valid number of real questions that is at least 20 (20 for the paper's four)."""
    block = real_question_block(n_methods)
    return block * math.ceil(MIN_DEFAULT_REAL_QUESTIONS / block)


def parse_methods(text: str) -> tuple[str, ...]:
    """``"normlime,lime,ig"`` as a tuple of names (spaces ignored; checked by :func:`check_methods`)."""
    return tuple(name.strip() for name in text.split(",") if name.strip())


def check_method_names(methods: Sequence[str]) -> tuple[str, ...]:
    """``methods`` if they can be a study's (2 to 6 different registered names); else :class:`BadStudyInput`."""
    methods = tuple(methods)
    if not MIN_OPTIONS <= len(methods) <= MAX_OPTIONS:
        raise BadStudyInput(f"{len(methods)} methods ({', '.join(methods) or 'none'}): "
                            f"a study compares {MIN_OPTIONS} to {MAX_OPTIONS}")
    repeated = sorted({m for m in methods if methods.count(m) > 1})
    if repeated:
        raise BadStudyInput(f"method(s) {', '.join(repeated)} named twice: give each method once")
    unknown = [m for m in methods if m not in MethodName.values]
    if unknown:
        raise BadStudyInput(f"unknown method(s) {', '.join(unknown)} (known: {', '.join(MethodName.values)})")
    return methods


def check_methods(explanation_set: ExplanationSet, methods: Sequence[str]) -> tuple[str, ...]:
    """``methods`` as a study's methods, or :class:`BadStudyInput` saying in one line what is wrong
    (see :func:`check_method_names`; the explanation set must also hold their maps of every digit)."""
    methods = check_method_names(methods)
    have = set(ClassMap.objects.filter(explanation_set=explanation_set, method__in=methods)
               .values_list("method", "digit"))
    missing = [f"{method} {digit}" for method in methods for digit in range(DIGITS) if (method, digit) not in have]
    if missing:
        raise BadStudyInput(f"explanation set {explanation_set.name} lacks the maps {', '.join(missing[:5])}"
                            + (f" (and {len(missing) - 5} more)" if len(missing) > 5 else ""))
    return methods


def create_study(
    explanation_set: ExplanationSet,
    name: str,
    slug: str,
    *,
    methods: Sequence[str] | None = None,
    n_real_questions: int | None = None,
    n_attention_checks: int = 5,
    pass_threshold: int = 4,
    status: str = Study.Status.DRAFT,
    seed: int | None = None,
    pictures: tuple[np.ndarray, np.ndarray] | None = None,
    mnist_dir: str | None = None,
    **platform_settings,
) -> Study:
    """A study of ``explanation_set``: its real questions, attention checks and images, all or nothing.

    ``methods``: the 2 to 6 methods compared, in the order of the canonical slots (default: the
    paper's four); ``n_real_questions`` defaults to :func:`default_real_questions` (20 for four).
    ``pictures`` is (typical, mean) digit images, 10 x 784 each; by default they come from the
    MNIST training data (the embedded subset unless ``mnist_dir``). The consent text, unless
    given, says how many questions and images there are.
    """
    methods = check_methods(explanation_set, paper_methods() if methods is None else methods)
    block = real_question_block(len(methods))
    if n_real_questions is None:
        n_real_questions = default_real_questions(len(methods))
    if n_real_questions < block or n_real_questions % block or n_real_questions > MAX_QUESTIONS - 10:
        raise BadStudyInput(f"{n_real_questions} real questions: with {len(methods)} methods use a multiple of "
                            f"{block} (every digit and every method in every position equally often), "
                            f"at most {MAX_QUESTIONS - 10}")
    if not 0 <= n_attention_checks <= 10:
        raise BadStudyInput(f"{n_attention_checks} attention checks: use 0 to 10")
    if not 0 <= pass_threshold <= n_attention_checks:
        raise BadStudyInput(f"pass threshold {pass_threshold}: use 0 to {n_attention_checks}")
    if Study.objects.filter(slug=slug).exists():
        raise BadStudyInput(f"a study with slug {slug!r} already exists")
    maps = {(m.method, m.digit): m for m in ClassMap.objects.filter(explanation_set=explanation_set, method__in=methods)}
    platform_settings.setdefault("consent_text", default_consent(n_real_questions + n_attention_checks, len(methods)))
    if pictures is None:
        from . import attention

        pictures = attention.digit_pictures(mnist_dir)
    seed = secrets.randbits(31) if seed is None else seed
    with transaction.atomic():
        study = Study.objects.create(
            explanation_set=explanation_set,
            name=name,
            slug=slug,
            methods=list(methods),
            n_real_questions=n_real_questions,
            n_attention_checks=n_attention_checks,
            pass_threshold=pass_threshold,
            status=status,
            seed=seed,
            **platform_settings,
        )
        _build_items(study, maps, pictures, random.Random(seed))
    logger.info("created study %s of %s from explanation set %s", study.slug, ", ".join(methods), explanation_set.name)
    return study


def _build_items(study: Study, maps: dict, pictures: tuple[np.ndarray, np.ndarray], rng: random.Random) -> None:
    from . import attention

    typical, means = pictures
    images = {
        key: StudyImage.objects.create(
            study=study, role=StudyImage.Role.MAP, method=key[0], digit=key[1], class_map=cm, png=bytes(cm.png),
            description=f"{key[0]} map of digit {key[1]}",
        )
        for key, cm in maps.items()
    }
    repeats = study.n_real_questions // DIGITS
    checks = attention.plan_checks(study.n_attention_checks, rng, study.n_options)
    planned = [(number, Item.Kind.REAL, (number - 1) // repeats, None) for number in range(1, study.n_real_questions + 1)]
    planned += [(study.n_real_questions + offset + 1, Item.Kind.ATTENTION, plan.digit, plan)
                for offset, plan in enumerate(checks)]
    # Rows are written in a random order: item ids reach participants' pages (the answer form),
    # and ids in numbering order would put every attention check after the real questions.
    rng.shuffle(planned)
    check_images: dict[int, StudyImage] = {}

    def picture(digit: int) -> StudyImage:
        if digit not in check_images:
            check_images[digit] = StudyImage.objects.create(
                study=study, role=StudyImage.Role.CHECK, digit=digit, png=attention.digit_png(typical[digit]),
                description=f"typical handwritten {digit}",
            )
        return check_images[digit]

    options = []
    for number, kind, digit, plan in planned:
        item = Item.objects.create(study=study, number=number, kind=kind, digit=digit)
        if plan is None:
            options += [
                ItemOption(item=item, slot=slot, method=method, image=images[(method, digit)])
                for slot, method in enumerate(study.methods)
            ]
        else:
            shown = [(picture(plan.digit), True), *((picture(d), False) for d in plan.distractors)]
            options += [ItemOption(item=item, slot=slot, image=image, is_correct=ok) for slot, (image, ok) in enumerate(shown)]
    ItemOption.objects.bulk_create(options)
    StudyImage.objects.create(
        study=study, role=StudyImage.Role.EXAMPLE, digit=attention.EXAMPLE_DIGIT,
        png=attention.example_png(typical, means), description="instructions example (Fig. 3)",
    )


def create_demo_study(explanation_set: ExplanationSet, pictures: tuple[np.ndarray, np.ndarray] | None = None) -> Study:
    """The open study ``demo`` of ``explanation_set`` (created once; later calls return it unchanged)."""
    existing = Study.objects.filter(slug=DEMO_SLUG).first()
    if existing is not None:
        if existing.explanation_set_id != explanation_set.pk:
            logger.warning("demo study already exists for explanation set %s; keeping it", existing.explanation_set)
        return existing
    try:
        return create_study(
            explanation_set, name="Demo study", slug=DEMO_SLUG, status=Study.Status.OPEN, seed=0, pictures=pictures
        )
    except BadStudyInput:
        existing = Study.objects.filter(slug=DEMO_SLUG).first()
        if existing is None:  # a real problem (missing maps), not a concurrent creation
            raise
        return existing


def set_study_status(study: Study, status: str) -> Study:
    if status not in Study.Status.values:
        raise BadStudyInput(f"unknown status {status!r} (use {', '.join(Study.Status.values)})")
    Study.objects.filter(pk=study.pk).update(status=status, updated_at=timezone.now())
    study.refresh_from_db()
    logger.info("study %s is now %s", study.slug, status)
    return study


def replace_attention_check(
    study: Study, number: int, digit: int, correct_picture: bytes, distractor_pictures: Sequence[bytes]
) -> Item:
    """Replace attention check ``number``: a question about ``digit`` with the given pictures.

    Pictures are any image files (PNG, JPEG...), drawn at 28x28 in the maps' colours, so all
    the options look alike except for what they show; a study of k methods needs k - 1
    distractors. Refused once anyone has started.
    """
    if len(distractor_pictures) != study.n_options - 1:
        raise BadStudyInput(f"give {study.n_options - 1} distractor pictures, not {len(distractor_pictures)}")
    if not 0 <= digit <= 9:
        raise BadStudyInput(f"digit {digit}: use 0 to 9")
    from . import attention

    try:
        pngs = [attention.digit_png(attention.picture_values(data)) for data in (correct_picture, *distractor_pictures)]
    except ValueError as exc:
        raise BadStudyInput(f"picture: {exc}") from None
    with transaction.atomic():
        locked = Study.objects.select_for_update().get(pk=study.pk)
        if locked.participants.exists():
            raise StudyLocked(f"study {study.slug} has participants; its questions are what they were shown")
        item = Item.objects.filter(study=locked, number=number, kind=Item.Kind.ATTENTION).first()
        if item is None:
            raise BadStudyInput(f"study {study.slug} has no attention check number {number}")
        old_images = set(item.options.values_list("image_id", flat=True))
        item.options.all().delete()
        item.digit = digit
        item.save(update_fields=["digit"])
        for slot, png in enumerate(pngs):
            image = StudyImage.objects.create(
                study=locked, role=StudyImage.Role.CHECK, digit=digit if slot == 0 else None, png=png,
                description="researcher's correct picture" if slot == 0 else "researcher's distractor",
            )
            ItemOption.objects.create(item=item, slot=slot, image=image, is_correct=slot == 0)
        StudyImage.objects.filter(pk__in=old_images, options__isnull=True).delete()
    logger.info("replaced attention check %s of study %s (digit %s)", number, study.slug, digit)
    return item


# --- participants -----------------------------------------------------------------------------


def check_identity(params: EntryParams) -> None:
    """The ids each platform needs to know who someone is; raises :class:`MissingIdentity`."""
    if params.platform not in Participant.Platform.values:
        raise MissingIdentity(f"platform {params.platform!r} is not one of {', '.join(Participant.Platform.values)}")
    if params.platform == Participant.Platform.MTURK and not (params.worker_id and params.assignment_id and params.hit_id):
        raise MissingIdentity("an MTurk participant needs worker_id, assignment_id and hit_id")
    if params.platform == Participant.Platform.PROLIFIC and not params.prolific_pid:
        raise MissingIdentity("a Prolific participant needs prolific_pid")


# Who a person is on each platform that can tell: (what the id is called, the field holding it).
# A direct link cannot tell, so each visit is a new participant.
_PERSON_ID: dict[str, tuple[str, str]] = {
    Participant.Platform.MTURK: ("worker", "worker_id"),
    Participant.Platform.PROLIFIC: ("Prolific participant", "prolific_pid"),
}


def _identity(study: Study, params: EntryParams) -> dict | None:
    """The lookup that finds this person's earlier participation (None for direct links)."""
    if params.platform not in _PERSON_ID:
        return None
    _, field_name = _PERSON_ID[params.platform]
    return {"study": study, "platform": params.platform, field_name: getattr(params, field_name)}


def _identity_keys(params: EntryParams) -> list[tuple[str, str]]:
    """What no two participants of a study may share, as (what, id); an MTurk assignment not even across studies."""
    if params.platform not in _PERSON_ID:
        return []
    what, field_name = _PERSON_ID[params.platform]
    keys = [(what, getattr(params, field_name))]
    if params.platform == Participant.Platform.MTURK:
        keys.append(("assignment", params.assignment_id))
    return keys


_PARTICIPANT_FIELDS = [f.attname for f in Participant._meta.concrete_fields]
# The landing page and the consent look a person up on every start: compiled once per worker thread.
_participant_by_identity = {
    field_name: PreparedQuery(
        lambda study_id, platform, value, field_name=field_name: Participant.objects.filter(
            study_id=study_id, platform=platform, **{field_name: value}
        ).order_by().values_list(*_PARTICIPANT_FIELDS)[:1],
        int, str, str,
    )
    for _, field_name in _PERSON_ID.values()
}


def find_participant(study: Study, params: EntryParams) -> Participant | None:
    identity = _identity(study, params)
    if identity is None:
        return None
    _, field_name = _PERSON_ID[params.platform]
    rows = _participant_by_identity[field_name](study.pk, params.platform, identity[field_name])
    if not rows:
        return None
    participant = Participant.from_db(_participant_by_identity[field_name].using, _PARTICIPANT_FIELDS, rows[0])
    participant.study = study
    return participant


def check_new_identity(study: Study, params: EntryParams) -> None:
    """Refuse a person who already took part in ``study``, or an MTurk assignment already in use."""
    check_identity(params)
    earlier = find_participant(study, params)
    if earlier is not None:
        what, field_name = _PERSON_ID[params.platform]
        raise AlreadyTookPart(f"{what} {getattr(params, field_name)!r} already took part in study {study.slug}")
    if params.platform == Participant.Platform.MTURK and Participant.objects.filter(
        platform=params.platform, assignment_id=params.assignment_id
    ).exists():
        raise AssignmentTaken(f"assignment {params.assignment_id!r} is already a participant's "
                              "(MTurk assignments are unique across studies)")


def check_can_start(study: Study, params: EntryParams) -> None:
    if not study.is_open:
        raise StudyNotOpen(f"study {study.slug} is {study.status}")
    accepted = {
        Participant.Platform.MTURK: study.accept_mturk,
        Participant.Platform.PROLIFIC: study.accept_prolific,
        Participant.Platform.DIRECT: study.accept_direct,
    }
    if not accepted[params.platform]:
        raise PlatformNotAccepted(f"study {study.slug} does not accept {params.platform} participants")


def start_participant(
    study: Study, params: EntryParams, user_agent: str = "", now: datetime | None = None
) -> tuple[Participant, bool]:
    """The participant for ``params``, created with their sheet if new; (participant, created).

    A returning worker resumes their own participation (on MTurk, under the new assignment
    if they came back through another one); one who finished is refused. Two simultaneous
    starts of one worker give one participant.
    """
    check_identity(params)
    check_can_start(study, params)
    identity = _identity(study, params)
    existing = find_participant(study, params)
    if existing is not None:
        return _resume(existing, params), False
    now = now or timezone.now()
    try:
        with transaction.atomic():
            participant = Participant.objects.create(
                study=study,
                platform=params.platform,
                worker_id=params.worker_id,
                assignment_id=params.assignment_id,
                hit_id=params.hit_id,
                turk_submit_to=params.turk_submit_to,
                prolific_pid=params.prolific_pid,
                prolific_study_id=params.prolific_study_id,
                prolific_session_id=params.prolific_session_id,
                user_agent=user_agent[:400],
                sheet_seed=secrets.randbits(63),
                started_at=now,
            )
            build_sheet(participant)
    except IntegrityError:
        existing = Participant.objects.filter(**identity).first() if identity else None
        if existing is None:
            logger.warning("start refused: assignment %s of worker %s is another participant's",
                           params.assignment_id, params.worker_id)
            raise AssignmentTaken(f"assignment {params.assignment_id} is already in use") from None
        return _resume(existing, params), False
    logger.info("participant %s started study %s (%s)", participant.public_id, study.slug, params.platform)
    return participant, True


def _resume(participant: Participant, params: EntryParams) -> Participant:
    if participant.is_finished:
        logger.info("participant %s (%s) tried to take study %s again", participant.public_id,
                    participant.external_id, participant.study.slug)
        raise AlreadyTookPart("you have already completed this study; it can be taken only once")
    if params.platform == Participant.Platform.MTURK and participant.assignment_id != params.assignment_id:
        # The worker returned the earlier assignment and accepted a new one: their answers
        # carry over and the new assignment is the one to submit and pay.
        try:
            with transaction.atomic():
                Participant.objects.filter(pk=participant.pk).update(
                    assignment_id=params.assignment_id, hit_id=params.hit_id, turk_submit_to=params.turk_submit_to
                )
        except IntegrityError:
            raise AssignmentTaken(f"assignment {params.assignment_id} is already in use") from None
        logger.info("participant %s moved from assignment %s to %s", participant.public_id,
                    participant.assignment_id, params.assignment_id)
        participant.refresh_from_db()
    return participant


_study_items = PreparedQuery(
    lambda study_id: Item.objects.filter(study_id=study_id).order_by("number").values_list("id", "kind", "digit"), int
)
_study_options = PreparedQuery(
    lambda study_id: ItemOption.objects.filter(item__study_id=study_id).order_by().values_list("id", "item_id", "slot"),
    int,
)


def build_sheet(participant: Participant) -> None:
    """Write the participant's sheet: order of the items and the option at every position.

    Called once, inside :func:`start_participant`; drawn from the participant's stored seed.
    """
    study = participant.study
    items = _study_items(study.pk)
    real = [(item_id, digit) for item_id, kind, digit in items if kind == Item.Kind.REAL]
    checks = [item_id for item_id, kind, _ in items if kind == Item.Kind.ATTENTION]
    plan = sheets.plan_sheet(real, checks, study.n_options, random.Random(participant.sheet_seed))
    option_ids = {(item_id, slot): option_id for option_id, item_id, slot in _study_options(study.pk)}
    _insert_sheet(participant.pk, [(p.position, p.item_id) for p in plan],
                  [(p.position, index + 1, option_ids[(p.item_id, slot)]) for p in plan for index, slot in enumerate(p.slots)])


def _insert_sheet(participant_id: int, entries: list[tuple[int, int]], shown: list[tuple[int, int, int]]) -> None:
    """Two INSERT statements: the entries (position, item), then every shown option (entry position, position, option).

    Plain SQL, not ``bulk_create``: building and compiling the 125 model instances of a
    25-question sheet took two thirds of a start's CPU (``benchmarks/participant_cpu.py
    --profile start``). The options find their entry by (participant, position), the sheet's
    unique key, in one INSERT ... SELECT; the first VALUES row carries the column types.
    The values are integer literals, not parameters: psycopg parses a statement of more than
    50 parameters afresh on every call (it caches only smaller ones), which was about a fifth
    of the consent POST's CPU (7.6 -> 6.0 ms in process); ``int`` makes each literal safe to
    write into the SQL.
    """
    ops = connection.ops
    entry, option = SheetEntry._meta, ShownOption._meta
    column = lambda meta, name: ops.quote_name(meta.get_field(name).column)  # noqa: E731

    def values(rows) -> str:
        rows = [tuple(map(int, row)) for row in rows]
        first = "(CAST(%d AS INTEGER), CAST(%d AS INTEGER), CAST(%d AS INTEGER))" % rows[0]
        return ", ".join([first] + ["(%d, %d, %d)" % row for row in rows[1:]])

    participant_id = int(participant_id)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {ops.quote_name(entry.db_table)} "
            f"({column(entry, 'participant')}, {column(entry, 'position')}, {column(entry, 'item')}) "
            f"VALUES {values((participant_id, position, item_id) for position, item_id in entries)}"
        )
        cursor.execute(
            f"INSERT INTO {ops.quote_name(option.db_table)} "
            f"({column(option, 'entry')}, {column(option, 'position')}, {column(option, 'option')}) "
            f"SELECT e.{ops.quote_name(entry.pk.column)}, v.column2, v.column3 "
            f"FROM (VALUES {values(shown)}) AS v "
            f"JOIN {ops.quote_name(entry.db_table)} e ON e.{column(entry, 'participant')} = {participant_id} "
            f"AND e.{column(entry, 'position')} = v.column1"
        )


_next_position = PreparedQuery(
    lambda participant_id: SheetEntry.objects.filter(participant_id=participant_id, answer__isnull=True)
    .order_by("position").values_list("position")[:1],
    int,
)


def next_position(participant: Participant) -> int | None:
    """The first unanswered position of the sheet (None when all are answered)."""
    rows = _next_position(participant.pk)
    return rows[0][0] if rows else None


@dataclass(frozen=True)
class Question:
    entry_id: int
    position: int
    total: int
    item_id: int
    digit: int
    is_attention: bool
    option_keys: tuple[str, ...]  # picture keys of the options at positions 1..k (unique per option)


_QUESTION_COLUMNS = ("entry_id", "entry__position", "entry__shown_at", "entry__item_id", "entry__item__digit",
                     "entry__item__kind", "option__key")
# The hot queries of a participant's question pages, compiled once per worker thread (survey.prepared).
_question_at = PreparedQuery(
    lambda participant_id, position: ShownOption.objects.filter(
        entry__participant_id=participant_id, entry__position=position
    ).order_by("position").values_list(*_QUESTION_COLUMNS),
    int, int,
)
_first_open_position = SheetEntry.objects.filter(
    participant_id=OuterRef("entry__participant_id"), answer__isnull=True
).order_by("position").values("position")[:1]
_current_question = PreparedQuery(
    lambda participant_id: ShownOption.objects.filter(
        entry__participant_id=participant_id, entry__position=Subquery(_first_open_position)
    ).order_by("position").values_list(*_QUESTION_COLUMNS),
    int,
)
_mark_shown = PreparedQuery(  # conditional: a refresh, or two tabs, keep the first time shown
    lambda entry_id, now: update_query(SheetEntry.objects.filter(pk=entry_id, shown_at__isnull=True), shown_at=now),
    int, datetime,
)


def _question(participant: Participant, rows: list[tuple], now: datetime | None) -> Question:
    entry_id, position, shown_at, item_id, digit, kind, _ = rows[0]
    if shown_at is None:
        _mark_shown(entry_id, now or timezone.now())
    return Question(
        entry_id=entry_id,
        position=position,
        total=participant.study.n_questions,
        item_id=item_id,
        digit=digit,
        is_attention=kind == Item.Kind.ATTENTION,
        option_keys=tuple(row[-1] for row in rows),
    )


def show_question(participant: Participant, position: int, now: datetime | None = None) -> Question:
    """The question at ``position`` as the participant sees it; records when it was first shown."""
    rows = _question_at(participant.pk, position) if 1 <= position <= MAX_QUESTIONS else []
    if not rows:
        raise NotOnSheet(f"position {position} is not on the sheet")
    return _question(participant, rows, now)


def current_question(participant: Participant, now: datetime | None = None) -> Question | None:
    """The first unanswered question, shown (one query); None when everything is answered."""
    rows = _current_question(participant.pk)
    return _question(participant, rows, now) if rows else None


@dataclass(frozen=True)
class AnswerResult:
    answer: Answer
    created: bool  # False: this item was answered before and nothing changed
    finished: bool  # the participant has now answered everything
    next_position: int | None


def answer_fields(kind: str, method: str, is_correct: bool) -> dict[str, str | bool | None]:
    """What an answer records of the option chosen: a real question's vote, or whether a check was passed."""
    if kind == Item.Kind.ATTENTION:
        return {"method": "", "correct": is_correct}
    return {"method": method, "correct": None}


def passes_checks(study: Study, checks_passed: int) -> bool:
    """The pass rule: at least the study's threshold of attention checks answered correctly."""
    return checks_passed >= study.pass_threshold


_lock_participant = PreparedQuery(  # one participant's answers are written one at a time (double submits wait)
    lambda participant_id: Participant.objects.select_for_update().filter(pk=participant_id).order_by().values_list("status"),
    int,
)
_shown_option = PreparedQuery(
    lambda participant_id, position, choice: ShownOption.objects.filter(
        entry__participant_id=participant_id, entry__position=position, position=choice
    ).annotate(earlier_open=Exists(SheetEntry.objects.filter(
        participant_id=OuterRef("entry__participant_id"), position__lt=OuterRef("entry__position"), answer__isnull=True
    ))).order_by().values_list("id", "entry_id", "entry__item_id", "entry__item__kind", "entry__shown_at", "entry__answer__id",
                    "entry__answer__position", "option__method", "option__is_correct", "earlier_open"),
    int, int, int,
)


def record_answer(
    participant: Participant, position: int, item_id: int, choice: int, now: datetime | None = None
) -> AnswerResult:
    """Store the participant's choice (on-screen position 1 to k) for the item at ``position``.

    The first answer to an item counts; sending it again, or another choice, changes nothing.
    The item must be the one the sheet has at ``position`` (a tampered form is refused), it must
    have been shown, and the questions are answered in the sheet's order. The last answer
    finishes the participation.
    """
    n_options = participant.study.n_options
    if not 1 <= choice <= n_options:
        logger.warning("participant %s: choice %r out of range", participant.public_id, choice)
        raise InvalidChoice(f"choice {choice} is not between 1 and {n_options}")
    total = participant.study.n_questions
    with transaction.atomic():
        # One participant's answers are written one at a time (double submits wait here).
        # The queries read only the columns they need: compiling SQL is most of a request's CPU.
        ((status,),) = _lock_participant(participant.pk)
        # The option at the chosen position, with its entry, item, any earlier answer and whether
        # an earlier question is still open: one query (not on the sheet: none).
        shown = _shown_option(participant.pk, position, choice) if 1 <= position <= MAX_QUESTIONS else []
        if not shown or shown[0][2] != item_id:
            logger.warning("participant %s: item %s is not at position %s of the sheet (tampered or replayed form)",
                           participant.public_id, item_id, position)
            raise NotOnSheet(f"item {item_id} is not question {position} of this participant's sheet")
        shown_id, entry_id, _, kind, shown_at, answer_id, answer_position, method, is_correct, earlier_open = shown[0]
        if answer_id is not None:
            if answer_position != choice:
                logger.info("participant %s: second answer (%s) to question %s ignored; the first (%s) stands",
                            participant.public_id, choice, position, answer_position)
            return AnswerResult(
                Answer.objects.get(pk=answer_id), created=False,
                finished=status == Participant.Status.FINISHED, next_position=next_position(participant),
            )
        if earlier_open:
            expected = next_position(participant)
            logger.warning("participant %s: answer to question %s while %s is unanswered",
                           participant.public_id, position, expected)
            raise OutOfOrder(f"question {expected} comes before question {position}")
        if shown_at is None:
            logger.warning("participant %s: answer to question %s that was never shown", participant.public_id, position)
            raise OutOfOrder(f"question {position} was never shown")
        now = max(now or timezone.now(), shown_at)
        answer = Answer.objects.create(
            participant_id=participant.pk,
            item_id=item_id,
            entry_id=entry_id,
            chosen_id=shown_id,
            position=choice,
            **answer_fields(kind, method, is_correct),
            shown_at=shown_at,
            answered_at=now,
        )
        # Answers come in the sheet's order, so the next unanswered question is the next one.
        upcoming = position + 1 if position < total else None
        finished = False
        if upcoming is None:
            finish_participant(participant, now)
            finished = True
    return AnswerResult(answer, created=True, finished=finished, next_position=upcoming)


def finish_participant(participant: Participant, now: datetime | None = None) -> Participant:
    """Mark the participation finished and score its attention checks (idempotent)."""
    with transaction.atomic():
        locked = Participant.objects.select_for_update(of=("self",)).select_related("study").get(pk=participant.pk)
        if locked.is_finished:
            return locked
        unanswered = SheetEntry.objects.filter(participant=locked, answer__isnull=True).count()
        if unanswered:
            raise NotComplete(f"{unanswered} questions are still unanswered")
        passed_checks = Answer.objects.filter(participant=locked, correct=True).count()
        locked.checks_passed = passed_checks
        locked.passed = passes_checks(locked.study, passed_checks)
        locked.status = Participant.Status.FINISHED
        locked.finished_at = max(now or timezone.now(), locked.started_at)
        locked.save(update_fields=["checks_passed", "passed", "status", "finished_at"])
    logger.info("participant %s finished study %s: %s of %s checks passed", locked.public_id, locked.study.slug,
                passed_checks, locked.study.n_attention_checks)
    return locked


def record_review(participant: Participant, review_status: str, now: datetime | None = None) -> None:
    Participant.objects.filter(pk=participant.pk).update(review_status=review_status, reviewed_at=now or timezone.now())


# --- participants who took the study elsewhere -------------------------------------------------


@dataclass(frozen=True)
class ImportedAnswer:
    """One answer given elsewhere, as the survey would have recorded it here."""

    position: int  # place of the question on the participant's sheet, 1..n
    item_id: int
    options: tuple[int, ...]  # ItemOption ids shown at on-screen positions 1..k
    choice: int  # on-screen position chosen, 1..k
    shown_at: datetime
    answered_at: datetime


@dataclass(frozen=True)
class ImportedParticipant:
    """Someone who took the study elsewhere: who they were there, and their answers."""

    imported_id: str  # their participant id where they took part (kept: a second import is refused)
    params: EntryParams
    finished: bool
    answers: tuple[ImportedAnswer, ...]
    public_id: uuid.UUID | None = None  # kept when no participant has it yet


def already_in_study(study: Study, ids: Sequence[str]) -> list[str]:
    """Those of ``ids`` (in the order given) that are participants of ``study`` already: imported
    under that id before, or -- a file exported from this very study -- their public id."""
    uuids = {}
    for text in ids:
        try:
            uuids[text] = uuid.UUID(text)
        except ValueError:
            pass
    found = Participant.objects.filter(study=study).filter(
        Q(imported_id__in=list(ids)) | Q(public_id__in=list(uuids.values()))
    ).values_list("imported_id", "public_id")
    imported = {imported_id for imported_id, _ in found}
    public = {public_id for _, public_id in found}
    return [text for text in ids if text in imported or uuids.get(text) in public]


def _max_imported_id() -> int:
    return Participant._meta.get_field("imported_id").max_length


def check_imported_participants(study: Study, people: Sequence[ImportedParticipant]) -> list[tuple[int, str]]:
    """Every way ``people`` break the survey's rules, as (index in ``people``, message), in order.

    The rules are the ones the survey enforces as it goes: platform ids, one participation per
    person, questions answered in the sheet's order, each one once, one of its k options
    chosen, finished exactly when all are answered.
    """
    k = study.n_options
    options = {
        pk: (item_id, kind)
        for pk, item_id, kind in ItemOption.objects.filter(item__study=study).values_list("pk", "item_id", "item__kind")
    }
    item_options: dict[int, set[int]] = {}
    for pk, (item_id, _) in options.items():
        item_options.setdefault(item_id, set()).add(pk)
    repeated = set(already_in_study(study, [person.imported_id for person in people]))
    problems: list[tuple[int, str]] = []
    holders: dict[tuple[str, str], str] = {}
    ids: set[str] = set()
    for index, person in enumerate(people):
        who = f"participant {person.imported_id}"

        def bad(message: str) -> None:
            problems.append((index, f"{who}: {message}"))

        if not person.imported_id or len(person.imported_id) > _max_imported_id():
            bad(f"the participant id must have 1 to {_max_imported_id()} characters")
        elif person.imported_id in repeated:
            bad(f"is already in study {study.slug} (imported before?)")
            continue  # the rest would only repeat it (their ids are taken too)
        elif person.imported_id in ids:
            bad("appears twice")
        ids.add(person.imported_id)
        try:
            check_new_identity(study, person.params)
        except SurveyError as exc:
            bad(exc.message)
        for what, value in _identity_keys(person.params):
            if (what, value) in holders:
                bad(f"{what} id {value!r} is also participant {holders[(what, value)]}'s")
            holders.setdefault((what, value), person.imported_id)
        positions = sorted(answer.position for answer in person.answers)
        if not positions:
            bad("has no answers")
            continue
        if positions != list(range(1, len(positions) + 1)):
            missing = sorted(set(range(1, positions[-1] + 1)) - set(positions))
            bad(f"answers must be the positions 1..n in the order shown; position(s) {missing[:5]} are missing"
                if missing else "answers must be the positions 1..n in the order shown; a position appears twice")
        if person.finished and len(positions) != study.n_questions:
            bad(f"marked finished but answered {len(positions)} of the study's {study.n_questions} questions")
        if not person.finished and len(positions) == study.n_questions:
            bad(f"answered all {study.n_questions} questions but is not marked finished")
        items = [answer.item_id for answer in person.answers]
        if len(set(items)) != len(items):
            bad("answers an item twice")
        for answer in person.answers:
            if set(answer.options) != item_options.get(answer.item_id) or len(answer.options) != k:
                bad(f"question {answer.position}: the options shown are not the {k} options of "
                    f"item {answer.item_id} of study {study.slug}")
            elif not 1 <= answer.choice <= k:
                bad(f"question {answer.position}: choice {answer.choice} is not between 1 and {k}")
            elif answer.answered_at < answer.shown_at:
                bad(f"question {answer.position}: answered before it was shown")
    return problems


def import_participants(study: Study, people: Sequence[ImportedParticipant]) -> list[Participant]:
    """Record ``people``, who took ``study``'s questions elsewhere, with their answers: all or nothing.

    Raises :class:`ImportRefused` (nothing written) when :func:`check_imported_participants`
    finds a problem; a concurrent write that takes an id first ends in an IntegrityError, also
    with nothing written. Scores follow this study's pass rule, whatever the file says. Only
    the answered questions get a sheet entry (the rest of an unfinished sheet is unknown).
    """
    problems = check_imported_participants(study, people)
    if problems:
        raise ImportRefused(problems)
    options = dict(
        (pk, (kind, method, is_correct))
        for pk, kind, method, is_correct in ItemOption.objects.filter(item__study=study).values_list(
            "pk", "item__kind", "method", "is_correct"
        )
    )
    wanted = [person.public_id for person in people if person.public_id is not None]
    taken = set(Participant.objects.filter(public_id__in=wanted).values_list("public_id", flat=True))
    participants, entries, shown, answers = [], [], [], []
    plan = []  # (participant index, answer), in the order of entries
    with transaction.atomic():
        for index, person in enumerate(people):
            ordered = sorted(person.answers, key=lambda a: a.position)
            fields = [answer_fields(*options[a.options[a.choice - 1]]) for a in ordered]
            checks = sum(f["correct"] is True for f in fields)
            keep_id = person.public_id is not None and person.public_id not in taken
            params = person.params
            participants.append(Participant(
                study=study, public_id=person.public_id if keep_id else uuid.uuid4(), imported_id=person.imported_id,
                platform=params.platform, worker_id=params.worker_id, assignment_id=params.assignment_id,
                hit_id=params.hit_id, turk_submit_to=params.turk_submit_to, prolific_pid=params.prolific_pid,
                prolific_study_id=params.prolific_study_id, prolific_session_id=params.prolific_session_id,
                sheet_seed=0, started_at=min(a.shown_at for a in ordered),
                status=Participant.Status.FINISHED if person.finished else Participant.Status.STARTED,
                finished_at=max(a.answered_at for a in ordered) if person.finished else None,
                checks_passed=checks if person.finished else None,
                passed=passes_checks(study, checks) if person.finished else None,
            ))
            plan += [(index, answer, f) for answer, f in zip(ordered, fields)]
        Participant.objects.bulk_create(participants)
        entries = SheetEntry.objects.bulk_create(
            [SheetEntry(participant=participants[i], position=a.position, item_id=a.item_id, shown_at=a.shown_at)
             for i, a, _ in plan],
            batch_size=2000,
        )
        shown = ShownOption.objects.bulk_create(
            [ShownOption(entry=entry, position=p, option_id=option)
             for entry, (_, a, _) in zip(entries, plan) for p, option in enumerate(a.options, start=1)],
            batch_size=2000,
        )
        k = study.n_options  # every entry has k shown options, written in order above
        answers = Answer.objects.bulk_create(
            [Answer(participant=participants[i], item_id=a.item_id, entry=entry,
                    chosen=shown[n * k + a.choice - 1], position=a.choice, **f,
                    shown_at=a.shown_at, answered_at=a.answered_at)
             for n, (entry, (i, a, f)) in enumerate(zip(entries, plan))],
            batch_size=2000,
        )
    logger.info("imported %s participants (%s answers) into study %s", len(participants), len(answers), study.slug)
    return participants


# --- monitoring -------------------------------------------------------------------------------


@dataclass(frozen=True)
class StudySummary:
    started: int
    finished: int
    passing: int
    answers: int
    votes: dict[str, int]  # all real-question votes so far, per method of the study (in its order)
    votes_passing: dict[str, int]  # votes of finished participants who passed the checks
    median_minutes: float | None
    by_platform: dict[str, int] = field(default_factory=dict)


def study_summary(study: Study) -> StudySummary:
    participants = Participant.objects.filter(study=study)
    counts = participants.aggregate(
        started=Count("id"),
        finished=Count("id", filter=Q(status=Participant.Status.FINISHED)),
        passing=Count("id", filter=Q(status=Participant.Status.FINISHED, passed=True)),
    )
    votes = dict.fromkeys(study.methods, 0)
    votes_passing = dict.fromkeys(study.methods, 0)
    real = Answer.objects.filter(participant__study=study).exclude(method="")
    for method, n in real.values_list("method").annotate(n=Count("id")):
        votes[method] = n
    for method, n in real.filter(participant__passed=True).values_list("method").annotate(n=Count("id")):
        votes_passing[method] = n
    durations = [
        (finished - started).total_seconds() / 60
        for started, finished in participants.filter(status=Participant.Status.FINISHED).values_list("started_at", "finished_at")
    ]
    by_platform = dict(participants.values_list("platform").annotate(n=Count("id")))
    return StudySummary(
        started=counts["started"],
        finished=counts["finished"],
        passing=counts["passing"],
        answers=Answer.objects.filter(participant__study=study).count(),
        votes=votes,
        votes_passing=votes_passing,
        median_minutes=statistics.median(durations) if durations else None,
        by_platform=by_platform,
    )
