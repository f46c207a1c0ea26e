"""The result objects of :mod:`analysis.stats`: small frozen dataclasses, raw floats and formatted p-values.

Each keeps the raw floats *and* an honest formatted p-value, and ``to_dict()`` gives
JSON-ready builtins (arrays become lists, NaN/inf ``None``, each with a ``note`` saying why).
Arrays are read-only copies, so a frozen result is not mutable through them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .formatting import _jsonable


def _frozen_array(x: np.ndarray) -> np.ndarray:
    """Read-only copy, so a frozen dataclass is not mutable through its arrays."""
    a = np.array(x, copy=True)
    a.setflags(write=False)
    return a


class _Result:
    """Mixin: every result can be turned into JSON-ready dicts."""

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(self)


# --------------------------------------------------------------------------
# the paper's analysis (analysis.stats.paper)
# --------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class FilterResult(_Result):
    """Who passed the attention checks, and why the others were excluded.

    ``reasons[i]`` is ``None`` for kept participants and a human-readable
    reason string otherwise, so exclusions can be audited in the report.
    """

    kept: np.ndarray  # bool, per participant
    n_correct: np.ndarray  # int, per participant
    n_answered: np.ndarray  # int, per participant
    n_checks: int
    min_correct: int
    reasons: tuple[str | None, ...]

    @property
    def kept_indices(self) -> np.ndarray:
        return np.flatnonzero(self.kept)

    @property
    def excluded_reasons(self) -> dict[int, str]:
        return {i: r for i, r in enumerate(self.reasons) if r is not None}

    @property
    def n_kept(self) -> int:
        return int(self.kept.sum())


@dataclass(frozen=True, eq=False)
class Tally(_Result):
    """Votes per method: overall, per participant, and as per-participant shares.

    Shares (counts / answered real questions) are the unit of analysis in
    the paper: "each user's response as a single sample of the relative
    proportions".  A participant with no answered question has a NaN row and
    is named in ``note``.
    """

    methods: tuple[str, ...]
    totals: np.ndarray  # (k,) int
    counts: np.ndarray  # (n, k) int
    answered: np.ndarray  # (n,) int
    shares: np.ndarray  # (n, k) float
    note: str | None = None

    @property
    def n_participants(self) -> int:
        return int(self.counts.shape[0])


@dataclass(frozen=True, eq=False)
class AnovaResult(_Result):
    """One-way ANOVA over methods, shares treated as independent groups.

    ``F``/``p`` are NaN (with a ``note``) when every share is identical; F is
    inf and p 0 when each method's column is constant but the columns differ.
    ``omega_squared`` can be negative when F < 1 (it is reported unclipped).
    """

    F: float
    df_between: int
    df_within: int
    p: float
    p_text: str
    eta_squared: float
    omega_squared: float
    ss_between: float
    ss_within: float
    group_means: tuple[float, ...]
    methods: tuple[str, ...]
    n_participants: int
    note: str | None = None


@dataclass(frozen=True, eq=False)
class AnovaLmCheck(_Result):
    """The same ANOVA via statsmodels ``ols`` + ``anova_lm`` (a cross-check)."""

    F: float
    df_between: int
    df_within: int
    p: float
    p_text: str
    agrees_with_f_oneway: bool


@dataclass(frozen=True, eq=False)
class TukeyRow(_Result):
    """One pair: ``meandiff = mean(group2) - mean(group1)`` (statsmodels' sign)."""

    group1: str
    group2: str
    meandiff: float
    p_adj: float
    p_adj_text: str
    lower: float
    upper: float
    reject: bool | None  # None when the test is undefined (no within variance)
    #: True when ``p_adj`` is the backend's floor, an upper bound: the computed
    #: value was below the floor, where it is integration noise, not a p-value.
    p_adj_is_bound: bool = False


@dataclass(frozen=True, eq=False)
class TukeyResult(_Result):
    """Tukey HSD over all method pairs (the paper's post hoc test)."""

    rows: tuple[TukeyRow, ...]
    alpha: float
    q_crit: float
    df: int
    p_floor: float
    backend: str
    note: str | None = None

    def row(self, a: str, b: str) -> TukeyRow:
        """The row comparing methods ``a`` and ``b`` (in either order)."""
        for r in self.rows:
            if {r.group1, r.group2} == {a, b}:
                return r
        raise KeyError((a, b))


# --------------------------------------------------------------------------
# analyses that respect the repeated-measures design (analysis.stats.design)
# --------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class FriedmanResult(_Result):
    """Friedman test across methods within participants, plus Kendall's W."""

    chi2: float
    df: int
    p: float
    p_text: str
    kendalls_w: float
    mean_ranks: tuple[float, ...]
    methods: tuple[str, ...]
    n_participants: int
    note: str | None = None


@dataclass(frozen=True, eq=False)
class WilcoxonRow(_Result):
    """One paired comparison ``method1`` vs ``method2`` (differences m1 - m2).

    ``statistic`` is SciPy's two-sided min(T+, T-); ``rank_biserial`` =
    (T+ - T-) / (T+ + T-) is positive when method1 tends to get the larger
    share; ``test`` names the null distribution actually used.
    """

    method1: str
    method2: str
    statistic: float
    p: float
    p_text: str
    p_holm: float
    p_holm_text: str
    reject: bool | None
    rank_biserial: float
    median_diff: float
    n_nonzero: int
    test: str
    note: str | None = None


@dataclass(frozen=True, eq=False)
class WilcoxonResult(_Result):
    """All pairwise paired Wilcoxon signed-rank tests with Holm correction."""

    rows: tuple[WilcoxonRow, ...]
    alpha: float
    correction: str = "holm"

    def row(self, a: str, b: str) -> WilcoxonRow:
        """The row comparing ``a`` and ``b`` (in either order)."""
        for r in self.rows:
            if {r.method1, r.method2} == {a, b}:
                return r
        raise KeyError((a, b))


@dataclass(frozen=True, eq=False)
class HotellingResult(_Result):
    """Repeated-measures Hotelling's T^2 that all k methods have equal mean share."""

    T2: float
    F: float
    df1: int
    df2: int
    p: float
    p_text: str
    contrast: str
    contrast_labels: tuple[str, ...]
    mean_contrasts: tuple[float, ...]
    n_participants: int
    note: str | None = None


@dataclass(frozen=True, eq=False)
class ChiSquareResult(_Result):
    """Goodness of fit of total votes to a uniform split (votes as independent)."""

    chi2: float
    df: int
    p: float
    p_text: str
    observed: tuple[float, ...]
    expected: tuple[float, ...]
    methods: tuple[str, ...]
    note: str = (
        "treats every vote as independent; votes cluster within participants, so this p-value is anti-conservative"
    )


@dataclass(frozen=True, eq=False)
class BootstrapResult(_Result):
    """Percentile CIs for each method's overall share of votes."""

    methods: tuple[str, ...]
    point: tuple[float, ...]
    lower: tuple[float, ...]
    upper: tuple[float, ...]
    std_error: tuple[float, ...]
    level: float
    n_boot: int
    seed: int | None


# --------------------------------------------------------------------------
# everything together (analysis.stats.analyze)
# --------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class StudyAnalysis(_Result):
    """All analyses of one study, on the participants who passed the filter.

    ``to_dict()`` is JSON-serialisable (``json.dumps(..., allow_nan=False)``
    works): arrays become lists, NaN/inf become ``None`` (with a ``note`` on
    the result explaining why), p-values appear both raw and formatted.
    """

    methods: tuple[str, ...]
    n_participants_total: int
    kept_indices: tuple[int, ...]
    filter: FilterResult
    tally: Tally
    anova: AnovaResult
    anova_lm: AnovaLmCheck
    tukey: TukeyResult
    friedman: FriedmanResult
    wilcoxon: WilcoxonResult
    hotelling: HotellingResult
    chi_square: ChiSquareResult
    bootstrap: BootstrapResult

    @property
    def n_kept(self) -> int:
        return len(self.kept_indices)
