"""A verdict on each of the paper's KAR claims: supported, not supported or inconclusive, with the evidence
and the power of the rule that decides it.

The claims are the paper's words (section "Numerical Evaluation with KAR"); the rules that decide
them are written here once (:data:`RULES`, :data:`CLAIMS`) and quoted in every verdict, the report,
``verdicts.json`` and the KAR page, so a reader can check them against ``results.csv`` by hand:

- Gains are per run (``results.csv``: the error gain in percentage points against the run's
  retrained baseline); two cells are compared paired by run (same seed, same baseline).
- The margin is delta = 0.25 pp (:data:`ABOUT_ZERO`, the paper's own smallest difference it calls
  one: "all other baselines observe at least 0.25 % error gain at 50 %"); alpha = 0.05.
- Every test is one-sided at alpha, i.e. a 95 % t-bound; two of them together are the 90 %
  t-interval (:class:`Bound`). The pixels claim is an equivalence test (TOST), the conv 30 % claim a
  non-inferiority test and a one-sample test, the conv 80-90 % claim an intersection-union test
  (every one-sided test must reject, so no multiplicity correction is needed); only "some other
  method is significantly lower" (which decides "not supported" there) is Holm-corrected.
- The paper's claims compare NormLIME with the registry's KAR methods in the results
  (``registry.names(kar=True)``); KAR's own variants (:mod:`kar.core.rankers`) are never "other
  methods" of them. :func:`confound_verdicts` judges the claims again with NormLIME and LIME under
  each variant convention.

Power (:func:`power_at`, :func:`runs_needed`) is the chance that a method that truly meets the claim
is judged "supported" at n runs, for the measured sd of the per-run values the rule tests: exact by
the noncentral t where one test decides (the TOST integrates the two one-sided tests over the sd's
chi distribution, as Owen 1965 does), seeded Monte-Carlo where the rule combines several tests.
The target is 80 %.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from functools import cached_property, lru_cache

import numpy as np
from scipy import integrate, stats

from explainers.methods import registry
from explainers.multiple_testing import holm

from . import rankers
from .cells import Result
from .report import varies

SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE = "supported", "not supported", "inconclusive"
ALPHA = 0.05
ABOUT_ZERO = 0.25  # percentage points (delta): the paper's smallest difference it calls one
TARGET_POWER = 0.80
REFERENCE = "normlime"
DRAWS = 20_000  # Monte-Carlo draws of one power estimate (seeded: the same number every time)
MAX_RUNS = 100_000  # runs_needed looks no further
PIXELS_50, CONV_30, CONV_80_90 = "pixels-50-zero", "conv-30-best", "conv-80-90-lowest"
LOWEST_AT = (80, 90)  # the thresholds of the conv 80-90 % claim

RULES = (
    "Gains are per run (results.csv: error gain in pp against the run's retrained baseline); two cells are "
    f"compared paired by run. Margin delta = {ABOUT_ZERO} pp (the paper's smallest difference it calls one), "
    f"alpha = {ALPHA}; each test is one-sided at alpha (a {100 * (1 - ALPHA):.0f} % t-bound; two bounds make the "
    f"{100 * (1 - 2 * ALPHA):.0f} % t-interval). No sd is taken below one test image's worth (100 / test images "
    "pp): gains move in whole test images, so runs that happen to agree do not make a difference exact. Power: the chance that a method that truly meets the claim is "
    f"judged supported at the runs in the folder, for the measured sd; the target is {100 * TARGET_POWER:.0f} %."
)


# --- one mean over runs and its bounds -------------------------------------------------------------


@dataclass(frozen=True)
class Bound:
    """A mean over runs with its one-sided 95 % t-bounds ``low`` and ``high`` (together the 90 % interval).

    Values equal in every run up to float rounding have sd 0 (:func:`kar.core.report.varies`): the
    bounds are the mean itself, the sign is exact.
    """

    values: tuple[float, ...]
    floor: float = 0.0  # the smallest sd taken (one test image's worth, :func:`resolution`)

    @property
    def n(self) -> int:
        return len(self.values)

    @cached_property
    def mean(self) -> float:
        return float(np.mean(self.values))

    @cached_property
    def sd(self) -> float:
        measured = float(np.std(self.values, ddof=1)) if varies(np.array(self.values)) else 0.0
        return max(measured, self.floor)

    @cached_property
    def quantile(self) -> float:
        """t(1 - alpha, n - 1)."""
        return float(stats.t.ppf(1 - ALPHA, self.n - 1))

    @property
    def half(self) -> float:
        return self.quantile * self.sd / math.sqrt(self.n)

    @property
    def low(self) -> float:
        return self.mean - self.half

    @property
    def high(self) -> float:
        return self.mean + self.half

    def two_sided_p(self) -> float:
        """The two-sided one-sample t-test of mean 0 (scipy); 0 or 1 when the values do not vary."""
        if self.sd == 0:
            return 0.0 if self.mean != 0 else 1.0
        t = self.mean / (self.sd / math.sqrt(self.n))  # scipy's ttest_1samp where the floor does not bind
        return float(2 * stats.t.sf(abs(t), self.n - 1))

    def text(self) -> str:
        return (
            f"{self.mean:+.2f} pp ({100 * (1 - 2 * ALPHA):.0f} % interval {self.low:+.2f} to {self.high:+.2f}, "
            f"{self.n} runs)"
        )


def _bound(values, floor: float = 0.0) -> Bound | None:
    values = tuple(float(v) for v in values)
    return Bound(values, floor) if len(values) >= 2 else None


def resolution(manifest: dict) -> float:
    """One test image's worth of error, in pp (100 / the run's test images; 0 when the manifest has none).

    Gains move in whole test images, so over a few runs equal values (an sd of 0) are a coincidence,
    not a measurement of no spread: no sd is taken below this (:attr:`Bound.floor`), or two runs that
    happen to agree would make any difference "significant".
    """
    tests = [sp.get("test") for sp in (manifest.get("feature_spaces") or {}).values()]
    tests = [t for t in tests if isinstance(t, int) and t > 0]
    return 100.0 / min(tests) if tests else 0.0


def _correlation(columns: Sequence[dict[int, float]]) -> float | None:
    """The mean pairwise Pearson correlation of per-run values over the runs all have (None: not measurable)."""
    runs = sorted(set.intersection(*(set(c) for c in columns))) if columns else []
    if len(columns) < 2 or len(runs) < 3:
        return None
    matrix = np.array([[c[r] for r in runs] for c in columns])
    if not all(varies(row) for row in matrix):
        return None
    corr = np.corrcoef(matrix)
    return float(corr[~np.eye(len(columns), dtype=bool)].mean())


# --- power -------------------------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def tost_power(n: int, sd: float, margin: float = ABOUT_ZERO) -> float:
    """Power of the TOST at n runs when the true gain is 0: P(90 % interval within ±margin), exact.

    Given the sd s, the interval lies within ±margin when |mean| < margin - t s / sqrt(n), a normal
    probability; it is integrated over the chi-square distribution of (n - 1) s^2 / sd^2 (Owen's
    method for the two one-sided noncentral t tests, which share s).
    """
    if n < 2:
        return 0.0
    if sd <= 0:
        return 1.0
    df, q = n - 1, stats.t.ppf(1 - ALPHA, n - 1)
    shift = margin * math.sqrt(n) / sd  # the margin in standard errors of the mean
    top = df * (shift / q) ** 2  # beyond this chi-square value the interval is wider than the margin
    lo, hi = stats.chi2.ppf(1e-12, df), min(top, stats.chi2.ppf(1 - 1e-12, df))
    if hi <= lo:
        return 0.0
    inside = lambda u: (2 * stats.norm.cdf(shift - q * math.sqrt(u / df)) - 1) * stats.chi2.pdf(u, df)  # noqa: E731
    value, _ = integrate.quad(inside, lo, hi, points=[min(max(df, lo), hi)], limit=200)
    return float(min(max(value, 0.0), 1.0))


def one_sided_power(n: int, sd: float, effect: float = ABOUT_ZERO) -> float:
    """Power of one one-sided t-test at alpha, n runs, when the truth lies ``effect`` beyond its bound:
    P(noncentral t with n - 1 df and noncentrality effect sqrt(n) / sd > t(1 - alpha, n - 1)), exact."""
    if n < 2:
        return 0.0
    if sd <= 0:
        return 1.0
    return float(stats.nct.sf(stats.t.ppf(1 - ALPHA, n - 1), n - 1, effect * math.sqrt(n) / sd))


def simulate_means_and_sds(n: int, k: int, rho: float, draws: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sample means and sds over n runs of k standard normal per-run values with correlation ``rho`` >= 0
    between any two, ``draws`` times: arrays (draws, k). Seeded by (seed, n).

    Exact without drawing the n runs (written out because only these statistics are needed, at a cost
    that does not grow with n): each value is sqrt(rho) w + sqrt(1 - rho) e_i, w shared. Rotated onto
    an orthonormal basis whose first vector is the mean direction, the n runs give the means (from
    that vector) and n - 1 independent rows for the sds. Over those rows, with A = |w|^2 ~ chi2(n - 1)
    and each e_i split along w (a normal z_i) and across it (r_i ~ chi2(n - 2)), (n - 1) sd_i^2 =
    (sqrt(rho A) + sqrt(1 - rho) z_i)^2 + (1 - rho) r_i.
    """
    rho = min(max(rho, 0.0), 1.0)
    rng = np.random.default_rng([seed, n])
    shared, own = math.sqrt(rho), math.sqrt(1 - rho)
    means = (shared * rng.standard_normal((draws, 1)) + own * rng.standard_normal((draws, k))) / math.sqrt(n)
    along = np.sqrt(rho * rng.chisquare(n - 1, size=(draws, 1))) + own * rng.standard_normal((draws, k))
    across = rng.chisquare(n - 2, size=(draws, k)) if n > 2 else np.zeros((draws, k))
    return means, np.sqrt((along**2 + (1 - rho) * across) / (n - 1))


