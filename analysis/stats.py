"""Statistics for the NormLIME human study (paper section "User study").

Everything here is a pure function over plain NumPy arrays -- no Django, no
ORM -- so the numbers in the report can be recomputed from an exported CSV and
unit-tested against arithmetic done by hand.  Each function returns a small
frozen dataclass that keeps the raw floats *and* an honest formatted p-value.

Data layout
-----------
* ``correct``: participants x attention checks.  ``True``/``1`` = correct,
  ``False``/``0`` = wrong, ``-1``/``NaN``/``None`` = not answered.
* ``choices``: participants x real questions, ints indexing ``methods``, by
  default the paper's four, ``registry.names(paper=True)`` (0 = normlime,
  1 = lime, 2 = smoothgrad, 3 = vargrad), ``-1`` = unanswered.
* ``counts``: participants x methods, votes per method (from :func:`tally`).
* ``shares``: ``counts / answered``; every row sums to 1.

Two families of analyses
------------------------
1. *The paper's analysis* (:func:`paper_anova`, :func:`tukey_hsd`): a one-way
   ANOVA and Tukey HSD that treat each method's column of per-participant
   shares as an independent group.  We reproduce it because that is what the
   paper reports (83 participants -> df (3, 328), F = 338, p = 5.22e-100).
   Its assumptions are violated: the four shares of one participant sum to 1,
   so they are negatively dependent, not independent groups.
2. *Analyses that respect the design*: Friedman (+ Kendall's W), paired
   Wilcoxon signed-rank with Holm correction, repeated-measures Hotelling's
   T^2 on k-1 contrasts, and a participant-level cluster bootstrap of each
   method's overall share.  :func:`chi_square_totals` is included for
   comparison only -- it treats all 1660 votes as independent, which they are
   not (votes cluster within participants), so it is anti-conservative.

p-value floors (checked against statsmodels 0.15.0 / SciPy 1.17.1 source)
--------------------------------------------------------------------------
* F, chi-square and normal p-values come from SciPy survival functions
  (``special.fdtrc``, ``chdtrc``, ``ndtr``) that are accurate far below
  1e-16; the paper's 5.22e-100 is representable.  They are only clipped where
  the double really underflowed: below the smallest normal double
  (:data:`ANALYTIC_P_FLOOR`, about 2.2e-308) the text says ``"< 2.23e-308"``.
* Tukey HSD: statsmodels 0.15 ``pairwise_tukeyhsd`` no longer uses its old
  ``psturng`` lookup table (whose p-values bottomed out at 0.001); in
  ``statsmodels/sandbox/stats/multicomp.py`` it imports
  ``scipy.stats.studentized_range`` and only falls back to ``psturng`` on
  SciPy < 1.7.  ``TukeyHSDResults.pvalues`` are the raw ``sf`` values (only the
  printed summary table rounds them to 4 decimals, so a tiny p prints as
  ``0.0``).  SciPy computes that ``sf`` by numerical integration whose
  absolute error is about 1e-14 .. 2e-12 (measured: for k = 4, df = 328 the
  sf plateaus at 1.15e-14 for every q >= 13; the largest plateau seen for
  k = 2..10, df = 10..1e6 was 1.8e-12).  Values near that plateau are noise,
  so Tukey p-values below :data:`TUKEY_P_FLOOR` (1e-10, ~50x the worst
  plateau) are reported as ``"< 1e-10"``.  If statsmodels is ever found using
  the ``psturng`` fallback, the floor becomes 0.001 (``"< 0.001"``).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, fields, is_dataclass
from itertools import combinations
from typing import Any, Sequence

import numpy as np
from scipy import stats
from statsmodels.stats.multicomp import pairwise_tukeyhsd

from explainers.methods import registry
from explainers.multiple_testing import holm  # NaN counts as p = 1 in the family and stays NaN

__all__ = [
    "ANALYTIC_P_FLOOR",
    "TUKEY_P_FLOOR",
    "format_p",
    "holm",
    "attention_filter",
    "tally",
    "paper_anova",
    "anova_lm_check",
    "tukey_hsd",
    "friedman",
    "pairwise_wilcoxon",
    "hotelling_contrasts",
    "chi_square_totals",
    "bootstrap_share_ci",
    "analyze",
    "FilterResult",
    "Tally",
    "AnovaResult",
    "AnovaLmCheck",
    "TukeyRow",
    "TukeyResult",
    "FriedmanResult",
    "WilcoxonRow",
    "WilcoxonResult",
    "HotellingResult",
    "ChiSquareResult",
    "BootstrapResult",
    "StudyAnalysis",
]

#: Smallest normal double.  SciPy's closed-form survival functions are
#: accurate down to here; a smaller value (0.0 or subnormal) has underflowed.
ANALYTIC_P_FLOOR: float = float(np.finfo(float).tiny)

#: Below this, scipy.stats.studentized_range.sf (used by statsmodels 0.15's
#: Tukey HSD) is dominated by integration error -- see the module docstring.
TUKEY_P_FLOOR: float = 1e-10

#: Floor of statsmodels' legacy ``psturng`` table, used only on SciPy < 1.7.
PSTURNG_P_FLOOR: float = 1e-3

#: Continuity correction in the Wilcoxon normal approximation (SciPy's ``correction``);
#: :mod:`analysis.power` reads it so its vectorised test is the report's test.
WILCOXON_CONTINUITY_CORRECTION: bool = True

# Differences of shares are rounded to this many decimals before ranking so
# that e.g. 3/20 - 1/20 and 5/20 - 3/20 tie exactly, as they do in counts.
_RANK_DECIMALS = 12


# --------------------------------------------------------------------------
# formatting and serialisation helpers
# --------------------------------------------------------------------------


def format_p(p: float, floor: float = 1e-16) -> str:
    """Format a p-value without claiming more precision than was computed.

    ``p`` at or below 0, or below ``floor``, is reported as ``"< floor"``
    (e.g. ``"< 1e-16"``, ``"< 0.001"``): the true value is not 0, it is just
    smaller than what the method that produced it can resolve.  Pass the
    floor of the method that produced ``p`` (see :data:`ANALYTIC_P_FLOOR`,
    :data:`TUKEY_P_FLOOR`).  Otherwise p >= 0.001 is given to three
    significant digits (``"0.0123"``) and smaller ones in scientific notation
    (``"5.22e-100"``).  NaN (test undefined) gives ``"n/a"``.
    """
    p = float(p)
    if math.isnan(p):
        return "n/a"
    if p <= 0.0 or p < floor:
        return f"< {float(floor):.3g}"
    if p >= 1e-3:
        return f"{p:#.3g}"
    return f"{p:.2e}"


def _jsonable(value: Any) -> Any:
    """Convert results into JSON-safe builtins (non-finite floats -> None).

    NaN/inf are not valid JSON, and every place they can appear carries a
    ``note`` explaining why, so ``None`` loses nothing.
    """
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    raise TypeError(f"cannot serialise {type(value).__name__}")


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
# input validation
# --------------------------------------------------------------------------


def _methods(methods: Sequence[str] | None) -> tuple[str, ...]:
    """``methods`` as a tuple; ``None`` means the paper's four, in the index order of ``choices``.

    The registry is read at call time, so a test may register a method.
    """
    return tuple(registry.names(paper=True) if methods is None else methods)


def _matrix(x: Any, name: str, methods: Sequence[str], min_rows: int = 2) -> np.ndarray:
    """Validate a participants x methods matrix of finite, non-negative numbers."""
    a = np.asarray(x, dtype=float)
    if a.ndim != 2:
        raise ValueError(f"{name} must be 2-D (participants x methods), got shape {a.shape}")
    if a.shape[1] != len(methods):
        raise ValueError(
            f"{name} has {a.shape[1]} columns but {len(methods)} methods were given ({', '.join(methods)})"
        )
    if len(methods) < 2:
        raise ValueError("need at least 2 methods to compare")
    if a.shape[0] < min_rows:
        raise ValueError(f"need at least {min_rows} participants, got {a.shape[0]}")
    bad = ~np.isfinite(a)
    if bad.any():
        rows = sorted(set(np.nonzero(bad)[0].tolist()))
        raise ValueError(
            f"{name} contains NaN/inf for participant row(s) {rows[:10]}"
            " (e.g. a participant with no answered real questions); drop them first"
        )
    if (a < 0).any():
        raise ValueError(f"{name} must be non-negative")
    return a


# --------------------------------------------------------------------------
# 1. attention filter
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


def attention_filter(correct: np.ndarray, min_correct: int = 4) -> FilterResult:
    """Keep participants who got at least ``min_correct`` attention checks right.

    The paper keeps "responses that pass at least 4 of the 5 attention
    checks".  A check that was not answered (``-1``, ``NaN`` or ``None``)
    counts as not correct -- skipping a check must not help anyone pass --
    and the reason string says how many were answered.
    """
    a = np.asarray(correct, dtype=float)
    if a.ndim != 2:
        raise ValueError(f"correct must be 2-D (participants x checks), got shape {a.shape}")
    n_checks = a.shape[1]
    if not isinstance(min_correct, (int, np.integer)) or min_correct < 0:
        raise ValueError(f"min_correct must be a non-negative integer, got {min_correct!r}")
    if min_correct > n_checks:
        raise ValueError(f"min_correct={min_correct} exceeds the number of attention checks ({n_checks})")
    missing = np.isnan(a) | (a == -1)
    invalid = ~missing & (a != 0) & (a != 1)
    if invalid.any():
        i, j = np.argwhere(invalid)[0]
        raise ValueError(
            f"correct must hold True/1, False/0 or -1/NaN (unanswered); got {float(a[i, j])!r}"
            f" for participant {i}, check {j}"
        )
    is_correct = ~missing & (a == 1)
    n_correct = is_correct.sum(axis=1).astype(int)
    n_answered = (~missing).sum(axis=1).astype(int)
    kept = n_correct >= min_correct
    reasons: list[str | None] = []
    for nc, na, k in zip(n_correct, n_answered, kept):
        if k:
            reasons.append(None)
            continue
        passed = f"passed {nc} of {n_checks} attention checks (needs {min_correct})"
        if na < n_checks:
            reasons.append(f"answered {na} of {n_checks} checks; {passed}")
        else:
            reasons.append(passed)
    return FilterResult(
        kept=_frozen_array(kept),
        n_correct=_frozen_array(n_correct),
        n_answered=_frozen_array(n_answered),
        n_checks=int(n_checks),
        min_correct=int(min_correct),
        reasons=tuple(reasons),
    )


# --------------------------------------------------------------------------
# 2. tally
# --------------------------------------------------------------------------


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


def tally(choices: np.ndarray, methods: Sequence[str] | None = None) -> Tally:
    """Count each participant's votes per method (``-1``/NaN = unanswered)."""
    methods = _methods(methods)
    k = len(methods)
    a = np.asarray(choices, dtype=float)
    if a.ndim != 2:
        raise ValueError(f"choices must be 2-D (participants x questions), got shape {a.shape}")
    unanswered = np.isnan(a) | (a == -1)
    valid = unanswered | ((a == np.round(a)) & (a >= 0) & (a < k))
    if not valid.all():
        i, j = np.argwhere(~valid)[0]
        raise ValueError(
            f"choices must be integers 0..{k - 1} indexing {methods} or -1 for unanswered;"
            f" got {float(a[i, j])!r} for participant {i}, question {j}"
        )
    n = a.shape[0]
    counts = np.zeros((n, k), dtype=int)
    for m in range(k):
        counts[:, m] = (~unanswered & (a == m)).sum(axis=1)
    answered = counts.sum(axis=1)
    shares = np.full((n, k), np.nan)
    ok = answered > 0
    shares[ok] = counts[ok] / answered[ok, None]
    note = None
    if not ok.all():
        note = f"participant row(s) {np.flatnonzero(~ok).tolist()} answered no real question; shares are NaN"
    return Tally(
        methods=methods,
        totals=_frozen_array(counts.sum(axis=0)),
        counts=_frozen_array(counts),
        answered=_frozen_array(answered),
        shares=_frozen_array(shares),
        note=note,
    )


