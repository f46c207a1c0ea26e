"""kar.core.verdict: each of the paper's KAR claims judged supported, not supported or inconclusive, by stated rules."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import ttest_rel

from kar.core.cells import Result
from kar.core.verdict import CLAIMS, INCONCLUSIVE, NOT_SUPPORTED, SUPPORTED, verdicts, verdicts_text

T_975_4 = 2.776445  # t quantile for a 95 % interval over 5 runs (4 degrees of freedom)


def cells(feature_set: str, gains: dict[tuple[str, int], list[float]]) -> list[Result]:
    out = []
    for (method, threshold), values in gains.items():
        out += [
            Result(feature_set, "kar", method, threshold, run, run - 1, 0.9, g, 1.0) for run, g in enumerate(values, 1)
        ]
    return out


def verdict(results: list[Result], key: str):
    return next(v for v in verdicts(results) if v.claim == key)


FLAT = [0.1, 0.1, 0.1, 0.1, 0.1]


def test_pixels_at_50_percent_is_about_zero_when_the_interval_lies_within_a_quarter_point():
    # mean 0, sd 0.1: half-width 2.776 * 0.1 / sqrt(5) = 0.124, inside +-0.25
    v = verdict(cells("pixels", {("normlime", 50): [0.1, -0.1, 0.0, 0.1, -0.1]}), "pixels-50-zero")
    assert v.outcome == SUPPORTED
    assert (
        f"{0:+.2f} pp (95 % interval {-T_975_4 * 0.1 / np.sqrt(5):+.2f} to {T_975_4 * 0.1 / np.sqrt(5):+.2f}, 5 runs)"
        in v.evidence[0]
    )


def test_pixels_at_50_percent_is_not_about_zero_when_the_interval_lies_above_a_quarter_point():
    # mean 1.0, sd sqrt(0.02): interval 0.82 to 1.18
    v = verdict(cells("pixels", {("normlime", 50): [1.0, 1.2, 0.8, 1.0, 1.0]}), "pixels-50-zero")
    assert v.outcome == NOT_SUPPORTED
    assert "+0.82 to +1.18" in v.evidence[0]


def test_pixels_at_50_percent_is_inconclusive_with_a_wide_interval_or_a_single_run():
    wide = verdict(cells("pixels", {("normlime", 50): [0.2, 0.6]}), "pixels-50-zero")  # 0.4 +- 2.54
    single = verdict(cells("pixels", {("normlime", 50): [0.0]}), "pixels-50-zero")
    assert wide.outcome == single.outcome == INCONCLUSIVE
    assert "fewer than 2 runs" in single.evidence[0]


def test_conv_at_30_percent_is_the_best_when_below_zero_lowest_and_nothing_is_significantly_lower():
    gains = {
        ("normlime", 30): [-0.5, -0.4, -0.6, -0.5, -0.5],
        ("normlime", 40): [-0.3, -0.5, -0.4, -0.4, -0.4],
        ("lime", 30): FLAT,
    }
    v = verdict(cells("conv", gains), "conv-30-best")
    assert v.outcome == SUPPORTED
    assert "lowest mean gain of the 3 conv cells: NormLIME at 30 % (-0.50 pp)" in v.evidence


def test_conv_at_30_percent_is_not_the_best_when_another_cell_is_significantly_lower():
    gains = {("normlime", 30): [-0.5, -0.4, -0.6, -0.5, -0.5], ("lime", 40): [-1.5, -1.3, -1.6, -1.5, -1.6]}
    v = verdict(cells("conv", gains), "conv-30-best")
    assert v.outcome == NOT_SUPPORTED
    assert any("LIME at 40 %: -1.00 pp" in e for e in v.evidence)


def test_conv_at_30_percent_is_not_the_best_when_no_better_than_the_original_model():
    v = verdict(cells("conv", {("normlime", 30): [0.1, 0.2, 0.3, 0.2, 0.2], ("lime", 30): [0.5] * 5}), "conv-30-best")
    assert v.outcome == NOT_SUPPORTED
    assert v.evidence[-1] == "the gain is not below 0: no better than the original model"


def _conv_80_90(lime_difference: float, vargrad_difference: float) -> list[Result]:
    """NormLIME at 80 and 90 %; LIME and VarGrad above it by the given mean, with paired noise [-1, 1, 0, 0, 0]."""
    noise = np.array([-1.0, 1.0, 0.0, 0.0, 0.0])
    base = np.array([0.0, 0.2, 0.1, 0.3, 0.4])
    gains = {}
    for t in (80, 90):
        gains[("normlime", t)] = list(base)
        gains[("lime", t)] = list(base + lime_difference + noise)
        gains[("vargrad", t)] = list(base + vargrad_difference + noise)
    return cells("conv", gains)


def test_conv_at_80_and_90_percent_is_supported_when_normlime_is_significantly_lowest_at_both():
    v = verdict(_conv_80_90(5.0, 6.0), "conv-80-90-lowest")
    assert v.outcome == SUPPORTED
    assert "Holm over 4 paired tests" in v.evidence[-1]


def test_conv_at_80_and_90_percent_is_not_supported_when_a_method_is_significantly_lower():
    v = verdict(_conv_80_90(-5.0, 6.0), "conv-80-90-lowest")
    assert v.outcome == NOT_SUPPORTED
    assert any(e.startswith("LIME at 80 % is significantly lower") for e in v.evidence)


def test_holm_correction_turns_two_raw_significances_into_an_inconclusive_verdict():
    # differences 1.03 and 0.95 with noise of sd 1/sqrt(2): t = m * sqrt(10) = 3.26 and 3.00, raw p 0.031 and 0.040,
    # each at 80 and 90 %. Holm by hand: sorted 0.031, 0.031, 0.040, 0.040 times 4, 3, 2, 1, each raised to the
    # largest before it: 0.125 for all four, so nothing stays significant.
    results = _conv_80_90(1.03, 0.95)
    nl = [r.error_gain for r in results if r.method == "normlime" and r.threshold == 80]
    lime = [r.error_gain for r in results if r.method == "lime" and r.threshold == 80]
    vargrad = [r.error_gain for r in results if r.method == "vargrad" and r.threshold == 80]
    assert ttest_rel(nl, lime).pvalue == pytest.approx(0.031, abs=1e-3)
    assert ttest_rel(nl, vargrad).pvalue == pytest.approx(0.040, abs=1e-3)
    holm = 4 * ttest_rel(nl, lime).pvalue
    v = verdict(results, "conv-80-90-lowest")
    assert v.outcome == INCONCLUSIVE
    assert (
        f"not significantly lower than: LIME at 80 % (-1.03 pp, p = {holm:.3g}), VarGrad at 80 % (-0.95 pp, p = {holm:.3g})"
        in v.evidence[-1]
    )


def test_every_claim_is_judged_and_missing_cells_make_it_inconclusive():
    items = verdicts([])
    assert [v.claim for v in items] == [key for key, *_ in CLAIMS]
    assert {v.outcome for v in items} == {INCONCLUSIVE}
    text = verdicts_text(items)
    assert text.count("**inconclusive**") == len(CLAIMS)
