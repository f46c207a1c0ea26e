"""kar.core.verdict: the paper's KAR claims judged by tests that can decide them (TOST, non-inferiority,
intersection-union), each with its power at the runs in the folder and the runs it needs for 80 %."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats
from scipy.stats import ttest_rel

from kar.core.cells import Result
from kar.core.verdict import (
    ABOUT_ZERO,
    CLAIMS,
    CONV_30,
    CONV_80_90,
    INCONCLUSIVE,
    NOT_SUPPORTED,
    PIXELS_50,
    SUPPORTED,
    changed_claims,
    confound_verdicts,
    confounds_text,
    one_sided_power,
    original_accuracy,
    power_at,
    runs_needed,
    tost_power,
    verdicts,
    verdicts_text,
)

T_95_3 = 2.353363  # t(0.95, 3): the one-sided 95 % bound (and the 90 % interval) over 4 runs
SD_ALTERNATING = 0.2 / math.sqrt(3)  # sd of [a + 0.1, a - 0.1, a + 0.1, a - 0.1]: sqrt(4 * 0.01 / 3)
HALF = T_95_3 * SD_ALTERNATING / 2  # 0.136: the bound's distance from the mean for those 4 runs


def rows(feature_set: str, gains: dict[tuple[str, int], list[float]], accuracy: dict | None = None) -> list[Result]:
    """KAR rows, run 1, 2, ...: the gains given, accuracy 0.9 unless ``accuracy`` gives a cell's per run."""
    accuracy = accuracy or {}
    out = []
    for (method, threshold), values in gains.items():
        accs = accuracy.get((method, threshold), [0.9] * len(values))
        out += [
            Result(feature_set, "kar", method, threshold, run, run - 1, a, g, 1.0)
            for run, (g, a) in enumerate(zip(values, accs), 1)
        ]
    return out


def verdict(results: list[Result], key: str, **options):
    return next(v for v in verdicts(results, **options) if v.claim == key)


def alternating(mean: float, step: float = 0.1, n: int = 4) -> list[float]:
    return [mean + step * (-1) ** i for i in range(n)]


# --- pixels at 50 %: TOST -------------------------------------------------------------------------------


def test_the_pixels_claim_is_supported_when_the_90_percent_interval_lies_within_a_quarter_point():
    # mean 0, sd 0.115, bound 2.353 * 0.115 / 2 = 0.136: the interval -0.14 to +0.14 lies within +-0.25
    v = verdict(rows("pixels", {("normlime", 50): alternating(0.0)}), PIXELS_50)
    assert v.outcome == SUPPORTED
    assert v.evidence[0] == "NormLIME at 50 % of pixels removed: +0.00 pp (90 % interval -0.14 to +0.14, 4 runs)"
    assert v.power.runs == 4 and v.power.sd == pytest.approx((SD_ALTERNATING,))


def test_tost_supports_what_the_old_95_percent_interval_left_inconclusive():
    # sd 0.173: the 90 % half-width 2.353 * 0.173 / 2 = 0.204 fits in 0.25, the 95 % one 3.182 * 0.173 / 2 = 0.276 did not
    v = verdict(rows("pixels", {("normlime", 50): alternating(0.0, 0.15)}), PIXELS_50)
    assert v.outcome == SUPPORTED and "-0.20 to +0.20" in v.evidence[0]
    assert 3.182446 * 0.3 / math.sqrt(3) / 2 > ABOUT_ZERO


def test_the_pixels_claim_is_not_supported_when_the_interval_lies_beyond_the_margin():
    # mean 1.0, sd sqrt(0.08 / 3) = 0.163, bound 0.192: 0.81 to 1.19, entirely above +0.25; and the mirror image
    above = verdict(rows("pixels", {("normlime", 50): [1.0, 1.2, 0.8, 1.0]}), PIXELS_50)
    below = verdict(rows("pixels", {("normlime", 50): [-1.0, -1.2, -0.8, -1.0]}), PIXELS_50)
    assert above.outcome == below.outcome == NOT_SUPPORTED
    assert "+0.81 to +1.19" in above.evidence[0] and "-1.19 to -0.81" in below.evidence[0]