@lru_cache(maxsize=4096)
def _simulated_power(claim: str, n: int, sds: tuple[float, ...], rho: float, draws: int, seed: int) -> float:
    sd = np.array(sds)
    if claim == CONV_30:
        # column 0: NormLIME minus the best other (true 0); column 1: NormLIME's advantage over the original
        # model (true +delta). Non-inferior: upper bound < +delta; better: lower bound > 0. A negative
        # correlation is simulated as a positive one with the second value's sign turned.
        m, s = simulate_means_and_sds(n, 2, abs(rho), draws, seed)
        half = stats.t.ppf(1 - ALPHA, n - 1) * s * sd / math.sqrt(n)
        difference, advantage = m[:, 0] * sd[0], ABOUT_ZERO + math.copysign(1, rho) * m[:, 1] * sd[1]
        passed = (difference + half[:, 0] < ABOUT_ZERO) & (advantage - half[:, 1] > 0)
    else:
        # every column: NormLIME minus another method at 80 or 90 %, true -delta; each upper bound < 0.
        # A negative mean correlation is taken as 0.
        m, s = simulate_means_and_sds(n, len(sds), rho, draws, seed)
        half = stats.t.ppf(1 - ALPHA, n - 1) * s * sd / math.sqrt(n)
        passed = np.all(-ABOUT_ZERO + m * sd + half < 0, axis=1)
    return float(passed.mean())


