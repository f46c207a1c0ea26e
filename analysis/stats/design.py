"""Analyses that respect the study's repeated-measures design.

Each participant votes on every question, so a participant's shares are not independent
groups (they sum to 1).  Friedman (+ Kendall's W), paired Wilcoxon signed-rank with Holm
correction, repeated-measures Hotelling's T^2 on k-1 contrasts, and a participant-level
cluster bootstrap of each method's overall share all take the participant as the unit.
:func:`chi_square_totals` is included for comparison only -- it treats all 1660 votes as
independent, which they are not (votes cluster within participants), so it is
anti-conservative.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from itertools import combinations
from typing import Any

import numpy as np
from scipy import stats

from explainers.multiple_testing import holm  # NaN counts as p = 1 in the family and stays NaN

from .formatting import ANALYTIC_P_FLOOR, format_p
from .results import BootstrapResult, ChiSquareResult, FriedmanResult, HotellingResult, WilcoxonResult, WilcoxonRow
from .validation import _matrix, _methods

#: Continuity correction in the Wilcoxon normal approximation (SciPy's ``correction``);
#: :mod:`analysis.power` reads it so its vectorised test is the report's test.
WILCOXON_CONTINUITY_CORRECTION: bool = True

# Differences of shares are rounded to this many decimals before ranking so
# that e.g. 3/20 - 1/20 and 5/20 - 3/20 tie exactly, as they do in counts.
_RANK_DECIMALS = 12


# --------------------------------------------------------------------------
# Friedman and Kendall's W
# --------------------------------------------------------------------------


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
            chi2=math.nan,
            df=k - 1,
            p=math.nan,
            p_text="n/a",
            kendalls_w=math.nan,
            mean_ranks=mean_ranks,
            methods=methods,
            n_participants=n,
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
        chi2=chi2,
        df=k - 1,
        p=p,
        p_text=format_p(p, ANALYTIC_P_FLOOR),
        kendalls_w=chi2 / (n * (k - 1)),
        mean_ranks=mean_ranks,
        methods=methods,
        n_participants=n,
    )


# --------------------------------------------------------------------------
# paired Wilcoxon signed-rank tests, Holm-corrected
# --------------------------------------------------------------------------


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
            info.update(
                statistic=math.nan,
                p=math.nan,
                rank_biserial=math.nan,
                test="none",
                note="all paired differences are zero: signed-rank test undefined",
            )
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
                res = stats.wilcoxon(d, zero_method="wilcox", method=method, correction=WILCOXON_CONTINUITY_CORRECTION)
            t_plus, t_minus = _signed_rank_sums(d)
            info.update(
                statistic=float(res.statistic),
                p=float(res.pvalue),
                rank_biserial=(t_plus - t_minus) / (t_plus + t_minus),
                test=label,
                note=None,
            )
        raw.append(info)
    adjusted = holm([r["p"] for r in raw])
    rows = []
    for (i, j), r, padj in zip(pairs, raw, adjusted):
        padj = float(padj)
        rows.append(
            WilcoxonRow(
                method1=methods[i],
                method2=methods[j],
                statistic=r["statistic"],
                p=r["p"],
                p_text=format_p(r["p"], ANALYTIC_P_FLOOR),
                p_holm=padj,
                p_holm_text=format_p(padj, ANALYTIC_P_FLOOR),
                reject=None if math.isnan(padj) else bool(padj < alpha),
                rank_biserial=r["rank_biserial"],
                median_diff=r["median_diff"],
                n_nonzero=r["n_nonzero"],
                test=r["test"],
                note=r["note"],
            )
        )
    return WilcoxonResult(rows=tuple(rows), alpha=alpha)


# --------------------------------------------------------------------------
# Hotelling's T^2 on k-1 contrasts
# --------------------------------------------------------------------------


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
            c[r, r + 1 :] = -1.0 / rest
            labels_list.append(f"{methods[r]} - mean({', '.join(methods[r + 1 :])})")
        labels = tuple(labels_list)
    else:
        raise ValueError(f"contrast must be 'last' or 'helmert', got {contrast!r}")
    return c, labels


def hotelling_contrasts(
    shares: np.ndarray, methods: Sequence[str] | None = None, contrast: str = "last"
) -> HotellingResult:
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
            T2=t2,
            F=f_stat,
            df1=p_dim,
            df2=df2,
            p=p,
            p_text=format_p(p, ANALYTIC_P_FLOOR),
            contrast=contrast,
            contrast_labels=labels,
            mean_contrasts=tuple(float(v) for v in dbar),
            n_participants=n,
            note=note,
        )

    if n <= p_dim:
        return result(
            math.nan,
            math.nan,
            math.nan,
            f"Hotelling's T^2 needs more participants than contrasts (n={n}, contrasts={p_dim})",
        )
    s = np.atleast_2d(np.cov(d, rowvar=False, ddof=1))
    if np.linalg.matrix_rank(s) < p_dim:
        # Null directions of S: combinations of contrasts that every participant has in equal measure.
        eigvals, eigvecs = np.linalg.eigh(s)
        tol = eigvals.max(initial=0.0) * p_dim * np.finfo(float).eps
        null = eigvecs[:, eigvals <= tol]
        if np.abs(null.T @ dbar).max(initial=0.0) > 1e-12:
            return result(
                math.inf,
                math.inf,
                0.0,
                "a combination of contrasts is the same non-zero value for every participant: "
                "the null of equal shares is refuted outright (T^2 is infinite)",
            )
        return result(
            math.nan,
            math.nan,
            math.nan,
            "the contrast covariance matrix is singular and the constant contrasts are zero: T^2 is undefined",
        )
    t2 = float(n * dbar @ np.linalg.solve(s, dbar))
    f_stat = (n - p_dim) / (p_dim * (n - 1)) * t2
    return result(t2, float(f_stat), float(stats.f.sf(f_stat, p_dim, df2)))


# --------------------------------------------------------------------------
# for comparison: chi-square on the vote totals
# --------------------------------------------------------------------------


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
        chi2=float(res.statistic),
        df=t.size - 1,
        p=p,
        p_text=format_p(p, ANALYTIC_P_FLOOR),
        observed=tuple(float(v) for v in t),
        expected=tuple(float(v) for v in expected),
        methods=methods,
    )


# --------------------------------------------------------------------------
# participant-level cluster bootstrap
# --------------------------------------------------------------------------


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
        raise ValueError(
            f"participant row(s) {np.flatnonzero(row_totals == 0).tolist()[:10]} have no votes; drop them first"
        )
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
        methods=methods,
        point=tuple(float(v) for v in point),
        lower=tuple(float(v) for v in lo),
        upper=tuple(float(v) for v in hi),
        std_error=tuple(float(v) for v in se),
        level=float(level),
        n_boot=n_boot,
        seed=seed,
    )
