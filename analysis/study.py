"""A study's votes, from the survey's tables to the arrays of :mod:`analysis.stats`, and its report.

Two steps, so that everything after the database can be tested on hand-written arrays:

* :func:`load_study_arrays` (four queries) turns a study into a :class:`StudyArrays`: one row per
  participant of the included kinds (ordered by start), the attention checks' outcomes
  (``correct``) and the method each real question was answered with (``choices``), columns in
  item-number order. Only ``real`` participants count unless other kinds (``pilot``,
  ``simulated``) are included; how many of each kind were left out is kept to be reported.
* :func:`build_report` (plain NumPy) applies the paper's rules and runs every analysis:
  only *finished* participants count ("completed surveys"), then the attention filter keeps
  those with at least ``min_checks`` checks right. Everyone else is listed with the reason.

:func:`analyze_study` does both. The text, files and figures are in :mod:`analysis.reports`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from explainers.methods import registry
from survey.models import ParticipantKind

from . import stats

DEFAULT_N_BOOT = 10_000
DID_NOT_FINISH = "did not finish the survey"
#: Every kind of participant, in the model's order; real ones always count.
KINDS: tuple[str, ...] = tuple(ParticipantKind.values)
ALWAYS_COUNTED = ParticipantKind.REAL.value
#: The kinds that count only when included (``--include``, the page's checkboxes).
OPTIONAL_KINDS: tuple[str, ...] = tuple(k for k in KINDS if k != ALWAYS_COUNTED)


class NothingToAnalyse(ValueError):
    """The study has no data the analysis can use yet (the message says why, in one line)."""


class UnknownKind(ValueError):
    """A kind of participant that does not exist (one line, naming it)."""


def included_kinds(include: Iterable[str] | None = None) -> tuple[str, ...]:
    """The kinds that count: ``real`` and those of ``include``, in :data:`KINDS` order.

    ``include`` names kinds (``pilot``, ``simulated``; ``real`` is allowed and changes nothing).
    An unknown name raises :class:`UnknownKind` naming it.
    """
    names = {str(k).strip().lower() for k in include or () if str(k).strip()}
    unknown = sorted(names - set(KINDS))
    if unknown:
        raise UnknownKind(
            f"unknown participant kind{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))} "
            f"(use {', '.join(OPTIONAL_KINDS)}; {ALWAYS_COUNTED} participants always count)"
        )
    return tuple(k for k in KINDS if k == ALWAYS_COUNTED or k in names)


def parse_kinds(text: str | None) -> tuple[str, ...]:
    """``"pilot,simulated"`` -> the kinds that count (see :func:`included_kinds`)."""
    return included_kinds((text or "").split(","))


def kinds_text(counts: dict[str, int]) -> str:
    """``{"pilot": 3, "simulated": 40}`` -> ``"3 pilot, 40 simulated"`` (in :data:`KINDS` order)."""
    return ", ".join(f"{counts[k]} {k}" for k in KINDS if k in counts)


@dataclass(frozen=True)
class ParticipantInfo:
    pk: int
    public_id: str
    platform: str
    status: str  # "started" or "finished"
    answered: int  # questions answered, real and checks
    kind: str = ALWAYS_COUNTED  # a ParticipantKind value

    @property
    def finished(self) -> bool:
        return self.status == "finished"


@dataclass(frozen=True, eq=False)
class StudyArrays:
    """Everything the analysis needs from the database, as plain values.

    ``correct[i, j]``: participant i's outcome on attention check ``check_items[j]`` (1.0 right,
    0.0 wrong, NaN not answered). ``choices[i, j]``: index into ``methods`` of the method chosen
    for real question ``real_items[j]`` (-1 not answered).
    """

    slug: str
    name: str
    n_real: int
    n_checks: int
    pass_threshold: int
    participants: tuple[ParticipantInfo, ...]
    real_items: tuple[int, ...]
    check_items: tuple[int, ...]
    correct: np.ndarray
    choices: np.ndarray
    methods: tuple[str, ...] = field(default_factory=lambda: registry.names(paper=True))
    #: the kinds of participant loaded (``real`` and any included), in :data:`KINDS` order
    kinds: tuple[str, ...] = (ALWAYS_COUNTED,)
    #: participants of the study left out by kind (kinds not included that have any)
    left_out: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.participants)
        if self.correct.shape != (n, len(self.check_items)):
            raise ValueError(f"correct has shape {self.correct.shape}, expected {(n, len(self.check_items))}")
        if self.choices.shape != (n, len(self.real_items)):
            raise ValueError(f"choices has shape {self.choices.shape}, expected {(n, len(self.real_items))}")

    @property
    def n_questions(self) -> int:
        return self.n_real + self.n_checks

    @property
    def finished(self) -> np.ndarray:
        return np.array([p.finished for p in self.participants], dtype=bool)


def load_study_arrays(study, include: Iterable[str] | None = None) -> StudyArrays:
    """Read a study's participants and answers (four queries, whatever the study's size).

    Only ``real`` participants and those of the kinds in ``include`` are read; the others are
    only counted (``StudyArrays.left_out``). An unknown kind raises :class:`UnknownKind`.
    """
    from django.db.models import Count

    from survey.models import Answer, Item, Participant  # the ORM only here: the rest is plain arrays

    kinds = included_kinds(include)

    items = list(Item.objects.filter(study=study).order_by("number").values_list("id", "number", "kind"))
    real_items = tuple(number for _, number, kind in items if kind == Item.Kind.REAL)
    check_items = tuple(number for _, number, kind in items if kind == Item.Kind.ATTENTION)
    real_col = {number: j for j, number in enumerate(real_items)}
    check_col = {number: j for j, number in enumerate(check_items)}
    rows = list(
        Participant.objects.filter(study=study, kind__in=kinds)
        .order_by("started_at", "pk")
        .values_list("pk", "public_id", "platform", "status", "kind")
    )
    left_out = dict(
        Participant.objects.filter(study=study)
        .exclude(kind__in=kinds)
        .values("kind")
        .annotate(n=Count("pk"))
        .values_list("kind", "n")
    )
    row_of = {pk: i for i, (pk, *_rest) in enumerate(rows)}
    n = len(rows)
    correct = np.full((n, len(check_items)), np.nan)
    choices = np.full((n, len(real_items)), -1, dtype=int)
    answered = np.zeros(n, dtype=int)
    methods = tuple(study.methods)  # the study's own methods, in its slot order: the columns of every array
    method_index = {m: i for i, m in enumerate(methods)}
    answers = Answer.objects.filter(participant__study=study, participant__kind__in=kinds).values_list(
        "participant_id", "item__number", "method", "correct"
    )
    for participant_id, number, method, is_correct in answers.iterator(chunk_size=5000):
        i = row_of[participant_id]
        answered[i] += 1
        if number in check_col:
            correct[i, check_col[number]] = 1.0 if is_correct else 0.0
        else:
            if method not in method_index:
                raise ValueError(f"answer to item {number} names method {method!r}, not one of {', '.join(methods)}")
            choices[i, real_col[number]] = method_index[method]
    participants = tuple(
        ParticipantInfo(
            pk=pk,
            public_id=str(public_id),
            platform=platform,
            status=status,
            answered=int(answered[i]),
            kind=kind,
        )
        for i, (pk, public_id, platform, status, kind) in enumerate(rows)
    )
    return StudyArrays(
        slug=study.slug,
        name=study.name,
        n_real=study.n_real_questions,
        n_checks=study.n_attention_checks,
        pass_threshold=study.pass_threshold,
        participants=participants,
        real_items=real_items,
        check_items=check_items,
        correct=correct,
        choices=choices,
        methods=methods,
        kinds=kinds,
        left_out={k: left_out[k] for k in KINDS if left_out.get(k)},
    )


@dataclass(frozen=True)
class Exclusion:
    participant: str  # public id
    reason: str
    group: str  # the reason without participant-specific numbers, for the summary


@dataclass(frozen=True, eq=False)
class StudyReport:
    """One analysis of a study: who was kept, who was excluded and why, and every statistic.

    ``analysed[r]`` is the index (into ``data.participants``) of row r of the arrays given to
    :func:`analysis.stats.analyze` -- the finished participants, in order.
    """

    data: StudyArrays
    min_checks: int
    n_boot: int
    seed: int | None
    alpha: float
    analysis: stats.StudyAnalysis
    analysed: tuple[int, ...]
    exclusions: tuple[Exclusion, ...]
    generated_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def methods(self) -> tuple[str, ...]:
        return self.analysis.methods

    @property
    def kept(self) -> tuple[int, ...]:
        """Indices into ``data.participants`` of the participants whose votes are analysed."""
        return tuple(self.analysed[r] for r in self.analysis.kept_indices)

    @property
    def n_kept(self) -> int:
        return self.analysis.n_kept

    @property
    def n_started(self) -> int:
        return len(self.data.participants)

    @property
    def n_finished(self) -> int:
        return len(self.analysed)

    @property
    def n_votes(self) -> int:
        return int(self.analysis.tally.totals.sum())

    def kept_by_kind(self) -> dict[str, int]:
        """How many kept participants of each included kind (every included kind, 0 too)."""
        counts = Counter(self.data.participants[i].kind for i in self.kept)
        return {k: counts.get(k, 0) for k in self.data.kinds}

    def exclusion_summary(self) -> list[tuple[str, int]]:
        """(reason, how many), unfinished first, then by number of checks passed."""
        counts = Counter(e.group for e in self.exclusions)
        return sorted(counts.items(), key=lambda kv: (kv[0] != DID_NOT_FINISH, kv[0]))


def build_report(
    data: StudyArrays,
    min_checks: int | None = None,
    *,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int | None = 0,
    alpha: float = 0.05,
) -> StudyReport:
    """Apply the paper's rules to ``data`` and run every analysis of :mod:`analysis.stats`.

    ``min_checks`` defaults to the study's pass threshold (4 of 5, as in the paper). Raises
    :class:`NothingToAnalyse` when fewer than two finished participants pass the checks.
    """
    min_checks = data.pass_threshold if min_checks is None else min_checks
    if isinstance(min_checks, bool) or not isinstance(min_checks, int) or not 0 <= min_checks <= data.n_checks:
        raise NothingToAnalyse(
            f"--min-checks {min_checks!r}: use 0 to {data.n_checks} (the study has {data.n_checks} attention checks)"
        )
    finished = np.flatnonzero(data.finished)
    exclusions = [
        Exclusion(
            p.public_id, f"{DID_NOT_FINISH} (answered {p.answered} of {data.n_questions} questions)", DID_NOT_FINISH
        )
        for p in data.participants
        if not p.finished
    ]
    # Those left out are named in the reason: "nothing to analyse" with 40 simulated finishers misleads otherwise.
    left_out = f"; left out: {kinds_text(data.left_out)}" if data.left_out else ""
    if finished.size == 0:
        raise NothingToAnalyse(f"no finished participants yet ({len(data.participants)} started{left_out})")
    try:
        analysis = stats.analyze(
            data.correct[finished],
            data.choices[finished],
            min_correct=min_checks,
            n_boot=n_boot,
            seed=seed,
            alpha=alpha,
            methods=data.methods,
        )
    except ValueError as exc:
        raise NothingToAnalyse(
            f"{exc} ({finished.size} finished, {len(data.participants)} started{left_out})"
        ) from None
    for row, reason in analysis.filter.excluded_reasons.items():
        exclusions.append(Exclusion(data.participants[int(finished[row])].public_id, reason, reason))
    order = {p.public_id: i for i, p in enumerate(data.participants)}
    exclusions.sort(key=lambda e: order[e.participant])
    return StudyReport(
        data=data,
        min_checks=min_checks,
        n_boot=n_boot,
        seed=seed,
        alpha=alpha,
        analysis=analysis,
        analysed=tuple(int(i) for i in finished),
        exclusions=tuple(exclusions),
    )


def analyze_study(
    study,
    min_checks: int | None = None,
    *,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int | None = 0,
    alpha: float = 0.05,
    include: Iterable[str] | None = None,
) -> StudyReport:
    """Load ``study`` from the database and analyse it (see :func:`build_report`).

    Only ``real`` participants count, and those of the kinds in ``include`` (see :func:`load_study_arrays`).
    """
    return build_report(load_study_arrays(study, include), min_checks, n_boot=n_boot, seed=seed, alpha=alpha)