# --------------------------------------------------------------------------
# 3. the paper's one-way ANOVA
# --------------------------------------------------------------------------


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


def paper_anova(shares: np.ndarray, methods: Sequence[str] | None = None) -> AnovaResult:
    """Reproduce the paper's "standard one-way ANOVA" (scipy.stats.f_oneway).

    Each method's column of per-participant shares is one group, so with n
    participants and k methods df = (k-1, k(n-1)): (3, 328) for 83.  The
    groups are not independent (each row sums to 1), so see the Friedman,
    Wilcoxon and Hotelling functions for analyses that respect that.
    Sums of squares are computed here too, for the effect sizes
    eta^2 = SSB/SST and omega^2 = (SSB - df_b MSW) / (SST + MSW).
    """
    methods = _methods(methods)
    x = _matrix(shares, "shares", methods)
    n, k = x.shape
    df_b, df_w = k - 1, k * (n - 1)
    means = x.mean(axis=0)
    grand = x.mean()
    ss_b = float(n * ((means - grand) ** 2).sum())
    ss_w = float(((x - means) ** 2).sum())
    ss_t = ss_b + ss_w
    note = None
    if np.ptp(x) == 0:
        F = p = eta = omega = math.nan
        note = "all shares are identical: no variance at all, the ANOVA F statistic is undefined (0/0)"
    elif (np.ptp(x, axis=0) == 0).all():
        F, p, eta, omega = math.inf, 0.0, 1.0, 1.0
        note = "each method's shares are constant across participants: no within-group variance, F is infinite"
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = stats.f_oneway(*(x[:, j] for j in range(k)))
        F, p = float(res.statistic), float(res.pvalue)
        ms_w = ss_w / df_w
        eta = ss_b / ss_t
        omega = (ss_b - df_b * ms_w) / (ss_t + ms_w)
    return AnovaResult(
        F=F,
        df_between=df_b,
        df_within=df_w,
        p=p,
        p_text=format_p(p, ANALYTIC_P_FLOOR),
        eta_squared=float(eta),
        omega_squared=float(omega),
        ss_between=ss_b,
        ss_within=ss_w,
        group_means=tuple(float(m) for m in means),
        methods=methods,
        n_participants=n,
        note=note,
    )


