"""The paper's analysis: attention filter, vote tally, one-way ANOVA and Tukey HSD.

The paper keeps the responses that pass at least 4 of 5 attention checks, takes each
participant's shares of votes per method, and runs a one-way ANOVA and Tukey HSD that treat
each method's column of per-participant shares as an independent group.  We reproduce it
because that is what the paper reports (83 participants -> df (3, 328), F = 338,
p = 5.22e-100).  Its assumptions are violated: the four shares of one participant sum to 1,
so they are negatively dependent, not independent groups (see :mod:`analysis.stats.design`).

Tukey HSD's p-value floor (checked against statsmodels 0.15.0 / SciPy 1.17.1 source):
statsmodels 0.15 ``pairwise_tukeyhsd`` no longer uses its old ``psturng`` lookup table
(whose p-values bottomed out at 0.001); in ``statsmodels/sandbox/stats/multicomp.py`` it
imports ``scipy.stats.studentized_range`` and only falls back to ``psturng`` on SciPy < 1.7.
``TukeyHSDResults.pvalues`` are the raw ``sf`` values (only the printed summary table rounds
them to 4 decimals, so a tiny p prints as ``0.0``).  SciPy computes that ``sf`` by numerical
integration whose absolute error is about 1e-14 .. 2e-12 (measured: for k = 4, df = 328 the
sf plateaus at 1.15e-14 for every q >= 13; the largest plateau seen for k = 2..10,
df = 10..1e6 was 1.8e-12).  Values near that plateau are noise, so Tukey p-values below
:data:`TUKEY_P_FLOOR` (1e-10, ~50x the worst plateau) are reported as ``"< 1e-10"``.  If
statsmodels is ever found using the ``psturng`` fallback, the floor becomes 0.001
(``"< 0.001"``).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from itertools import combinations

import numpy as np
from scipy import stats
from statsmodels.stats.multicomp import pairwise_tukeyhsd

from survey.rules import DEFAULT_PASS_THRESHOLD

from .formatting import ANALYTIC_P_FLOOR, format_p
from .results import AnovaLmCheck, AnovaResult, FilterResult, Tally, TukeyResult, TukeyRow, _frozen_array
from .validation import _matrix, _methods

#: Below this, scipy.stats.studentized_range.sf (used by statsmodels 0.15's
#: Tukey HSD) is dominated by integration error -- see the module docstring.
TUKEY_P_FLOOR: float = 1e-10

#: Floor of statsmodels' legacy ``psturng`` table, used only on SciPy < 1.7.
PSTURNG_P_FLOOR: float = 1e-3


# --------------------------------------------------------------------------
# 1. attention filter
# --------------------------------------------------------------------------


def attention_filter(correct: np.ndarray, min_correct: int = DEFAULT_PASS_THRESHOLD) -> FilterResult:
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
            rows=rows,
            alpha=alpha,
            q_crit=float(stats.studentized_range.ppf(1 - alpha, k, df)),
            df=df,
            p_floor=floor,
            backend=backend,
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
        rows=rows,
        alpha=alpha,
        q_crit=float(res.q_crit),
        df=int(np.asarray(res.df_total).ravel()[0]),
        p_floor=floor,
        backend=backend,
    )