def test_the_pixels_claim_is_inconclusive_when_the_interval_straddles_the_margin_or_one_run_is_all():
    # mean 0.3, bound 0.136: 0.16 to 0.44 reaches beyond +0.25 without lying beyond it
    straddles = verdict(rows("pixels", {("normlime", 50): alternating(0.3)}), PIXELS_50)
    single = verdict(rows("pixels", {("normlime", 50): [0.0]}), PIXELS_50)
    assert straddles.outcome == single.outcome == INCONCLUSIVE
    assert "+0.16 to +0.44" in straddles.evidence[0]
    assert "fewer than 2 runs" in single.evidence[0] and single.power is None


def test_gains_equal_in_every_run_have_an_exact_sign():
    exact = verdict(rows("pixels", {("normlime", 50): [0.5, 0.5]}), PIXELS_50)
    small = verdict(rows("pixels", {("normlime", 50): [0.1, 0.1]}), PIXELS_50)
    assert (exact.outcome, small.outcome) == (NOT_SUPPORTED, SUPPORTED)
    assert small.power.power == 1.0 and small.power.runs_needed == 2


def test_the_power_line_gives_the_arithmetic_in_words():
    # 8 runs with sd exactly 0.21: t(0.95, 7) = 1.895, half-width 1.895 * 0.21 / sqrt(8) = 0.14
    draws = np.random.default_rng(0).standard_normal(8)
    gains = list((draws - draws.mean()) / draws.std(ddof=1) * 0.21)
    v = verdict(rows("pixels", {("normlime", 50): gains}), PIXELS_50)
    assert v.power.text.startswith(
        "TOST at n = 8, sd 0.210: t(0.95, 7) = 1.895, half-width of the 90 % interval 0.14 pp < 0.25; power "
    )
    assert v.power.power == pytest.approx(tost_power(8, 0.21))
    assert v.power.text.endswith(f"by the noncentral t (exact, true gain 0); 80 % needs n >= {v.power.runs_needed}")


# --- conv at 30 %: non-inferiority and better than the original --------------------------------------

# NormLIME -0.3/-0.1, LIME -0.2/-0.2/-0.4/0.0 (mean -0.2, the lowest other), VarGrad +0.5: NormLIME - LIME
# = -0.1, +0.1, +0.1, -0.1, mean 0, upper bound +0.136 < +0.25
CONV_30_GAINS = {
    ("normlime", 30): [-0.3, -0.1, -0.3, -0.1],
    ("lime", 30): [-0.2, -0.2, -0.4, 0.0],
    ("vargrad", 30): [0.5] * 4,
}
ORIGINAL = 0.9906


def test_the_conv_30_claim_is_supported_when_non_inferior_to_the_best_other_and_above_the_original():
    # accuracy 99.3/99.4 %: 100 (acc - 0.9906) = 0.24, 0.34, 0.24, 0.34, mean 0.29, sd 0.0577, bound 0.068:
    # lower bound 0.22 > 0
    accuracy = {("normlime", 30): [0.993, 0.994, 0.993, 0.994]}
    v = verdict(rows("conv", CONV_30_GAINS, accuracy), CONV_30, original=ORIGINAL)
    assert v.outcome == SUPPORTED
    assert v.evidence[0] == "best other method at 30 %: LIME (mean gain -0.20 pp, the lowest of 2)"
    assert (
        v.evidence[1]
        == "(a) NormLIME minus LIME: +0.00 pp (90 % interval -0.14 to +0.14, 4 runs); upper bound +0.14 < +0.25"
    )
    assert v.evidence[2] == (
        "(b) NormLIME's accuracy at 30 % minus the original model's 99.06 % (manifest original_model.accuracy): "
        "+0.29 pp (90 % interval +0.22 to +0.36, 4 runs); lower bound +0.22 > 0"
    )
    assert v.power.sd == pytest.approx((SD_ALTERNATING, SD_ALTERNATING / 2))