def _sds(claim: str, sd: float | Sequence[float], others: int | None) -> tuple[float, ...]:
    if not isinstance(sd, int | float):
        return tuple(float(s) for s in sd)
    if claim == CONV_30:
        return (float(sd), float(sd))
    if claim == CONV_80_90:
        others = len(registry.names(kar=True)) - 1 if others is None else others
        return (float(sd),) * (len(LOWEST_AT) * others)
    return (float(sd),)


def power_at(
    claim: str,
    n: int,
    sd: float | Sequence[float],
    *,
    rho: float = 0.0,
    others: int | None = None,
    draws: int = DRAWS,
    seed: int = 0,
) -> float:
    """The power of ``claim``'s rule at n runs under a method that truly meets the claim.

    ``sd`` is the sd of the per-run values the rule tests:
    - pixels-50-zero: NormLIME's gain (true gain 0); exact (:func:`tost_power`).
    - conv-30-best: (the paired difference NormLIME - the best other method, NormLIME's accuracy
      advantage over the original model in pp); true difference 0, true advantage +delta; the two
      with correlation ``rho``; Monte-Carlo (:func:`one_sided_power` gives each test alone).
    - conv-80-90-lowest: the paired differences NormLIME - each other method at 80 and 90 % (one sd
      for ``others`` methods at both thresholds, or one per test); true difference -delta to each,
      ``rho`` between any two; Monte-Carlo.
    A single number stands for every sd of the rule.
    """
    sds = _sds(claim, sd, others)
    if n < 2:
        return 0.0
    if claim == PIXELS_50:
        return tost_power(n, sds[0])
    if claim not in (CONV_30, CONV_80_90):
        raise KeyError(f"{claim!r} is not a claim (known: {PIXELS_50}, {CONV_30}, {CONV_80_90})")
    return _simulated_power(claim, n, sds, float(rho), draws, seed)