@dataclass(frozen=True, eq=False)
class AnovaLmCheck(_Result):
    """The same ANOVA via statsmodels ``ols`` + ``anova_lm`` (a cross-check)."""

    F: float
    df_between: int
    df_within: int
    p: float
    p_text: str
    agrees_with_f_oneway: bool


def anova_lm_check(shares: np.ndarray, methods: Sequence[str] | None = None) -> AnovaLmCheck:
    """Refit the paper's ANOVA as a linear model ``share ~ C(method)``.

    An independent implementation (OLS residuals vs. scipy's group sums)
    guards against mistakes in arranging the data into groups.
    ``agrees_with_f_oneway`` compares F (relative 1e-9) and p (relative
    1e-6) with :func:`paper_anova`; two NaNs or two infinities agree.
    """
    import pandas as pd
    from statsmodels.formula.api import ols
    from statsmodels.stats.anova import anova_lm

    methods = _methods(methods)
    x = _matrix(shares, "shares", methods)
    n, k = x.shape
    frame = pd.DataFrame({"share": x.T.ravel(), "method": np.repeat(np.array(methods), n)})
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        table = anova_lm(ols("share ~ C(method)", data=frame).fit())
    F = float(table.loc["C(method)", "F"])
    p = float(table.loc["C(method)", "PR(>F)"])
    df_b = int(round(table.loc["C(method)", "df"]))
    df_w = int(round(table.loc["Residual", "df"]))
    ref = paper_anova(x, methods)
    if ref.note is not None:
        # Degenerate data: OLS gives 0/0 or x/0 in floating point noise; only
        # the degrees of freedom are comparable.
        agrees = (df_b, df_w) == (ref.df_between, ref.df_within)
    else:
        agrees = bool(
            (df_b, df_w) == (ref.df_between, ref.df_within)
            and np.isclose(F, ref.F, rtol=1e-9, atol=0)
            and np.isclose(p, ref.p, rtol=1e-6, atol=0)
        )
    return AnovaLmCheck(
        F=F, df_between=df_b, df_within=df_w, p=p, p_text=format_p(p, ANALYTIC_P_FLOOR), agrees_with_f_oneway=agrees
    )