def test_without_the_original_models_accuracy_the_retrained_baseline_stands_in_and_the_evidence_says_so():
    # minus the gain: 0.3, 0.1, 0.3, 0.1, mean 0.2, lower bound 0.2 - 0.136 = 0.064 > 0
    v = verdict(rows("conv", CONV_30_GAINS), CONV_30)
    assert v.outcome == SUPPORTED
    assert (
        "minus the run's retrained baseline (manifest.json has no original_model accuracy): +0.20 pp" in v.evidence[2]
    )
    assert "lower bound +0.06 > 0" in v.evidence[2]


def test_the_conv_30_claim_is_not_supported_when_significantly_worse_than_the_best_other_by_the_margin():
    # NormLIME - LIME = 0.6, 0.8, 0.6, 0.8: lower bound 0.7 - 0.136 = 0.56 > +0.25
    gains = {("normlime", 30): [0.6, 0.8, 0.6, 0.8], ("lime", 30): [0.0] * 4}
    v = verdict(rows("conv", gains), CONV_30)
    assert v.outcome == NOT_SUPPORTED
    assert v.evidence[-1].startswith("significantly worse than LIME by more than 0.25 pp")


def test_the_conv_30_claim_is_not_supported_when_the_accuracy_is_significantly_below_the_original():
    # 100 (acc - 0.9906) = -0.56, -0.46, ...: upper bound -0.51 + 0.068 = -0.44 < 0
    accuracy = {("normlime", 30): [0.985, 0.986, 0.985, 0.986]}
    v = verdict(rows("conv", CONV_30_GAINS, accuracy), CONV_30, original=ORIGINAL)
    assert v.outcome == NOT_SUPPORTED
    assert v.evidence[-1] == "accuracy significantly below the original"


def test_the_conv_30_claim_is_inconclusive_when_neither_bound_decides():
    # NormLIME - LIME = 0.1, 0.3, 0.1, 0.3: 0.06 to 0.34 (non-inferiority not shown, not refuted)
    gains = {("normlime", 30): [-0.1, 0.1, -0.1, 0.1], ("lime", 30): [-0.2, -0.2, -0.2, -0.2]}
    v = verdict(rows("conv", gains), CONV_30)
    assert v.outcome == INCONCLUSIVE and "+0.06 to +0.34" in v.evidence[1]


def test_the_original_models_accuracy_is_read_from_the_manifest_as_a_fraction():
    assert original_accuracy({"original_model": {"accuracy": 0.9906}}) == 0.9906
    assert original_accuracy({}) is None
    assert original_accuracy({"original_model": {"accuracy": 99.06}}) is None  # a percentage is not a fraction


# --- conv at 80 and 90 %: intersection-union ------------------------------------------------------------


def conv_80_90(lime: list[float], vargrad: list[float]) -> list[Result]:
    """NormLIME at 0, 0.2, 0, 0.2 at 80 and 90 %; LIME and VarGrad at NormLIME plus the given differences."""
    base = np.array([0.0, 0.2, 0.0, 0.2])
    gains = {}
    for t in (80, 90):
        gains[("normlime", t)] = list(base)
        gains[("lime", t)] = list(base - np.array(lime))
        gains[("vargrad", t)] = list(base - np.array(vargrad))
    return rows("conv", gains)


def test_the_conv_80_90_claim_is_supported_when_normlime_is_significantly_below_every_other_at_both():
    # NormLIME - each = -1.1, -0.9, -1.1, -0.9: upper bound -1 + 0.136 = -0.86 < 0, four times
    v = verdict(conv_80_90(alternating(-1.0), alternating(-1.0)), CONV_80_90)
    assert v.outcome == SUPPORTED
    assert "4 one-sided paired tests, each at alpha (intersection-union: no correction needed)" in v.evidence[-1]
    assert v.power.sd == pytest.approx((SD_ALTERNATING,) * 4)