def runs_needed(claim: str, sd: float | Sequence[float], power: float = TARGET_POWER, **options) -> int | None:
    """The smallest n >= 2 at which :func:`power_at` reaches ``power`` (None beyond :data:`MAX_RUNS`).

    Power grows with n: doubling finds a bracket, bisection the smallest n in it.
    """
    reaches = lambda n: power_at(claim, n, sd, **options) >= power  # noqa: E731
    if reaches(2):
        return 2
    low, high = 2, 4
    while not reaches(high):
        if high >= MAX_RUNS:
            return None
        low, high = high, min(2 * high, MAX_RUNS)
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if reaches(middle) else (middle, high)
    return high


@dataclass(frozen=True)
class Power:
    """A claim's power at the runs in the folder, for the measured sd(s), and the runs needed for 80 %."""

    runs: int
    sd: tuple[float, ...]
    correlation: float | None  # measured between the per-run values (combined rules), None: taken as 0
    power: float
    runs_needed: int | None
    text: str  # the arithmetic in words

    def as_dict(self) -> dict:
        return asdict(self)


def _needed_text(needed: int | None) -> str:
    if needed is None:
        return f"{100 * TARGET_POWER:.0f} % needs more than {MAX_RUNS:,} runs"
    return f"{100 * TARGET_POWER:.0f} % needs n >= {needed:,}"


def _power(claim: str, runs: int, sd: tuple[float, ...], rho: float | None) -> Power:
    p = power_at(claim, runs, sd, rho=rho or 0.0)
    needed = runs_needed(claim, sd, rho=rho or 0.0)
    q = stats.t.ppf(1 - ALPHA, runs - 1)
    t_text = f"t({1 - ALPHA:.2f}, {runs - 1}) = {q:.3f}"
    corr = f"correlation {rho:+.2f} measured" if rho is not None else "correlation taken as 0 (not measurable)"
    mc = f"by Monte-Carlo ({DRAWS:,} seeded draws, {corr})"
    if claim == PIXELS_50:
        half = q * sd[0] / math.sqrt(runs)
        text = (
            f"TOST at n = {runs}, sd {sd[0]:.3f}: {t_text}, half-width of the 90 % interval {half:.2f} pp "
            f"{'<' if half < ABOUT_ZERO else '>='} {ABOUT_ZERO}; power {p:.2f} by the noncentral t (exact, true gain 0)"
        )
    elif claim == CONV_30:
        a, b = one_sided_power(runs, sd[0]), one_sided_power(runs, sd[1])
        text = (
            f"at n = {runs}, {t_text}: (a) sd {sd[0]:.3f} of the paired differences, half-width "
            f"{q * sd[0] / math.sqrt(runs):.2f} pp, power {a:.2f} by the noncentral t for a true difference of 0; "
            f"(b) sd {sd[1]:.3f}, power {b:.2f} for a true advantage of {ABOUT_ZERO} pp; both: power {p:.2f} {mc}"
        )
    else:
        each = [one_sided_power(runs, s) for s in sd]
        text = (
            f"{len(sd)} one-sided paired tests at n = {runs}, sd of the paired differences {min(sd):.3f} to "
            f"{max(sd):.3f}: {t_text}; each alone has power {min(each):.2f} to {max(each):.2f} by the noncentral t "
            f"(true difference -{ABOUT_ZERO} pp); all of them: power {p:.2f} {mc}"
        )
    return Power(runs, sd, rho, p, needed, f"{text}; {_needed_text(needed)}")


