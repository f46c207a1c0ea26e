"""How many participants a study needs: power of the report's tests, by simulation.

Plain NumPy/SciPy (no ORM). A simulated study is ``n`` participants x ``n_questions`` votes,
drawn as in :mod:`analysis.simulate` (each person's own preference from a Dirichlet around
the given shares, then their votes), all participants attentive -- power is about the people
you keep, so divide by the expected pass rate when recruiting. Power at ``n`` is the share of
``simulations`` simulated studies in which the test rejects at ``alpha``:

* ``friedman``: the Friedman test of the report rejects "all methods equally preferred";
* ``anova``: the paper's one-way ANOVA on shares rejects it;
* ``wilcoxon``: the paired Wilcoxon signed-rank test of one pair (default: the two methods
  with the largest shares, e.g. NormLIME vs LIME) rejects after Holm's correction over all
  k(k-1)/2 pairs (six for four methods) -- as in the report.

The methods are the keys of the ``preference`` mapping, in its order: any 2 to 6 methods.

The tests are vectorised over simulations but compute the same p-values as
:mod:`analysis.stats` (the tests check this), including its choice of exact, permutation or
normal null distribution for Wilcoxon. The smallest ``n`` reaching the target power is found on
a coarse grid, then by bisection between the last grid point below and the first above; each
``n`` has its own seeded generator, so the curve repeats exactly for the same seed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np
from scipy import special
from scipy import stats as sp_stats

from .stats import WILCOXON_CONTINUITY_CORRECTION

TESTS = ("friedman", "anova", "wilcoxon")
GRID = (2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30, 40, 50, 60, 80, 100, 120, 150, 200, 250, 300, 400, 500, 700, 1000)
_RANK_DECIMALS = 12  # as analysis.stats: equal share differences must tie exactly


# --------------------------------------------------------------------------------------------
# simulated studies
# --------------------------------------------------------------------------------------------


def simulate_counts(
    rng: np.random.Generator,
    size: int,
    n: int,
    preference: np.ndarray,
    n_questions: int = 20,
    concentration: float = 26.0,
) -> np.ndarray:
    """``size`` studies of ``n`` participants: votes per method, shape (size, n, k)."""
    p = np.asarray(preference, dtype=float)
    if math.isinf(concentration):
        own = np.broadcast_to(p, (size, n, p.size))
    else:
        own = np.zeros((size, n, p.size))
        positive = p > 0
        own[..., positive] = rng.dirichlet(concentration * p[positive], size=(size, n))
    return rng.multinomial(n_questions, own)


# --------------------------------------------------------------------------------------------
# the tests, vectorised over the first axis (same p-values as analysis.stats)
# --------------------------------------------------------------------------------------------


def anova_p(shares: np.ndarray) -> np.ndarray:
    """p of the paper's one-way ANOVA (scipy ``f_oneway`` on each method's column), per study."""
    x = np.asarray(shares, dtype=float)
    s, n, k = x.shape
    means = x.mean(axis=1)
    grand = x.mean(axis=(1, 2))
    ss_b = n * ((means - grand[:, None]) ** 2).sum(axis=1)
    ss_w = ((x - means[:, None, :]) ** 2).sum(axis=(1, 2))
    df_b, df_w = k - 1, k * (n - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        f = (ss_b / df_b) / (ss_w / df_w)
    p = special.fdtrc(df_b, df_w, f)
    constant_columns = (np.ptp(x, axis=1) == 0).all(axis=1)
    all_equal = np.ptp(x.reshape(s, -1), axis=1) == 0
    p = np.where(constant_columns, 0.0, p)  # F infinite: as analysis.stats.paper_anova
    return np.where(all_equal, np.nan, p)


def friedman_p(counts: np.ndarray) -> np.ndarray:
    """p of the Friedman test with SciPy's tie correction, per study (NaN if every row is tied)."""
    x = np.asarray(counts, dtype=float)
    s, n, k = x.shape
    ranks = sp_stats.rankdata(x, axis=2)
    # Tie correction: sum over tie groups of t^3 - t = sum over values of (t_i^2 - 1), t_i = size of i's group.
    group = (x[..., :, None] == x[..., None, :]).sum(axis=3)
    ties = (group**2 - 1).sum(axis=(1, 2))
    c = 1 - ties / (k * (k * k - 1) * n)
    ssbn = (ranks.sum(axis=1) ** 2).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        chi2 = (12.0 / (k * n * (k + 1)) * ssbn - 3 * n * (k + 1)) / c
    p = special.chdtrc(k - 1, chi2)
    return np.where(c <= 0, np.nan, p)