# --------------------------------------------------------------------------
# 4. Tukey HSD
# --------------------------------------------------------------------------


def _tukey_backend() -> tuple[str, float]:
    """Which studentized-range implementation statsmodels uses, and its floor."""
    try:
        from statsmodels.sandbox.stats import multicomp as _mc

        used = getattr(_mc, "studentized_range", None)
    except ImportError:  # pragma: no cover - layout changed
        used = None
    if used is stats.studentized_range:
        return "scipy.stats.studentized_range", TUKEY_P_FLOOR
    return "statsmodels psturng table", PSTURNG_P_FLOOR


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


def tukey_hsd(shares: np.ndarray, methods: Sequence[str] | None = None, alpha: float = 0.05) -> TukeyResult:
    """statsmodels ``pairwise_tukeyhsd`` on the method columns of ``shares``.

    Groups are passed as integer labels so the pair order follows
    ``methods`` (statsmodels sorts labels; names would sort alphabetically).
    p-values are the raw ``TukeyHSDResults.pvalues`` (not the 4-decimal
    summary table), except below the backend's floor: there ``p_adj`` is the
    floor, ``p_adj_is_bound`` is True and the text reads ``"< 1e-10"``
    (``"< 0.001"`` on the legacy psturng table) -- see the module docstring.
    """
    methods = _methods(methods)
    x = _matrix(shares, "shares", methods)
    n, k = x.shape
    backend, floor = _tukey_backend()
    df = k * (n - 1)
    pairs = list(combinations(range(k), 2))
    means = x.mean(axis=0)
    if (np.ptp(x, axis=0) == 0).all():
        rows = tuple(
            TukeyRow(methods[i], methods[j], float(means[j] - means[i]), math.nan, "n/a", math.nan, math.nan, None)
            for i, j in pairs
        )
        return TukeyResult(
            rows=rows, alpha=alpha, q_crit=float(stats.studentized_range.ppf(1 - alpha, k, df)), df=df,
            p_floor=floor, backend=backend,
            note="no within-group variance (each method's shares are constant): Tukey HSD is undefined",
        )
    res = pairwise_tukeyhsd(endog=x.T.ravel(), groups=np.repeat(np.arange(k), n), alpha=alpha)
    # statsmodels pairs groups as np.triu_indices over its sorted unique labels.
    labels = res.groupsunique
    order = [(int(labels[a]), int(labels[b])) for a, b in zip(*np.triu_indices(len(labels), 1))]
    if order != pairs:  # pragma: no cover - would mean statsmodels changed its pair order
        raise RuntimeError(f"unexpected Tukey pair order from statsmodels: {order}")
    rows = tuple(
        TukeyRow(
            group1=methods[i],
            group2=methods[j],
            meandiff=float(res.meandiffs[r]),
            # Below the floor the computed sf is noise (e.g. 1.15e-14 for a true value far
            # smaller): store the floor itself, flagged as a bound, never the noise.
            p_adj=max(float(res.pvalues[r]), floor),
            p_adj_text=format_p(float(res.pvalues[r]), floor),
            lower=float(res.confint[r, 0]),
            upper=float(res.confint[r, 1]),
            reject=bool(res.reject[r]),
            p_adj_is_bound=bool(float(res.pvalues[r]) < floor),
        )
        for r, (i, j) in enumerate(pairs)
    )
    return TukeyResult(
        rows=rows, alpha=alpha, q_crit=float(res.q_crit), df=int(np.asarray(res.df_total).ravel()[0]),
        p_floor=floor, backend=backend,
    )


