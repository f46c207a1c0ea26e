"""A verdict on each of the paper's KAR claims: supported, not supported or inconclusive, with the evidence.

The claims are the paper's words (section "Numerical Evaluation with KAR"); the
rules that decide them are written here once and stated in every verdict, so a
reader can check them against ``results.csv`` by hand:

- Intervals are 95 % t-intervals over runs (:func:`kar.core.report._ci_half_width`);
  differences between two cells are paired by run (same seed, same retrained
  baseline) and tested with the paired t-test, Holm-corrected within a claim
  (:func:`explainers.multiple_testing.holm`), at alpha = 0.05.
- "About 0" means within ±0.25 percentage points: the paper's own smallest
  difference it calls a difference ("all other baselines observe at least
  0.25 % error gain at 50 %").
- A claim needs at least 2 runs; with fewer, or with a cell missing, it is
  inconclusive and says what is missing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np

from explainers.multiple_testing import holm

from .cells import Result

SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE = "supported", "not supported", "inconclusive"
ALPHA = 0.05
ABOUT_ZERO = 0.25  # percentage points: the paper's smallest difference it calls one
REFERENCE = "normlime"


@dataclass(frozen=True)
class Verdict:
    claim: str  # the claim's key
    statement: str  # the paper's claim in words
    paper: str  # what the paper reports
    outcome: str  # SUPPORTED, NOT_SUPPORTED or INCONCLUSIVE
    evidence: list[str] = field(default_factory=list)  # one line per fact the outcome rests on
    rule: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


class _Cells:
    """Gains by (feature set, method, threshold) -> {run: gain}, and paired tests between any two cells."""

    def __init__(self, results: list[Result], mode: str = "kar"):
        self.gains: dict[tuple[str, str, int], dict[int, float]] = {}
        for r in results:
            if r.mode == mode and not r.is_baseline:
                self.gains.setdefault((r.feature_set, r.method, r.threshold), {})[r.run] = r.error_gain

    def methods(self, feature_set: str) -> list[str]:
        return sorted({m for fs, m, _ in self.gains if fs == feature_set})

    def cells(self, feature_set: str) -> list[tuple[str, int]]:
        return sorted((m, t) for fs, m, t in self.gains if fs == feature_set)

    def get(self, feature_set: str, method: str, threshold: int) -> dict[int, float]:
        return self.gains.get((feature_set, method, threshold), {})

    def interval(self, feature_set: str, method: str, threshold: int) -> tuple[float, float, float, int] | None:
        """(mean, low, high, runs) of a cell's gain, or None with fewer than 2 runs."""
        from .report import _ci_half_width

        values = list(self.get(feature_set, method, threshold).values())
        if len(values) < 2:
            return None
        mean, half = float(np.mean(values)), _ci_half_width(float(np.std(values, ddof=1)), len(values))
        return mean, mean - half, mean + half, len(values)

    def paired(self, feature_set: str, a: tuple[str, int], b: tuple[str, int]) -> tuple[float, float, int]:
        """(mean of a - b, two-sided p, runs) over the runs both cells have; p = 1 with no variation or < 2 runs."""
        from scipy.stats import ttest_rel

        from .report import varies

        ga, gb = self.get(feature_set, *a), self.get(feature_set, *b)
        runs = sorted(set(ga) & set(gb))
        x, y = np.array([ga[r] for r in runs]), np.array([gb[r] for r in runs])
        if len(runs) < 2:
            return float(np.mean(x - y)) if runs else float("nan"), 1.0, len(runs)
        diff = x - y
        if not varies(diff):  # identical differences in every run: no test, the sign is exact
            return float(diff.mean()), (0.0 if diff.mean() != 0 else 1.0), len(runs)
        return float(diff.mean()), float(ttest_rel(x, y).pvalue), len(runs)


def _fmt(interval: tuple[float, float, float, int]) -> str:
    mean, low, high, runs = interval
    return f"{mean:+.2f} pp (95 % interval {low:+.2f} to {high:+.2f}, {runs} runs)"


def _missing(what: str) -> list[str]:
    return [f"{what}: fewer than 2 runs in results.csv, so no interval"]


def _pixels_50_zero(cells: _Cells, label: Callable[[str], str]) -> tuple[str, list[str]]:
    ci = cells.interval("pixels", REFERENCE, 50)
    if ci is None:
        return INCONCLUSIVE, _missing(f"pixels, {label(REFERENCE)}, 50 %")
    _, low, high, _ = ci
    evidence = [f"{label(REFERENCE)} at 50 % of pixels removed: {_fmt(ci)}"]
    if -ABOUT_ZERO <= low and high <= ABOUT_ZERO:
        return SUPPORTED, evidence + [f"the interval lies within ±{ABOUT_ZERO} pp"]
    if low > ABOUT_ZERO or high < -ABOUT_ZERO:
        return NOT_SUPPORTED, evidence + [f"the interval lies entirely outside ±{ABOUT_ZERO} pp"]
    return INCONCLUSIVE, evidence + [f"the interval reaches beyond ±{ABOUT_ZERO} pp but is not outside it"]