def test_the_intersection_union_test_needs_no_holm_correction():
    # NormLIME - each = -0.1, -0.3, -0.1, -0.3: t = -0.2 / 0.0577 = -3.46, one-sided p = 0.020 each; Holm over
    # the 4 tests would make it 0.081, but every test must reject on its own, so each stays at alpha
    differences = alternating(-0.2)
    assert stats.ttest_1samp(differences, 0, alternative="less").pvalue == pytest.approx(0.0203, abs=1e-4)
    v = verdict(conv_80_90(differences, differences), CONV_80_90)
    assert v.outcome == SUPPORTED and "-0.34 to -0.06" in v.evidence[-1]


def test_the_conv_80_90_claim_is_not_supported_when_another_method_is_significantly_lower():
    # NormLIME - LIME at 80 and 90 % = 1.1, 0.9, ...: t = 17.3, two-sided p = 0.0004, Holm over 4 still < 0.05
    v = verdict(conv_80_90(alternating(1.0), alternating(-1.0)), CONV_80_90)
    assert v.outcome == NOT_SUPPORTED
    assert v.evidence[2].startswith("LIME at 80 % is significantly lower: NormLIME minus it +1.00 pp, Holm p = ")
    assert v.evidence[-1] == "Holm over 4 two-sided paired tests"


def test_holm_keeps_two_raw_significances_from_refuting_the_claim():
    # NormLIME - each = 0.3, 0.1, 0.3, 0.1: raw two-sided p 0.0405 four times; Holm by hand: 4 x 0.0405 = 0.162
    differences = alternating(0.2)
    nl = [r.error_gain for r in conv_80_90(differences, differences) if r.method == "normlime" and r.threshold == 80]
    lime = [r.error_gain for r in conv_80_90(differences, differences) if r.method == "lime" and r.threshold == 80]
    assert ttest_rel(nl, lime).pvalue == pytest.approx(0.0405, abs=1e-4)
    v = verdict(conv_80_90(differences, differences), CONV_80_90)
    assert v.outcome == INCONCLUSIVE
    assert v.evidence[-1].startswith("not significantly lower than: LIME at 80 % (+0.20, upper bound +0.34)")


def test_kars_variants_are_never_other_methods_of_the_papers_claims():
    results = conv_80_90(alternating(-1.0), alternating(-1.0))
    results += rows("conv", {("variance", 80): [-5.0, -5.1, -5.0, -5.1], ("variance", 90): [-5.0, -5.1, -5.0, -5.1]})
    results += rows("conv", {("variance", 30): [-9.0] * 4, **CONV_30_GAINS})
    assert verdict(results, CONV_80_90).outcome == SUPPORTED
    assert "best other method at 30 %: LIME" in verdict(results, CONV_30).evidence[0]


def test_every_claim_is_judged_and_missing_cells_make_it_inconclusive():
    items = verdicts([])
    assert [v.claim for v in items] == [key for key, *_ in CLAIMS]
    assert {v.outcome for v in items} == {INCONCLUSIVE}
    text = verdicts_text(items)
    assert text.count("**inconclusive**") == len(CLAIMS) and text.count("Power: no sd to measure") == len(CLAIMS)
    assert json.loads(json.dumps([v.as_dict() for v in items]))[0]["power"] is None


# --- the confounds ------------------------------------------------------------------------------------


def test_the_claims_are_judged_again_with_normlime_and_lime_under_each_variant_convention():
    results = rows("pixels", {("normlime", 50): [1.0, 1.2, 0.8, 1.0], ("normlime_std", 50): alternating(0.0)})
    results += conv_80_90(alternating(-1.0), alternating(-1.0))
    results += rows("conv", {(m, t): alternating(9.0) for m in ("normlime_std", "lime_std") for t in (80, 90)})
    confounds = confound_verdicts(results)
    assert list(confounds) == ["std"]  # no normlime_logp in the run
    std = {v.claim: v for v in confounds["std"]}
    assert std[PIXELS_50].outcome == SUPPORTED and std[PIXELS_50].reference == "normlime_std"
    # LIME replaced by LIME (std. weights): NormLIME (std.) - it = 0, so not lower; VarGrad is 10 pp below it
    assert std[CONV_80_90].outcome == NOT_SUPPORTED
    assert any(
        e.startswith("VarGrad at 90 % is significantly lower: NormLIME (std. weights) minus it")
        for e in std[CONV_80_90].evidence
    )
    assert len(std[CONV_80_90].power.sd) == 4 and not any(e.startswith("LIME at") for e in std[CONV_80_90].evidence)
    paper = verdicts(results)
    assert [v.outcome for v in paper][::2] == [NOT_SUPPORTED, SUPPORTED]
    assert changed_claims(paper, confounds) == [PIXELS_50, CONV_80_90]
    text = confounds_text(paper, confounds)
    assert "| pixels-50-zero | not supported | supported |" in text
    assert "Claims that change: pixels-50-zero, conv-80-90-lowest." in text