# --- the cells and the claims --------------------------------------------------------------------------


class _Cells:
    """Gains and accuracies by (feature set, method, threshold) -> {run: value}, KAR mode only."""

    def __init__(self, results: list[Result], mode: str = "kar"):
        self.gains: dict[tuple[str, str, int], dict[int, float]] = {}
        self.accuracy: dict[tuple[str, str, int], dict[int, float]] = {}
        for r in results:
            if r.mode == mode and not r.is_baseline:
                self.gains.setdefault((r.feature_set, r.method, r.threshold), {})[r.run] = r.error_gain
                self.accuracy.setdefault((r.feature_set, r.method, r.threshold), {})[r.run] = r.accuracy
        self.methods = {m for _, m, _ in self.gains}

    def get(self, feature_set: str, method: str, threshold: int) -> dict[int, float]:
        return self.gains.get((feature_set, method, threshold), {})

    def difference(self, feature_set: str, a: str, b: str, threshold: int) -> dict[int, float]:
        """{run: a's gain - b's} over the runs both cells have."""
        ga, gb = self.get(feature_set, a, threshold), self.get(feature_set, b, threshold)
        return {r: ga[r] - gb[r] for r in sorted(set(ga) & set(gb))}


@dataclass(frozen=True)
class _Setting:
    """Whose claims are judged: the reference ranker, the variants standing in for registry methods."""

    reference: str
    substitutes: dict[str, str]
    label: Callable[[str], str]
    original: float | None  # the checkpoint's own test accuracy (a fraction), None: unknown
    floor: float = 0.0  # the smallest sd taken (:func:`resolution`)

    def others(self, cells: _Cells, feature_set: str, threshold: int) -> list[str]:
        """The registry's KAR methods but NormLIME (each replaced by its stand-in), with cells here."""
        names = [self.substitutes.get(m, m) for m in registry.names(kar=True) if m != REFERENCE]
        return [m for m in names if cells.get(feature_set, m, threshold)]


# What a judge returns: the outcome, the evidence, and (runs, sds, correlation) for the power (None: none).
_Judged = tuple[str, list[str], tuple[int, tuple[float, ...], float | None] | None]


def _missing(what: str) -> list[str]:
    return [f"{what}: fewer than 2 runs in results.csv, so no interval"]


def _pixels_50_zero(cells: _Cells, s: _Setting) -> _Judged:
    name = s.label(s.reference)
    b = _bound(cells.get("pixels", s.reference, 50).values(), s.floor)
    if b is None:
        return INCONCLUSIVE, _missing(f"pixels, {name}, 50 %"), None
    evidence = [f"{name} at 50 % of pixels removed: {b.text()}"]
    power = (b.n, (b.sd,), None)
    if -ABOUT_ZERO < b.low and b.high < ABOUT_ZERO:
        return SUPPORTED, evidence + [f"within ±{ABOUT_ZERO} pp: both one-sided tests reject at alpha"], power
    if b.low > ABOUT_ZERO or b.high < -ABOUT_ZERO:
        return NOT_SUPPORTED, evidence + [f"entirely beyond ±{ABOUT_ZERO} pp: significantly outside the margin"], power
    return INCONCLUSIVE, evidence + [f"reaches beyond ±{ABOUT_ZERO} pp without lying beyond it"], power


def original_accuracy(manifest: dict) -> float | None:
    """``manifest["original_model"]["accuracy"]``: the explained checkpoint's accuracy on the run's test
    digits, a fraction (None when absent or not a number in [0, 1])."""
    value = (manifest.get("original_model") or {}).get("accuracy")
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        return None
    return float(value)


