"""A study's votes, from the survey's tables to the arrays of :mod:`analysis.stats`, and its report.

Two steps, so that everything after the database can be tested on hand-written arrays:

* :func:`load_study_arrays` (three queries) turns a study into a :class:`StudyArrays`: one row per
  participant (ordered by start), the attention checks' outcomes (``correct``) and the method
  each real question was answered with (``choices``), columns in item-number order.
* :func:`build_report` (plain NumPy) applies the paper's rules and runs every analysis:
  only *finished* participants count ("completed surveys"), then the attention filter keeps
  those with at least ``min_checks`` checks right. Everyone else is listed with the reason.

:func:`analyze_study` does both. The text, files and figures are in :mod:`analysis.reports`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from explainers.methods import registry

from . import stats

DEFAULT_N_BOOT = 10_000
#: Marks participants created by :mod:`analysis.simulate` (stored as their user agent).
SIMULATED_USER_AGENT = "simulated participant (analysis.simulate)"
DID_NOT_FINISH = "did not finish the survey"


class NothingToAnalyse(ValueError):
    """The study has no data the analysis can use yet (the message says why, in one line)."""


@dataclass(frozen=True)
class ParticipantInfo:
    pk: int
    public_id: str
    platform: str
    status: str  # "started" or "finished"
    answered: int  # questions answered, real and checks
    simulated: bool = False

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


def load_study_arrays(study) -> StudyArrays:
    """Read a study's participants and answers (three queries, whatever the study's size)."""
    from survey.models import Answer, Item, Participant  # the ORM only here: the rest is plain arrays

    items = list(Item.objects.filter(study=study).order_by("number").values_list("id", "number", "kind"))
    real_items = tuple(number for _, number, kind in items if kind == Item.Kind.REAL)
    check_items = tuple(number for _, number, kind in items if kind == Item.Kind.ATTENTION)
    real_col = {number: j for j, number in enumerate(real_items)}
    check_col = {number: j for j, number in enumerate(check_items)}
    rows = list(
        Participant.objects.filter(study=study)
        .order_by("started_at", "pk")
        .values_list("pk", "public_id", "platform", "status", "user_agent")
    )
    row_of = {pk: i for i, (pk, *_rest) in enumerate(rows)}
    n = len(rows)
    correct = np.full((n, len(check_items)), np.nan)
    choices = np.full((n, len(real_items)), -1, dtype=int)
    answered = np.zeros(n, dtype=int)
    methods = tuple(study.methods)  # the study's own methods, in its slot order: the columns of every array
    method_index = {m: i for i, m in enumerate(methods)}
    answers = Answer.objects.filter(participant__study=study).values_list(
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
            simulated=user_agent == SIMULATED_USER_AGENT,
        )
        for i, (pk, public_id, platform, status, user_agent) in enumerate(rows)
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

    @property
    def n_simulated_kept(self) -> int:
        return sum(self.data.participants[i].simulated for i in self.kept)

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
    if finished.size == 0:
        raise NothingToAnalyse(f"no finished participants yet ({len(data.participants)} started)")
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
        raise NothingToAnalyse(f"{exc} ({finished.size} finished, {len(data.participants)} started)") from None
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
    study, min_checks: int | None = None, *, n_boot: int = DEFAULT_N_BOOT, seed: int | None = 0, alpha: float = 0.05
) -> StudyReport:
    """Load ``study`` from the database and analyse it (see :func:`build_report`)."""
    return build_report(load_study_arrays(study), min_checks, n_boot=n_boot, seed=seed, alpha=alpha)
