"""Taking part: who a participant is on their platform, starting (with the sheet), and the questions shown."""

from __future__ import annotations

import logging
import random
import secrets
from dataclasses import asdict, dataclass
from datetime import datetime

from django.db import IntegrityError, connection, transaction
from django.db.models import Subquery
from django.utils import timezone

from .. import sheets
from ..models import MAX_QUESTIONS, Answer, Item, ItemOption, Participant, SheetEntry, ShownOption, Study
from ..prepared import PreparedQuery, update_query
from .errors import AlreadyTookPart, AssignmentTaken, MissingIdentity, NotOnSheet, PlatformNotAccepted, StudyNotOpen

logger = logging.getLogger(__name__)


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

    def fields(self) -> dict[str, str]:
        """The Participant fields these give, by name (every field of the link is one)."""
        return asdict(self)


def check_identity(params: EntryParams) -> None:
    """The ids each platform needs to know who someone is; raises :class:`MissingIdentity`."""
    if params.platform not in Participant.Platform.values:
        raise MissingIdentity(f"platform {params.platform!r} is not one of {', '.join(Participant.Platform.values)}")
    if params.platform == Participant.Platform.MTURK and not (
        params.worker_id and params.assignment_id and params.hit_id
    ):
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
        lambda study_id, platform, value, field_name=field_name: (
            Participant.objects.filter(study_id=study_id, platform=platform, **{field_name: value})
            .order_by()
            .values_list(*_PARTICIPANT_FIELDS)[:1]
        ),
        int,
        str,
        str,
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
    if (
        params.platform == Participant.Platform.MTURK
        and Participant.objects.filter(platform=params.platform, assignment_id=params.assignment_id).exists()
    ):
        raise AssignmentTaken(
            f"assignment {params.assignment_id!r} is already a participant's "
            "(MTurk assignments are unique across studies)"
        )


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
    study: Study,
    params: EntryParams,
    user_agent: str = "",
    now: datetime | None = None,
    kind: str = Participant.Kind.REAL,
) -> tuple[Participant, bool]:
    """The participant for ``params``, created with their sheet if new; (participant, created).

    ``kind`` is the new participant's (``simulated`` for :mod:`analysis.simulate`; real by default).

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
                **params.fields(),
                kind=kind,
                user_agent=user_agent[:400],
                sheet_seed=secrets.randbits(63),
                started_at=now,
            )
            build_sheet(participant)
    except IntegrityError:
        existing = Participant.objects.filter(**identity).first() if identity else None
        if existing is None:
            logger.warning(
                "start refused: assignment %s of worker %s is another participant's",
                params.assignment_id,
                params.worker_id,
            )
            raise AssignmentTaken(f"assignment {params.assignment_id} is already in use") from None
        return _resume(existing, params), False
    logger.info("participant %s started study %s (%s)", participant.public_id, study.slug, params.platform)
    return participant, True


# A researcher may preview a study before opening it and while it runs, not once it is closed.
PILOT_STATUSES = (Study.Status.DRAFT, Study.Status.OPEN)


def start_pilot(study: Study, user_agent: str = "", now: datetime | None = None) -> Participant:
    """A pilot participant of ``study`` (a researcher's preview), created with their sheet.

    A direct-link participant of kind ``pilot``: no platform id is needed and the study need not
    accept direct links, nor be open (a draft can be tried before it opens; a closed study is
    refused with :class:`StudyNotOpen`). The pilot then takes the participant pages like anyone;
    only real participants count.
    """
    if study.status not in PILOT_STATUSES:
        raise StudyNotOpen(f"study {study.slug} is {study.status}: a pilot is possible while it is draft or open")
    with transaction.atomic():
        participant = Participant.objects.create(
            study=study,
            platform=Participant.Platform.DIRECT,
            kind=Participant.Kind.PILOT,
            user_agent=user_agent[:400],
            sheet_seed=secrets.randbits(63),
            started_at=now or timezone.now(),
        )
        build_sheet(participant)
    logger.info("pilot participant %s started study %s", participant.public_id, study.slug)
    return participant


def _resume(participant: Participant, params: EntryParams) -> Participant:
    if participant.is_finished:
        logger.info(
            "participant %s (%s) tried to take study %s again",
            participant.public_id,
            participant.external_id,
            participant.study.slug,
        )
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
        logger.info(
            "participant %s moved from assignment %s to %s",
            participant.public_id,
            participant.assignment_id,
            params.assignment_id,
        )
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
    _insert_sheet(
        participant.pk,
        [(p.position, p.item_id) for p in plan],
        [(p.position, index + 1, option_ids[(p.item_id, slot)]) for p in plan for index, slot in enumerate(p.slots)],
    )


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


def unanswered_entries(participant_id, answers_of=None):
    """The participant's sheet entries that have no answer yet.

    The answers are found through the participant (``answers_of``: the same id, given apart where a
    prepared query needs each argument once), never by joining the whole answer table: the
    anti-join ``answer__isnull=True`` made PostgreSQL hash-join a sequential scan of every
    answer of every participant, so each question page cost more as the study grew
    (28 ms at 7,500 answers, docs/benchmarks.md). Here both sides go by the participant's index.
    """
    answered = Answer.objects.filter(participant_id=participant_id if answers_of is None else answers_of)
    return SheetEntry.objects.filter(participant_id=participant_id).exclude(pk__in=answered.values("entry_id"))


_next_position = PreparedQuery(
    lambda participant_id, same_participant_id: (
        unanswered_entries(participant_id, same_participant_id).order_by("position").values_list("position")[:1]
    ),
    int,
    int,
)


def next_position(participant: Participant) -> int | None:
    """The first unanswered position of the sheet (None when all are answered)."""
    rows = _next_position(participant.pk, participant.pk)
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


_QUESTION_COLUMNS = (
    "entry_id",
    "entry__position",
    "entry__shown_at",
    "entry__item_id",
    "entry__item__digit",
    "entry__item__kind",
    "option__key",
)
# The hot queries of a participant's question pages, compiled once per worker thread (survey.prepared).
_question_at = PreparedQuery(
    lambda participant_id, position: (
        ShownOption.objects.filter(entry__participant_id=participant_id, entry__position=position)
        .order_by("position")
        .values_list(*_QUESTION_COLUMNS)
    ),
    int,
    int,
)
_current_question = PreparedQuery(
    lambda participant_id, sheet_of, answers_of: (
        ShownOption.objects.filter(
            entry__participant_id=participant_id,
            # uncorrelated: PostgreSQL finds the first open position once (an InitPlan), not per row
            entry__position=Subquery(
                unanswered_entries(sheet_of, answers_of).order_by("position").values("position")[:1]
            ),
        )
        .order_by("position")
        .values_list(*_QUESTION_COLUMNS)
    ),
    int,
    int,
    int,
)
_mark_shown = PreparedQuery(  # conditional: a refresh, or two tabs, keep the first time shown
    lambda entry_id, now: update_query(SheetEntry.objects.filter(pk=entry_id, shown_at__isnull=True), shown_at=now),
    int,
    datetime,
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
    rows = _current_question(participant.pk, participant.pk, participant.pk)
    return _question(participant, rows, now) if rows else None