def _conv_30_best(cells: _Cells, s: _Setting) -> _Judged:
    name = s.label(s.reference)
    mine = cells.get("conv", s.reference, 30)
    if len(mine) < 2:
        return INCONCLUSIVE, _missing(f"conv, {name}, 30 %"), None
    others = s.others(cells, "conv", 30)
    if not others:
        return INCONCLUSIVE, ["no other method has conv cells at 30 %, so no best other method"], None
    means = {m: float(np.mean(list(cells.get("conv", m, 30).values()))) for m in others}
    best = min(others, key=means.get)
    differences = cells.difference("conv", s.reference, best, 30)
    if s.original is not None:
        advantage = {r: 100 * (a - s.original) for r, a in cells.accuracy[("conv", s.reference, 30)].items()}
        against = f"the original model's {100 * s.original:.2f} % (manifest original_model.accuracy)"
    else:
        advantage = {r: -g for r, g in mine.items()}  # minus the gain: the accuracy above the run's baseline
        against = "the run's retrained baseline (manifest.json has no original_model accuracy)"
    a, b = _bound(differences.values(), s.floor), _bound(advantage.values(), s.floor)
    if a is None:
        return INCONCLUSIVE, _missing(f"conv, {name} paired with {s.label(best)}, 30 %"), None
    evidence = [
        f"best other method at 30 %: {s.label(best)} (mean gain {means[best]:+.2f} pp, the lowest of {len(others)})",
        f"(a) {name} minus {s.label(best)}: {a.text()}; upper bound {a.high:+.2f} "
        f"{'<' if a.high < ABOUT_ZERO else '>='} +{ABOUT_ZERO}",
        f"(b) {name}'s accuracy at 30 % minus {against}: {b.text()}; lower bound {b.low:+.2f} "
        f"{'>' if b.low > 0 else '<='} 0",
    ]
    power = (min(a.n, b.n), (a.sd, b.sd), _correlation([differences, advantage]))
    if a.low > ABOUT_ZERO or b.high < 0:
        why = []
        if a.low > ABOUT_ZERO:
            why.append(f"significantly worse than {s.label(best)} by more than {ABOUT_ZERO} pp")
        if b.high < 0:
            why.append(f"accuracy significantly below {'the original' if s.original is not None else 'the baseline'}")
        return NOT_SUPPORTED, evidence + ["; ".join(why)], power
    if a.high < ABOUT_ZERO and b.low > 0:
        return SUPPORTED, evidence + ["non-inferior to the best other method and better than the original"], power
    return INCONCLUSIVE, evidence, power


def _conv_80_90_lowest(cells: _Cells, s: _Setting) -> _Judged:
    name = s.label(s.reference)
    missing = [t for t in LOWEST_AT if len(cells.get("conv", s.reference, t)) < 2]
    if missing:
        return INCONCLUSIVE, _missing(f"conv, {name}, {missing[0]} %"), None
    evidence = [
        f"{name} at {t} %: {_bound(cells.get('conv', s.reference, t).values(), s.floor).text()}" for t in LOWEST_AT
    ]
    pairs = [(t, m) for t in LOWEST_AT for m in s.others(cells, "conv", t)]
    absent = [t for t in LOWEST_AT if not any(pt == t for pt, _ in pairs)]
    if absent:
        return INCONCLUSIVE, evidence + [f"no other method has conv cells at {absent[0]} %"], None
    columns = [cells.difference("conv", s.reference, m, t) for t, m in pairs]
    bounds = [_bound(c.values(), s.floor) for c in columns]
    if any(b is None for b in bounds):
        (t, m), _ = next((p, b) for p, b in zip(pairs, bounds) if b is None)
        return INCONCLUSIVE, evidence + _missing(f"conv, {name} paired with {s.label(m)}, {t} %"), None
    adjusted = holm([b.two_sided_p() for b in bounds])
    power = (min(b.n for b in bounds), tuple(b.sd for b in bounds), _correlation(columns))
    family = f"Holm over {len(pairs)} two-sided paired tests"
    worse = [(t, m, b, p) for (t, m), b, p in zip(pairs, bounds, adjusted) if b.mean > 0 and p < ALPHA]
    if worse:
        evidence += [
            f"{s.label(m)} at {t} % is significantly lower: {name} minus it {b.mean:+.2f} pp, Holm p = {p:.3g}"
            for t, m, b, p in worse
        ]
        return NOT_SUPPORTED, evidence + [family], power
    iut = f"{len(pairs)} one-sided paired tests, each at alpha (intersection-union: no correction needed)"
    if all(b.high < 0 for b in bounds):
        (t, m), b = max(zip(pairs, bounds), key=lambda x: x[1].high)
        return (
            SUPPORTED,
            evidence
            + [
                f"significantly lower than every other method at both ({iut}); closest: {s.label(m)} at {t} %, "
                f"{name} minus it {b.text()}"
            ],
            power,
        )
    undecided = [f"{s.label(m)} at {t} % ({b.mean:+.2f}, upper bound {b.high:+.2f})" for (t, m), b in zip(pairs, bounds)
                 if not b.high < 0]  # fmt: skip
    return INCONCLUSIVE, evidence + [f"not significantly lower than: {', '.join(undecided)} ({iut})"], power