def _signflip_p(d: np.ndarray) -> np.ndarray:
    """Two-sided p of the exhaustive sign-flip permutation test of T+ (SciPy's PermutationMethod)."""
    s, n = d.shape
    nonzero = d != 0
    ranks = sp_stats.rankdata(np.where(nonzero, np.abs(d), np.nan), axis=1, nan_policy="omit")
    ranks = np.where(nonzero, ranks, 0.0)
    observed = (ranks * (d > 0)).sum(axis=1)
    flips = ((np.arange(2**n)[:, None] >> np.arange(n)) & 1).astype(float)  # every sign pattern
    null = ranks @ flips.T  # (s, 2^n)
    gamma = np.abs(np.finfo(float).eps * 100 * observed)
    less = (null <= (observed + gamma)[:, None]).mean(axis=1)
    greater = (null >= (observed - gamma)[:, None]).mean(axis=1)
    return np.clip(2 * np.minimum(less, greater), 0, 1)


def wilcoxon_p(d: np.ndarray) -> np.ndarray:
    """Two-sided signed-rank p per row of paired differences ``d`` (zeros dropped), choosing the
    null distribution as :func:`analysis.stats.pairwise_wilcoxon` does."""
    d = np.round(np.asarray(d, dtype=float), _RANK_DECIMALS)
    s, n = d.shape
    p = np.full(s, np.nan)
    nonzero = d != 0
    m = nonzero.sum(axis=1)
    absd = np.sort(np.where(nonzero, np.abs(d), np.inf), axis=1)  # zeros sort last, as inf
    with np.errstate(invalid="ignore"):  # inf - inf between two zeros
        ties = ((np.diff(absd, axis=1) == 0) & np.isfinite(absd[:, 1:])).any(axis=1)
    zeros = m < n
    some = m > 0
    exact = some & (n <= 50) & ~ties & ~zeros
    perm = some & ~exact & (n <= 13)
    normal = some & ~exact & ~perm
    if exact.any():
        p[exact] = sp_stats.wilcoxon(d[exact], zero_method="wilcox", method="exact", axis=1).pvalue
    if perm.any():
        p[perm] = _signflip_p(d[perm])
    if normal.any():
        p[normal] = sp_stats.wilcoxon(
            d[normal],
            zero_method="wilcox",
            method="asymptotic",
            axis=1,
            correction=WILCOXON_CONTINUITY_CORRECTION,
        ).pvalue
    return p


def holm_rows(p: np.ndarray) -> np.ndarray:
    """Holm-adjusted p-values along the last axis (NaN counts as 1 and stays NaN), as ``stats.holm``."""
    p = np.asarray(p, dtype=float)
    nan = np.isnan(p)
    q = np.where(nan, 1.0, p)
    m = q.shape[-1]
    order = np.argsort(q, axis=-1, kind="stable")
    sorted_q = np.take_along_axis(q, order, axis=-1)
    adjusted = np.minimum(np.maximum.accumulate(sorted_q * (m - np.arange(m)), axis=-1), 1.0)
    out = np.empty_like(q)
    np.put_along_axis(out, order, adjusted, axis=-1)
    return np.where(nan, np.nan, out)


def wilcoxon_holm_p(shares: np.ndarray, pair: tuple[int, int]) -> np.ndarray:
    """Holm-adjusted p (over all pairs of methods) of the Wilcoxon test of ``pair``, per study."""
    k = shares.shape[2]
    pairs = list(combinations(range(k), 2))
    raw = np.stack([wilcoxon_p(shares[:, :, i] - shares[:, :, j]) for i, j in pairs], axis=1)
    return holm_rows(raw)[:, pairs.index(tuple(sorted(pair)))]


# --------------------------------------------------------------------------------------------
# power and the search for n
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PowerPoint:
    n: int
    power: float
    rejections: int
    simulations: int

    @property
    def mcse(self) -> float:
        """Monte Carlo standard error of ``power``."""
        return math.sqrt(self.power * (1 - self.power) / self.simulations)


@dataclass(frozen=True)
class PowerResult:
    test: str
    alpha: float
    target: float
    preference: dict[str, float]
    pair: tuple[str, str] | None
    concentration: float
    n_questions: int
    simulations: int
    seed: int
    max_participants: int
    points: tuple[PowerPoint, ...]  # every n evaluated, ascending
    n_required: int | None  # smallest n with power >= target, None if not within max_participants


def power_at(
    n: int,
    test: str,
    preference: np.ndarray,
    *,
    alpha: float = 0.05,
    simulations: int = 500,
    seed: int = 0,
    concentration: float = 26.0,
    n_questions: int = 20,
    pair: tuple[int, int] | None = None,
) -> PowerPoint:
    """Share of ``simulations`` simulated studies of ``n`` participants in which ``test`` rejects."""
    rng = np.random.default_rng([seed, n])
    counts = simulate_counts(rng, simulations, n, preference, n_questions, concentration)
    shares = counts / n_questions
    if test == "friedman":
        p = friedman_p(counts)
    elif test == "anova":
        p = anova_p(shares)
    elif test == "wilcoxon":
        p = wilcoxon_holm_p(shares, pair if pair is not None else default_pair(preference))
    else:
        raise ValueError(f"unknown test {test!r} (use {', '.join(TESTS)})")
    rejections = int(np.sum(np.nan_to_num(p, nan=1.0) < alpha))
    return PowerPoint(n=n, power=rejections / simulations, rejections=rejections, simulations=simulations)