# --------------------------------------------------------------------------
# 6. analyses that respect the repeated-measures design
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


def friedman(counts: np.ndarray, methods: Sequence[str] | None = None) -> FriedmanResult:
    """Friedman chi-square on per-participant counts (or shares).

    Each participant is a block and methods are ranked within it, which is
    exactly the dependence the ANOVA ignores.  Counts and shares give the
    same result (ranks within a row are unchanged by dividing the row by
    its total).  Kendall's W = chi2 / (n (k - 1)) is the effect size (0 = no
    agreement among participants, 1 = all rank the methods the same); with
    SciPy's tie-corrected chi2 it is the tie-corrected W.  If every
    participant ties all methods, the statistic is 0/0: NaN plus a note.
    SciPy refuses two methods; for k = 2 the same tie-corrected statistic
    is computed here, where it reduces to the sign test's (a - b)^2 / (a + b)
    (a, b: participants preferring the first, the second method; ties drop
    out), on 1 degree of freedom.
    """
    methods = _methods(methods)
    x = _matrix(counts, "counts", methods)
    n, k = x.shape
    mean_ranks = tuple(float(r) for r in stats.rankdata(x, axis=1).mean(axis=0))
    if (np.ptp(x, axis=1) == 0).all():
        return FriedmanResult(
            chi2=math.nan, df=k - 1, p=math.nan, p_text="n/a", kendalls_w=math.nan, mean_ranks=mean_ranks,
            methods=methods, n_participants=n,
            note="every participant gave all methods the same count: no ranking, Friedman statistic undefined",
        )
    if k == 2:
        ranks = stats.rankdata(x, axis=1)
        rank_sums = ranks.sum(axis=0)
        tied_blocks = int((x[:, 0] == x[:, 1]).sum())  # each contributes t^3 - t = 6 to the tie correction
        raw = 12.0 / (n * k * (k + 1)) * float((rank_sums**2).sum()) - 3.0 * n * (k + 1)
        chi2 = raw / (1.0 - 6.0 * tied_blocks / (n * k * (k * k - 1)))
        p = float(stats.chi2.sf(chi2, k - 1))
    else:
        res = stats.friedmanchisquare(*(x[:, j] for j in range(k)))
        chi2, p = float(res.statistic), float(res.pvalue)
    return FriedmanResult(
        chi2=chi2, df=k - 1, p=p, p_text=format_p(p, ANALYTIC_P_FLOOR), kendalls_w=chi2 / (n * (k - 1)),
        mean_ranks=mean_ranks, methods=methods, n_participants=n,
    )


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