# The paper's claims, in its words, with the rule that decides each. One place: the report, the
# command and the KAR page all read these.
CLAIMS = (
    (
        PIXELS_50,
        "Input pixels: NormLIME's error gain is about 0 when 50 % of the pixels are removed",
        "0 % error gain at 50 %, the best of all methods",
        f"TOST: supported if the 90 % t-interval of the gain lies within ±{ABOUT_ZERO} pp (both one-sided t-tests "
        f"reject at alpha); not supported if it lies entirely above +{ABOUT_ZERO} or below -{ABOUT_ZERO} (the "
        "one-sided test shows the gain beyond the margin); otherwise inconclusive",
        _pixels_50_zero,
    ),
    (
        CONV_30,
        "Conv features: NormLIME reaches the best accuracy of all at 30 % removed, better than the original model",
        "99.31 % accuracy at 30 % against the original's 99.06 % (a gain of -0.25 pp)",
        "supported if (a) non-inferior to the best other method at 30 % (the other method with the lowest mean "
        f"gain there): the one-sided 95 % upper bound of the paired difference is below +{ABOUT_ZERO} pp, and (b) "
        "better than the original model: the 30 % retrained accuracy is above the checkpoint's own (manifest "
        "original_model.accuracy; without it, above the run's retrained baseline), one-sided t-test at alpha; "
        f"not supported if the lower bound of (a) is above +{ABOUT_ZERO} or the accuracy is significantly below "
        "the original's; otherwise inconclusive",
        _conv_30_best,
    ),
    (
        CONV_80_90,
        "Conv features: NormLIME has the lowest error gain of all methods at 80 % and 90 % removed",
        "0 pp at 80 % (LIME 0.3) and 0.45 pp at 90 % (LIME 0.6, all others at least 1.25)",
        "supported if NormLIME is significantly below every other method at both thresholds (one-sided paired "
        "t-tests, each at alpha: an intersection-union test needs no multiplicity correction); not supported if "
        "any other method is significantly below NormLIME (two-sided paired t-tests at alpha, Holm over the "
        "pairs); otherwise inconclusive",
        _conv_80_90_lowest,
    ),
)


@dataclass(frozen=True)
class Verdict:
    claim: str  # the claim's key
    statement: str  # the paper's claim in words
    paper: str  # what the paper reports
    outcome: str  # SUPPORTED, NOT_SUPPORTED or INCONCLUSIVE
    evidence: list[str] = field(default_factory=list)  # one line per fact the outcome rests on
    rule: str = ""
    power: Power | None = None  # None: no sd to measure (a cell missing or with one run)
    reference: str = REFERENCE  # the ranker in NormLIME's place
    convention: str | None = None  # None: the paper's conventions; else a key of rankers.CONVENTIONS

    def as_dict(self) -> dict:
        return asdict(self)