# --- power ----------------------------------------------------------------------------------------------


def test_power_is_exact_where_one_test_decides():
    # one one-sided test: P(noncentral t(3, 0.25 * sqrt(4) / 0.25 = 2) > t(0.95, 3))
    assert one_sided_power(4, 0.25) == pytest.approx(stats.nct.sf(T_95_3, 3, 2.0), rel=1e-6)
    assert power_at(CONV_80_90, 4, [0.25], others=None) == pytest.approx(one_sided_power(4, 0.25), abs=0.01)
    assert tost_power(5, 0.0) == 1.0 and runs_needed(PIXELS_50, 0.0) == 2


def test_two_independent_tests_have_the_product_of_their_powers():
    product = one_sided_power(20, 0.365) ** 2
    assert power_at(CONV_30, 20, 0.365) == pytest.approx(product, abs=0.01)  # Monte-Carlo, 20,000 draws


def _simulated_share(claim: str, draws: int, seed: int, make, **options) -> float:
    """The share of ``draws`` synthetic result sets that the rule itself (verdicts) judges supported."""
    rng = np.random.default_rng(seed)
    return sum(verdict(make(rng), claim, power=False, **options).outcome == SUPPORTED for _ in range(draws)) / draws


def test_the_tost_power_matches_a_monte_carlo_of_the_rule_itself():
    n, sd = 4, 0.1
    share = _simulated_share(
        PIXELS_50, 400, 1, lambda rng: rows("pixels", {("normlime", 50): list(rng.normal(0, sd, n))})
    )
    assert share == pytest.approx(tost_power(n, sd), abs=3 * math.sqrt(0.25 / 400))


def test_the_conv_30_power_matches_a_monte_carlo_of_the_rule_itself():
    # NormLIME's gain constant, the one other method's normal: the difference has sd 0.12 about 0; the accuracy
    # is independent of it, with sd 0.10 pp about the original's + 0.25 pp (a true advantage of delta)
    n, sd_difference, sd_accuracy = 4, 0.12, 0.10

    def make(rng):
        gains = {("normlime", 30): [0.0] * n, ("lime", 30): list(rng.normal(0, sd_difference, n))}
        accuracy = {("normlime", 30): list(ORIGINAL + (ABOUT_ZERO + rng.normal(0, sd_accuracy, n)) / 100)}
        return rows("conv", gains, accuracy)

    share = _simulated_share(CONV_30, 400, 2, make, original=ORIGINAL)
    assert share == pytest.approx(power_at(CONV_30, n, (sd_difference, sd_accuracy)), abs=3 * math.sqrt(0.25 / 400))


def test_the_conv_80_90_power_matches_a_monte_carlo_of_the_rule_itself_with_a_shared_normlime_cell():
    # NormLIME's per-run value c shared by both thresholds, two others at c + delta's distance plus their own
    # noise of the same sd: each difference has sd sqrt(2) * 0.1 and any two correlate 0.5
    n, sd_cell = 4, 0.1

    def make(rng):
        shared = rng.normal(0, sd_cell, n)
        gains = {}
        for t in (80, 90):
            gains[("normlime", t)] = list(shared)
            for m in ("lime", "vargrad"):
                gains[(m, t)] = list(ABOUT_ZERO + rng.normal(0, sd_cell, n))
        return rows("conv", gains)

    share = _simulated_share(CONV_80_90, 400, 3, make)
    expected = power_at(CONV_80_90, n, math.sqrt(2) * sd_cell, rho=0.5, others=2)
    assert share == pytest.approx(expected, abs=3 * math.sqrt(0.25 / 400))
    assert expected > power_at(CONV_80_90, n, math.sqrt(2) * sd_cell, rho=0.0, others=2) + 0.05  # the sharing counts