def _conv_30_best(cells: _Cells, label: Callable[[str], str]) -> tuple[str, list[str]]:
    best = (REFERENCE, 30)
    ci = cells.interval("conv", *best)
    if ci is None:
        return INCONCLUSIVE, _missing(f"conv, {label(REFERENCE)}, 30 %")
    evidence = [f"{label(REFERENCE)} at 30 % of conv features removed: {_fmt(ci)} against the retrained baseline"]
    others = [c for c in cells.cells("conv") if c != best]
    tests = [cells.paired("conv", c, best) for c in others]
    adjusted = holm([p for _, p, _ in tests])
    lower = [(c, d, p) for c, (d, _, _), p in zip(others, tests, adjusted) if d < 0 and p < ALPHA]
    means = {c: float(np.mean(list(cells.get("conv", *c).values()))) for c in cells.cells("conv")}
    lowest = min(means, key=means.get)
    evidence.append(
        f"lowest mean gain of the {len(means)} conv cells: {label(lowest[0])} at {lowest[1]} % "
        f"({means[lowest]:+.2f} pp)"
    )
    if lower:
        (m, t), d, p = min(lower, key=lambda x: x[1])
        evidence.append(
            f"{len(lower)} cell(s) significantly lower than {label(REFERENCE)} at 30 % "
            f"(Holm over {len(others)} paired tests), e.g. {label(m)} at {t} %: {d:+.2f} pp, p = {p:.3g}"
        )
        return NOT_SUPPORTED, evidence
    evidence.append(f"no cell significantly lower (Holm over {len(others)} paired tests)")
    _, low, high, _ = ci
    if low >= 0:
        return NOT_SUPPORTED, evidence + ["the gain is not below 0: no better than the original model"]
    if high < 0 and lowest == best:
        return SUPPORTED, evidence + ["below 0 (better than the retrained original) and the lowest mean of all cells"]
    return INCONCLUSIVE, evidence


def _conv_80_90_lowest(cells: _Cells, label: Callable[[str], str]) -> tuple[str, list[str]]:
    thresholds = (80, 90)
    missing = [t for t in thresholds if cells.interval("conv", REFERENCE, t) is None]
    if missing:
        return INCONCLUSIVE, _missing(f"conv, {label(REFERENCE)}, {missing[0]} %")
    pairs = [(t, m) for t in thresholds for m in cells.methods("conv") if m != REFERENCE and cells.get("conv", m, t)]
    tests = [cells.paired("conv", (REFERENCE, t), (m, t)) for t, m in pairs]
    adjusted = holm([p for _, p, _ in tests])
    evidence = [f"{label(REFERENCE)} at {t} %: {_fmt(cells.interval('conv', REFERENCE, t))}" for t in thresholds]
    worse = [(t, m, d, p) for (t, m), (d, _, _), p in zip(pairs, tests, adjusted) if d > 0 and p < ALPHA]
    better = [(t, m, d, p) for (t, m), (d, _, _), p in zip(pairs, tests, adjusted) if d < 0 and p < ALPHA]
    family = f"Holm over {len(pairs)} paired tests"
    if worse:
        evidence += [
            f"{label(m)} at {t} % is significantly lower: {label(REFERENCE)} minus it {d:+.2f} pp, p = {p:.3g}"
            for t, m, d, p in worse
        ]
        return NOT_SUPPORTED, evidence + [family]
    if len(better) == len(pairs):
        closest = max(zip(pairs, tests, adjusted), key=lambda x: x[1][0])
        (t, m), (d, _, _), p = closest
        return SUPPORTED, evidence + [
            f"lower than every other method at both thresholds ({family}); "
            f"closest: {label(m)} at {t} %, {d:+.2f} pp, p = {p:.3g}"
        ]
    undecided = [
        f"{label(m)} at {t} % ({d:+.2f} pp, p = {p:.3g})"
        for (t, m), (d, _, _), p in zip(pairs, tests, adjusted)
        if not (d < 0 and p < ALPHA)
    ]
    return INCONCLUSIVE, evidence + [f"not significantly lower than: {', '.join(undecided)} ({family})"]


# The paper's claims, in its words, with the rule that decides each. One place: the report, the
# command and the KAR page all read these.
CLAIMS = (
    (
        "pixels-50-zero",
        "Input pixels: NormLIME's error gain is about 0 when 50 % of the pixels are removed",
        "0 % error gain at 50 %, the best of all methods",
        f"supported if the 95 % interval lies within ±{ABOUT_ZERO} pp; not supported if it lies entirely outside",
        _pixels_50_zero,
    ),
    (
        "conv-30-best",
        "Conv features: NormLIME reaches the best accuracy of all at 30 % removed, better than the original model",
        "99.31 % accuracy at 30 % against the original's 99.06 % (a gain of -0.25 pp)",
        "supported if the gain's interval is below 0 and it is the lowest mean of all conv cells with no cell "
        "significantly lower; not supported if the interval lies entirely at or above 0 or a cell is significantly lower",
        _conv_30_best,
    ),
    (
        "conv-80-90-lowest",
        "Conv features: NormLIME has the lowest error gain of all methods at 80 % and 90 % removed",
        "0 pp at 80 % (LIME 0.3) and 0.45 pp at 90 % (LIME 0.6, all others at least 1.25)",
        "supported if NormLIME is significantly lower than every other method at both thresholds; not supported "
        "if any method is significantly lower than NormLIME at either",
        _conv_80_90_lowest,
    ),
)


def verdicts(results: list[Result], label: Callable[[str], str] | None = None) -> list[Verdict]:
    """The paper's KAR claims judged on ``results`` (KAR mode only; ROAR runs answer other questions)."""
    if label is None:
        from explainers.methods.registry import label
    cells = _Cells(results)
    out = []
    for key, statement, paper, rule, judge in CLAIMS:
        outcome, evidence = judge(cells, label)
        out.append(
            Verdict(
                key,
                statement,
                paper,
                outcome,
                evidence,
                rule + f"; paired t-tests Holm-corrected at alpha = {ALPHA}, intervals 95 % t over runs",
            )
        )
    return out


def verdicts_text(items: list[Verdict]) -> str:
    lines = []
    for v in items:
        lines.append(f"- {v.statement}: **{v.outcome}**. Paper: {v.paper}.")
        lines += [f"  - {e}" for e in v.evidence]
    return "\n".join(lines)