def _signed_rank_sums(d: np.ndarray) -> tuple[float, float]:
    """T+ and T- over the non-zero differences, average ranks for ties."""
    nz = d[d != 0]
    ranks = stats.rankdata(np.abs(nz))
    return float(ranks[nz > 0].sum()), float(ranks[nz < 0].sum())


def pairwise_wilcoxon(shares: np.ndarray, methods: Sequence[str] | None = None, alpha: float = 0.05) -> WilcoxonResult:
    """Paired Wilcoxon signed-rank test for every pair of methods, Holm-corrected.

    Pairing within participant respects the design; the signed-rank test
    needs no normality of the (bounded, discrete) share differences.  Zero
    differences are dropped (Wilcoxon's method).  The null distribution is
    chosen explicitly, mirroring SciPy's own ``method="auto"`` rule, so the
    row can say which was used: exact if there are no ties or zeros and
    n <= 50; otherwise an exhaustive (deterministic) sign-flip permutation
    for n <= 13; otherwise the normal approximation with tie correction and
    a continuity correction of 1/2 towards the null mean (SciPy's
    ``correction=True``).  A pair whose differences are all zero is undefined: NaN
    with a note (it counts as p = 1 in the Holm family).
    """
    methods = _methods(methods)
    x = _matrix(shares, "shares", methods)
    n, k = x.shape
    pairs = list(combinations(range(k), 2))
    raw: list[dict[str, Any]] = []
    for i, j in pairs:
        d = np.round(x[:, i] - x[:, j], _RANK_DECIMALS)
        nz = d[d != 0]
        info: dict[str, Any] = {"median_diff": float(np.median(d)), "n_nonzero": int(nz.size)}
        if nz.size == 0:
            info.update(statistic=math.nan, p=math.nan, rank_biserial=math.nan, test="none",
                        note="all paired differences are zero: signed-rank test undefined")
        else:
            has_ties = np.unique(np.abs(nz)).size < nz.size
            has_zeros = nz.size < n
            if n <= 50 and not (has_ties or has_zeros):
                method: Any = "exact"
                label = "exact"
            elif n <= 13:
                method = stats.PermutationMethod()
                label = "permutation (exhaustive)"
            else:
                method = "asymptotic"
                label = "normal approximation"
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                # the correction only affects the normal approximation (SciPy ignores it otherwise)
                res = stats.wilcoxon(d, zero_method="wilcox", method=method,
                                     correction=WILCOXON_CONTINUITY_CORRECTION)
            t_plus, t_minus = _signed_rank_sums(d)
            info.update(statistic=float(res.statistic), p=float(res.pvalue),
                        rank_biserial=(t_plus - t_minus) / (t_plus + t_minus), test=label, note=None)
        raw.append(info)
    adjusted = holm([r["p"] for r in raw])
    rows = []
    for (i, j), r, padj in zip(pairs, raw, adjusted):
        padj = float(padj)
        rows.append(
            WilcoxonRow(
                method1=methods[i], method2=methods[j], statistic=r["statistic"], p=r["p"],
                p_text=format_p(r["p"], ANALYTIC_P_FLOOR), p_holm=padj, p_holm_text=format_p(padj, ANALYTIC_P_FLOOR),
                reject=None if math.isnan(padj) else bool(padj < alpha), rank_biserial=r["rank_biserial"],
                median_diff=r["median_diff"], n_nonzero=r["n_nonzero"], test=r["test"], note=r["note"],
            )
        )
    return WilcoxonResult(rows=tuple(rows), alpha=alpha)


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


def _contrast_matrix(methods: tuple[str, ...], contrast: str) -> tuple[np.ndarray, tuple[str, ...]]:
    k = len(methods)
    if contrast == "last":
        c = np.zeros((k - 1, k))
        c[:, : k - 1] = np.eye(k - 1)
        c[:, k - 1] = -1.0
        labels = tuple(f"{m} - {methods[-1]}" for m in methods[:-1])
    elif contrast == "helmert":
        c = np.zeros((k - 1, k))
        labels_list = []
        for r in range(k - 1):
            rest = k - r - 1
            c[r, r] = 1.0
            c[r, r + 1:] = -1.0 / rest
            labels_list.append(f"{methods[r]} - mean({', '.join(methods[r + 1:])})")
        labels = tuple(labels_list)
    else:
        raise ValueError(f"contrast must be 'last' or 'helmert', got {contrast!r}")
    return c, labels