def _passes_tost(rng, n: int, sd: float, draws: int) -> np.ndarray:
    x = rng.normal(0.0, sd, (draws, n))
    half = stats.t.ppf(0.95, n - 1) * x.std(axis=1, ddof=1) / math.sqrt(n)
    return (x.mean(axis=1) - half > -ABOUT_ZERO) & (x.mean(axis=1) + half < ABOUT_ZERO)


def _upper_bounds(rng, mean: float, n: int, sd: float, shape: tuple) -> tuple[np.ndarray, np.ndarray]:
    x = rng.normal(mean, sd, (*shape, n))
    half = stats.t.ppf(0.95, n - 1) * x.std(axis=-1, ddof=1) / math.sqrt(n)
    return x.mean(axis=-1) - half, x.mean(axis=-1) + half


@pytest.mark.parametrize("sd", [0.365, 0.15])
@pytest.mark.parametrize("claim", [PIXELS_50, CONV_30, CONV_80_90])
def test_at_the_runs_needed_a_method_that_truly_meets_the_claim_passes_at_least_80_percent_of_the_time(claim, sd):
    n = runs_needed(claim, sd)
    assert power_at(claim, n, sd) >= 0.80 > power_at(claim, n - 1, sd)  # the smallest such n
    rng, draws = np.random.default_rng(11), 20_000
    if claim == PIXELS_50:  # true gain 0
        passed = _passes_tost(rng, n, sd, draws)
    elif claim == CONV_30:  # true difference 0 to the best other, true advantage +delta over the original
        _, difference_high = _upper_bounds(rng, 0.0, n, sd, (draws,))
        advantage_low, _ = _upper_bounds(rng, ABOUT_ZERO, n, sd, (draws,))
        passed = (difference_high < ABOUT_ZERO) & (advantage_low > 0)
    else:  # true difference -delta to each of the 6 other methods at 80 and 90 %
        _, high = _upper_bounds(rng, -ABOUT_ZERO, n, sd, (draws, 12))
        passed = np.all(high < 0, axis=1)
    assert passed.mean() >= 0.80


def test_the_pixels_claim_needs_20_runs_at_the_measured_median_sd_and_5_at_0_15():
    # roughly ((t(0.95, n - 1) + z(0.90)) sd / delta)^2: ((1.73 + 1.28) 0.365 / 0.25)^2 = 19.3, so 20
    assert (runs_needed(PIXELS_50, 0.365), runs_needed(PIXELS_50, 0.15)) == (20, 5)


def test_no_sd_is_taken_below_one_test_images_worth_so_two_runs_that_agree_prove_nothing():
    from kar.core.verdict import Bound, resolution

    assert resolution({"feature_spaces": {"pixels": {"test": 10000}, "conv": {"test": 10000}}}) == 0.01
    assert resolution({"feature_spaces": {"pixels": {"test": 1000}}}) == pytest.approx(0.1)
    assert resolution({}) == 0.0
    agree = Bound((0.47, 0.47), floor=0.1)  # two runs, the same difference of 0.47 pp on 1,000 test digits
    assert agree.sd == 0.1
    # t = 0.47 / (0.1 / sqrt 2) = 6.647 with 1 df: two-sided p = 2 * (1/2 - arctan(6.647) / pi) = 0.0951
    assert agree.two_sided_p() == pytest.approx(0.0951, abs=1e-4)
    assert Bound((0.47, 0.47)).two_sided_p() == 0.0  # without the floor: "exact"
    spread = Bound((0.1, 0.3, 0.2), floor=0.01)  # the floor does not bind: scipy's t-test
    from scipy import stats

    assert spread.two_sided_p() == pytest.approx(stats.ttest_1samp([0.1, 0.3, 0.2], 0.0).pvalue, rel=1e-12)