def default_pair(preference: np.ndarray) -> tuple[int, int]:
    """The two methods with the largest shares (ties: the first in the preference's order)."""
    order = np.argsort(-np.asarray(preference), kind="stable")
    return int(order[0]), int(order[1])


def power_analysis(
    preference: Mapping[str, float],
    test: str = "friedman",
    alpha: float = 0.05,
    power: float = 0.8,
    *,
    max_participants: int = 200,
    simulations: int = 500,
    seed: int = 0,
    concentration: float = 26.0,
    n_questions: int = 20,
    pair: Sequence[str] | None = None,
    min_participants: int = 2,
) -> PowerResult:
    """The smallest number of (kept) participants with at least ``power`` to detect ``preference``.

    ``preference`` maps each method compared (2 or more, in the order of the study) to its share.
    """
    if test not in TESTS:
        raise ValueError(f"unknown test {test!r} (use {', '.join(TESTS)})")
    if not 0 < alpha < 1 or not 0 < power < 1:
        raise ValueError("alpha and power must be between 0 and 1")
    if simulations < 1 or n_questions < 1:
        raise ValueError("simulations and n_questions must be positive")
    if max_participants < min_participants:
        raise ValueError(f"max participants {max_participants} is below the minimum {min_participants}")
    methods = tuple(preference)
    if len(methods) < 2:
        raise ValueError(f"preference names {len(methods)} method(s): compare at least 2")
    pref = np.array([float(preference[m]) for m in methods])
    pair_idx = None
    if test == "wilcoxon":
        if pair is None:
            pair_idx = default_pair(pref)
        else:
            a, b = pair
            if a not in methods or b not in methods or a == b:
                raise ValueError(f"pair {a},{b}: name two different methods of {', '.join(methods)}")
            pair_idx = (methods.index(a), methods.index(b))
    cache: dict[int, PowerPoint] = {}

    def at(n: int) -> PowerPoint:
        if n not in cache:
            cache[n] = power_at(
                n,
                test,
                pref,
                alpha=alpha,
                simulations=simulations,
                seed=seed,
                concentration=concentration,
                n_questions=n_questions,
                pair=pair_idx,
            )
        return cache[n]

    grid = sorted({n for n in GRID if min_participants <= n <= max_participants} | {min_participants, max_participants})
    below, above = None, None
    for n in grid:
        if at(n).power >= power:
            above = n
            break
        below = n
    if above is not None and below is not None:
        lo, hi = below, above  # power(lo) < target <= power(hi)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if at(mid).power >= power:
                hi = mid
            else:
                lo = mid
        above = hi
    return PowerResult(
        test=test,
        alpha=alpha,
        target=power,
        preference=dict(zip(methods, pref.tolist())),
        pair=(methods[pair_idx[0]], methods[pair_idx[1]]) if pair_idx else None,
        concentration=concentration,
        n_questions=n_questions,
        simulations=simulations,
        seed=seed,
        max_participants=max_participants,
        points=tuple(cache[n] for n in sorted(cache)),
        n_required=above,
    )


def format_power(result: PowerResult, questions_reason: str = "") -> str:
    """The curve and the answer, as the command prints them (``questions_reason``: why that many questions)."""
    what = {
        "friedman": "the Friedman test (all methods equally preferred?)",
        "anova": "the paper's one-way ANOVA on shares",
        "wilcoxon": f"the paired Wilcoxon test {result.pair[0]} vs {result.pair[1]}, Holm-corrected over all pairs"
        if result.pair
        else "",
    }[result.test]
    shares = ", ".join(f"{m}={v:.2f}" for m, v in result.preference.items())
    conc = (
        "identical people" if math.isinf(result.concentration) else f"Dirichlet concentration {result.concentration:g}"
    )
    lines = [
        f"Power of {what} at α = {result.alpha:g}",
        f"  shares {shares}; {result.n_questions} votes per participant"
        + (f" ({questions_reason})" if questions_reason else "")
        + f"; {conc};",
        f"  {result.simulations} simulated studies per n (seed {result.seed}); n counts kept participants.",
        f"  {'n':>5}  {'power':>6}  {'± MC s.e.':>9}",
    ]
    for pt in result.points:
        mark = "  <- target reached" if pt.n == result.n_required else ""
        lines.append(f"  {pt.n:>5}  {pt.power:>6.3f}  {pt.mcse:>9.3f}{mark}")
    if result.n_required is None:
        lines.append(f"Power {result.target:g} is not reached with up to {result.max_participants} participants.")
    else:
        lines.append(f"Smallest number of kept participants with power ≥ {result.target:g}: {result.n_required}.")
    return "\n".join(lines) + "\n"