def hotelling_contrasts(shares: np.ndarray, methods: Sequence[str] | None = None, contrast: str = "last") -> HotellingResult:
    """One-sample Hotelling's T^2 on k-1 within-participant contrasts.

    Because a participant's k shares sum to 1, their covariance matrix is
    singular; k-1 linearly independent contrasts (differences to the last
    method, or Helmert) carry all the information and have an invertible
    covariance.  H0: every contrast has mean 0, i.e. all methods have the
    same expected share.  T^2 = n dbar' S^-1 dbar, and
    F = (n - p) / (p (n - 1)) T^2 ~ F(p, n - p) with p = k - 1.  T^2 does
    not depend on which full-rank contrast set is used.  NaN with a note if
    n <= p.  If the contrast covariance is singular, some combination v of
    contrasts is constant across participants: if that constant is non-zero
    (v'dbar != 0, e.g. a method nobody chose) the null is refuted outright
    and T^2 = F = inf, p = 0 (as :func:`paper_anova` reports F = inf); if it
    is zero for every such v, the test is undefined (NaN with a note).
    """
    methods = _methods(methods)
    x = _matrix(shares, "shares", methods)
    n, k = x.shape
    c, labels = _contrast_matrix(methods, contrast)
    d = x @ c.T
    p_dim = k - 1
    dbar = d.mean(axis=0)
    df2 = n - p_dim

    def result(t2: float, f_stat: float, p: float, note: str | None = None) -> HotellingResult:
        return HotellingResult(
            T2=t2, F=f_stat, df1=p_dim, df2=df2, p=p, p_text=format_p(p, ANALYTIC_P_FLOOR), contrast=contrast,
            contrast_labels=labels, mean_contrasts=tuple(float(v) for v in dbar), n_participants=n, note=note,
        )

    if n <= p_dim:
        return result(math.nan, math.nan, math.nan,
                      f"Hotelling's T^2 needs more participants than contrasts (n={n}, contrasts={p_dim})")
    s = np.atleast_2d(np.cov(d, rowvar=False, ddof=1))
    if np.linalg.matrix_rank(s) < p_dim:
        # Null directions of S: combinations of contrasts that every participant has in equal measure.
        eigvals, eigvecs = np.linalg.eigh(s)
        tol = eigvals.max(initial=0.0) * p_dim * np.finfo(float).eps
        null = eigvecs[:, eigvals <= tol]
        if np.abs(null.T @ dbar).max(initial=0.0) > 1e-12:
            return result(math.inf, math.inf, 0.0,
                          "a combination of contrasts is the same non-zero value for every participant: "
                          "the null of equal shares is refuted outright (T^2 is infinite)")
        return result(math.nan, math.nan, math.nan,
                      "the contrast covariance matrix is singular and the constant contrasts are zero: "
                      "T^2 is undefined")
    t2 = float(n * dbar @ np.linalg.solve(s, dbar))
    f_stat = (n - p_dim) / (p_dim * (n - 1)) * t2
    return result(t2, float(f_stat), float(stats.f.sf(f_stat, p_dim, df2)))


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