def verdicts(
    results: list[Result],
    label: Callable[[str], str] | None = None,
    *,
    original: float | None = None,
    convention: str | None = None,
    power: bool = True,
    floor: float = 0.0,
) -> list[Verdict]:
    """The paper's KAR claims judged on ``results`` (KAR mode only; ROAR runs answer other questions).

    ``original`` is the checkpoint's accuracy (:func:`original_accuracy`); ``convention`` a key of
    :data:`kar.core.rankers.CONVENTIONS`: NormLIME and LIME replaced by their variants (an empty list
    when the run has no such NormLIME). ``power=False`` skips the power (simulations of the rules).
    ``floor`` is the smallest sd taken (:func:`resolution` of the run's manifest).
    """
    label = label or rankers.label
    cells = _Cells(results)
    if convention is None:
        setting = _Setting(REFERENCE, {}, label, original, floor)
    else:
        variants = rankers.variants_of(convention)
        if variants.get(REFERENCE) not in cells.methods:
            return []
        present = {m: v for m, v in variants.items() if m != REFERENCE and v in cells.methods}
        setting = _Setting(variants[REFERENCE], present, label, original, floor)
    out = []
    for key, statement, paper, rule, judge in CLAIMS:
        outcome, evidence, inputs = judge(cells, setting)
        measured = _power(key, *inputs) if power and inputs else None
        out.append(Verdict(key, statement, paper, outcome, evidence, rule, measured, setting.reference, convention))
    return out


def confound_verdicts(
    results: list[Result],
    label: Callable[[str], str] | None = None,
    *,
    original: float | None = None,
    floor: float = 0.0,
) -> dict[str, list[Verdict]]:
    """{convention: the claims judged with NormLIME and LIME replaced by that convention's variants}, for
    each of :data:`kar.core.rankers.CONVENTIONS` whose NormLIME variant the run has."""
    out = {c: verdicts(results, label, original=original, convention=c, floor=floor) for c in rankers.CONVENTIONS}
    return {c: v for c, v in out.items() if v}


def verdicts_text(items: list[Verdict]) -> str:
    lines = []
    for v in items:
        lines.append(f"- {v.statement}: **{v.outcome}**. Paper: {v.paper}.")
        lines += [f"  - {e}" for e in v.evidence]
        lines.append(f"  - Power: {v.power.text}" if v.power else "  - Power: no sd to measure")
        lines.append(f"  - Rule: {v.rule}.")
    return "\n".join(lines)


def changed_claims(paper: list[Verdict], confounds: dict[str, list[Verdict]]) -> list[str]:
    """The claims whose outcome under some convention differs from the paper's conventions'."""
    outcome = {v.claim: v.outcome for v in paper}
    return [
        v.claim
        for v in paper
        if any(c.outcome != outcome[c.claim] for items in confounds.values() for c in items if c.claim == v.claim)
    ]


def confounds_rows(paper: list[Verdict], confounds: dict[str, list[Verdict]]) -> list[dict]:
    """One row per claim: its key, statement, the paper-convention outcome and each convention's outcome."""
    by = {c: {v.claim: v.outcome for v in items} for c, items in confounds.items()}
    return [
        {
            "claim": v.claim,
            "statement": v.statement,
            "paper": v.outcome,
            "conventions": [by[c].get(v.claim, "–") for c in confounds],
        }
        for v in paper
    ]


def confounds_text(paper: list[Verdict], confounds: dict[str, list[Verdict]], label=None) -> str:
    """The section "With the confounds" as Markdown: a table of outcomes, the claims that change, the details."""
    if not confounds:
        return ""
    label = label or rankers.label
    heads = [f"{label(items[0].reference)} ({c})" for c, items in confounds.items()]
    lines = [
        "The three claims judged again with NormLIME and LIME under each convention the paper does not state "
        f"(kar/core/rankers.py): {'; '.join(f'{c}: {rankers.CONVENTIONS[c]}' for c in confounds)}.",
        "",
        "| claim | paper's conventions | " + " | ".join(heads) + " |",
        "|---|---|" + "---|" * len(heads),
    ]
    lines += [
        f"| {r['claim']} | {r['paper']} | " + " | ".join(r["conventions"]) + " |"
        for r in confounds_rows(paper, confounds)
    ]
    changed = changed_claims(paper, confounds)
    lines += ["", f"Claims that change: {', '.join(changed)}." if changed else "No claim changes."]
    for c, items in confounds.items():
        lines += ["", f"With {label(items[0].reference)} ({c}):", "", verdicts_text(items)]
    return "\n".join(lines)