def chi_square_totals(totals: np.ndarray, methods: Sequence[str] | None = None) -> ChiSquareResult:
    """Pearson chi-square of the vote totals against a uniform split.

    The simplest possible test of the paper's headline numbers, kept for
    comparison; it ignores clustering (see ``note``), so prefer the
    bootstrap CI and the participant-level tests.
    """
    methods = _methods(methods)
    t = np.asarray(totals, dtype=float)
    if t.ndim != 1 or t.size != len(methods):
        raise ValueError(f"totals must be 1-D with one entry per method ({len(methods)}), got shape {t.shape}")
    if t.size < 2:
        raise ValueError("need at least 2 methods")
    if not np.isfinite(t).all() or (t < 0).any():
        raise ValueError("totals must be finite and non-negative")
    if t.sum() == 0:
        raise ValueError("no votes at all: chi-square against uniform is undefined")
    res = stats.chisquare(t)
    p = float(res.pvalue)
    expected = np.full(t.size, t.sum() / t.size)
    return ChiSquareResult(
        chi2=float(res.statistic), df=t.size - 1, p=p, p_text=format_p(p, ANALYTIC_P_FLOOR),
        observed=tuple(float(v) for v in t), expected=tuple(float(v) for v in expected), methods=methods,
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


def bootstrap_share_ci(
    counts: np.ndarray,
    n_boot: int = 10000,
    seed: int | None = 0,
    level: float = 0.95,
    methods: Sequence[str] | None = None,
) -> BootstrapResult:
    """Cluster bootstrap: resample participants, not votes.

    A participant's 20 votes are correlated (people have favourite
    methods), so resampling whole participants with replacement gives an
    honest CI for "share of all votes going to method m" =
    sum of m's votes / sum of all votes in the resample.  Seeded
    ``numpy.random.Generator`` -> identical output for identical input.
    Percentile intervals at ``(1 - level)/2`` and ``(1 + level)/2``.
    """
    methods = _methods(methods)
    x = _matrix(counts, "counts", methods)
    n, k = x.shape
    if int(n_boot) != n_boot or n_boot < 1:
        raise ValueError(f"n_boot must be a positive integer, got {n_boot!r}")
    n_boot = int(n_boot)
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    row_totals = x.sum(axis=1)
    if (row_totals == 0).any():
        raise ValueError(f"participant row(s) {np.flatnonzero(row_totals == 0).tolist()[:10]} have no votes; drop them first")
    rng = np.random.default_rng(seed)
    boot = np.empty((n_boot, k))
    chunk = max(1, int(4_000_000 // (n * k)))  # bound memory of counts[idx]
    for start in range(0, n_boot, chunk):
        stop = min(n_boot, start + chunk)
        idx = rng.integers(0, n, size=(stop - start, n))
        tot = x[idx].sum(axis=1)
        boot[start:stop] = tot / tot.sum(axis=1, keepdims=True)
    lo, hi = np.quantile(boot, [(1 - level) / 2, (1 + level) / 2], axis=0)
    point = x.sum(axis=0) / x.sum()
    se = boot.std(axis=0, ddof=1) if n_boot > 1 else np.full(k, math.nan)
    return BootstrapResult(
        methods=methods, point=tuple(float(v) for v in point), lower=tuple(float(v) for v in lo),
        upper=tuple(float(v) for v in hi), std_error=tuple(float(v) for v in se), level=float(level),
        n_boot=n_boot, seed=seed,
    )


# --------------------------------------------------------------------------
# 7. everything together
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


def analyze(
    correct: np.ndarray,
    choices: np.ndarray,
    min_correct: int = 4,
    n_boot: int = 10000,
    seed: int | None = 0,
    alpha: float = 0.05,
    methods: Sequence[str] | None = None,
    contrast: str = "last",
) -> StudyAnalysis:
    """Filter on attention checks, tally votes, and run every analysis.

    Row i of ``correct`` and of ``choices`` must be the same participant.
    Raises ``ValueError`` with a plain-language message when there is
    nothing to analyse (no or only one participant kept, a kept participant
    with no answered real question); statistics that are merely undefined
    for the data (e.g. zero variance) come back as NaN with a ``note``.
    """
    methods = _methods(methods)
    c = np.asarray(correct)
    ch = np.asarray(choices)
    if c.ndim != 2 or ch.ndim != 2:
        raise ValueError(f"correct and choices must be 2-D, got shapes {c.shape} and {ch.shape}")
    if c.shape[0] != ch.shape[0]:
        raise ValueError(
            f"correct has {c.shape[0]} participants but choices has {ch.shape[0]}; rows must be the same participants"
        )
    filt = attention_filter(c, min_correct)
    total = c.shape[0]
    if filt.n_kept == 0:
        raise ValueError(
            f"no participants kept: 0 of {total} passed at least {filt.min_correct} of {filt.n_checks} attention checks"
        )
    if filt.n_kept < 2:
        raise ValueError(
            f"only 1 of {total} participants passed at least {filt.min_correct} of {filt.n_checks} attention checks;"
            " need at least 2 to compare methods across participants"
        )
    t = tally(ch[filt.kept], methods)
    if (t.answered == 0).any():
        bad = filt.kept_indices[t.answered == 0].tolist()
        raise ValueError(f"kept participant(s) {bad} answered no real question; their shares are undefined")
    shares, counts = t.shares, t.counts
    return StudyAnalysis(
        methods=methods,
        n_participants_total=total,
        kept_indices=tuple(int(i) for i in filt.kept_indices),
        filter=filt,
        tally=t,
        anova=paper_anova(shares, methods),
        anova_lm=anova_lm_check(shares, methods),
        tukey=tukey_hsd(shares, methods, alpha=alpha),
        friedman=friedman(counts, methods),
        wilcoxon=pairwise_wilcoxon(shares, methods, alpha=alpha),
        hotelling=hotelling_contrasts(shares, methods, contrast=contrast),
        chi_square=chi_square_totals(t.totals, methods),
        bootstrap=bootstrap_share_ci(counts, n_boot=n_boot, seed=seed, methods=methods),
    )
