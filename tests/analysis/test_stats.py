"""Tests for analysis.stats: every statistic against arithmetic done by hand.

No Django needed: analysis.stats imports only NumPy/SciPy/statsmodels.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache

import numpy as np
import pytest
from scipy import stats as sps

from analysis.stats import (
    ANALYTIC_P_FLOOR,
    TUKEY_P_FLOOR,
    analyze,
    anova_lm_check,
    attention_filter,
    bootstrap_share_ci,
    chi_square_totals,
    format_p,
    friedman,
    holm,
    hotelling_contrasts,
    pairwise_wilcoxon,
    paper_anova,
    tally,
    tukey_hsd,
)
from explainers.methods import registry

NL, LI, SG, VG = range(4)  # indices into registry.names(paper=True)


def test_methods_are_in_the_documented_order():
    assert registry.names(paper=True) == ("normlime", "lime", "smoothgrad", "vargrad")
    assert tally([[0]]).methods == registry.names(paper=True)  # the default of every test


# --------------------------------------------------------------------------
# format_p
# --------------------------------------------------------------------------


def test_format_p_reports_zero_and_underflow_as_below_the_floor():
    assert format_p(0.0) == "< 1e-16"
    assert format_p(1e-17) == "< 1e-16"
    assert format_p(0.0005, floor=1e-3) == "< 0.001"
    assert format_p(0.0, floor=ANALYTIC_P_FLOOR) == "< 2.23e-308"


def test_format_p_keeps_tiny_but_representable_p_values_in_scientific_notation():
    assert format_p(5.22e-100, floor=ANALYTIC_P_FLOOR) == "5.22e-100"
    assert format_p(3.4e-7) == "3.40e-07"
    assert format_p(1e-16) == "1.00e-16"  # exactly at the floor is still a number


def test_format_p_gives_three_significant_digits_for_ordinary_p_values():
    assert format_p(0.0123) == "0.0123"
    assert format_p(0.05) == "0.0500"
    assert format_p(0.625) == "0.625"
    assert format_p(1.0) == "1.00"
    assert format_p(float("nan")) == "n/a"


# --------------------------------------------------------------------------
# attention filter
# --------------------------------------------------------------------------


def test_attention_filter_keeps_participants_who_passed_four_of_five_checks():
    correct = np.array(
        [
            [1, 1, 1, 1, 1],  # 5/5 -> kept
            [1, 0, 1, 1, 1],  # 4/5 -> kept
            [0, 1, 0, 1, 1],  # 3/5 -> excluded
            [0, 0, 0, 0, 0],  # 0/5 -> excluded
        ],
        dtype=bool,
    )
    res = attention_filter(correct)
    assert res.kept.tolist() == [True, True, False, False]
    assert res.n_correct.tolist() == [5, 4, 3, 0]
    assert res.kept_indices.tolist() == [0, 1]
    assert res.n_kept == 2
    assert res.reasons[:2] == (None, None)


def test_attention_filter_explains_why_each_excluded_participant_was_dropped():
    correct = np.array([[1, 1, 1, 1, 1], [0, 1, 0, 1, 1], [0, 0, 0, 0, 0]], dtype=bool)
    res = attention_filter(correct)
    assert res.excluded_reasons == {
        1: "passed 3 of 5 attention checks (needs 4)",
        2: "passed 0 of 5 attention checks (needs 4)",
    }


def test_attention_filter_counts_unanswered_checks_as_not_correct():
    as_int = np.array(
        [
            [1, 1, 1, -1, -1],  # answered 3, all right -> still only 3 correct
            [1, 1, 1, 1, -1],  # answered 4, all right -> 4 correct, kept
            [1, -1, 0, 1, -1],  # answered 3, 2 right
        ]
    )
    res = attention_filter(as_int)
    assert res.kept.tolist() == [False, True, False]
    assert res.n_answered.tolist() == [3, 4, 3]
    assert res.reasons[0] == "answered 3 of 5 checks; passed 3 of 5 attention checks (needs 4)"
    assert res.reasons[2] == "answered 3 of 5 checks; passed 2 of 5 attention checks (needs 4)"
    as_float = np.where(as_int == -1, np.nan, as_int).astype(float)
    again = attention_filter(as_float)
    assert again.reasons == res.reasons
    assert again.n_correct.tolist() == [3, 4, 2]


def test_attention_filter_rejects_an_impossible_threshold_and_unknown_values():
    with pytest.raises(ValueError, match="exceeds the number of attention checks"):
        attention_filter(np.ones((2, 5), dtype=bool), min_correct=6)
    with pytest.raises(ValueError, match="got 2.0 for participant 0, check 1"):
        attention_filter(np.array([[1, 2, 1]]), min_correct=1)


def test_attention_filter_results_cannot_be_mutated():
    res = attention_filter(np.ones((2, 5), dtype=bool))
    with pytest.raises(ValueError):
        res.kept[0] = False


# --------------------------------------------------------------------------
# tally
# --------------------------------------------------------------------------


def test_tally_counts_votes_per_method_and_shares_by_hand():
    choices = np.array(
        [
            [0, 0, 1, 3],  # NL 2, LI 1, VG 1           -> answered 4
            [0, -1, 2, 0],  # NL 2, SG 1, one skipped   -> answered 3
            [1, 1, 1, 1],  # LI 4                        -> answered 4
        ]
    )
    t = tally(choices)
    assert t.counts.tolist() == [[2, 1, 0, 1], [2, 0, 1, 0], [0, 4, 0, 0]]
    # totals are the column sums: NL 2+2+0=4, LI 1+0+4=5, SG 0+1+0=1, VG 1+0+0=1
    assert t.totals.tolist() == [4, 5, 1, 1]
    assert t.answered.tolist() == [4, 3, 4]
    np.testing.assert_allclose(t.shares[0], [0.5, 0.25, 0.0, 0.25])
    np.testing.assert_allclose(t.shares[1], [2 / 3, 0.0, 1 / 3, 0.0])
    np.testing.assert_allclose(t.shares[2], [0.0, 1.0, 0.0, 0.0])
    assert t.note is None


def test_tally_marks_participants_without_answers_and_rejects_out_of_range_choices():
    t = tally(np.array([[0, 1], [-1, -1]]))
    assert np.isnan(t.shares[1]).all()
    assert "[1]" in t.note
    with pytest.raises(ValueError, match="integers 0..3"):
        tally(np.array([[0, 4]]))
    with pytest.raises(ValueError, match="integers 0..3"):
        tally(np.array([[0.5, 1]]))


# --------------------------------------------------------------------------
# the paper's ANOVA
# --------------------------------------------------------------------------

# Three participants, four questions each (counts / 4 = shares):
#   P1: 3 1 0 0     P2: 2 1 1 0     P3: 1 1 2 0
# column means in counts: 2, 1, 1, 0; grand mean 1.
#   SSB = 3 * [(2-1)^2 + 0 + 0 + (0-1)^2] = 6
#   SSW = (1+0+1) + 0 + (1+0+1) + 0 = 4
# in shares (divide by 4, so SS by 16): SSB = 0.375, SSW = 0.25, SST = 0.625
#   df = (k-1, k(n-1)) = (3, 8); MSB = 0.125, MSW = 0.03125; F = 4
#   eta^2 = 0.375 / 0.625 = 0.6
#   omega^2 = (0.375 - 3*0.03125) / (0.625 + 0.03125) = 0.28125 / 0.65625 = 3/7
#   table: F_0.05(3, 8) = 4.07, so p is just above 0.05.
TINY_COUNTS = np.array([[3, 1, 0, 0], [2, 1, 1, 0], [1, 1, 2, 0]])
TINY_SHARES = TINY_COUNTS / 4


def test_paper_anova_matches_sums_of_squares_worked_by_hand():
    res = paper_anova(TINY_SHARES)
    assert (res.df_between, res.df_within) == (3, 8)
    assert res.ss_between == pytest.approx(0.375)
    assert res.ss_within == pytest.approx(0.25)
    assert res.F == pytest.approx(4.0)
    assert res.eta_squared == pytest.approx(0.6)
    assert res.omega_squared == pytest.approx(3 / 7)
    assert res.group_means == pytest.approx((0.5, 0.25, 0.25, 0.0))
    assert 0.05 < res.p < 0.06
    assert res.p == pytest.approx(sps.f.sf(4.0, 3, 8))
    assert res.p_text == "0.0519"
    assert res.note is None


def test_paper_anova_agrees_with_statsmodels_ols_anova_lm():
    rng = np.random.default_rng(7)
    counts = rng.multinomial(20, [0.4, 0.3, 0.2, 0.1], size=15)
    shares = counts / 20
    check = anova_lm_check(shares)
    ref = paper_anova(shares)
    assert check.agrees_with_f_oneway
    assert (check.df_between, check.df_within) == (3, 56)
    assert check.F == pytest.approx(ref.F, rel=1e-9)
    assert check.p == pytest.approx(ref.p, rel=1e-6)
    assert anova_lm_check(TINY_SHARES).F == pytest.approx(4.0)


def test_paper_anova_returns_nan_and_a_note_when_all_shares_are_identical():
    res = paper_anova(np.full((5, 4), 0.25))
    assert math.isnan(res.F) and math.isnan(res.p)
    assert res.p_text == "n/a"
    assert "undefined" in res.note
    assert (res.df_between, res.df_within) == (3, 16)


def test_paper_anova_is_infinite_when_there_is_no_within_group_variance():
    res = paper_anova(np.tile([0.7, 0.2, 0.1, 0.0], (4, 1)))
    assert res.F == math.inf and res.p == 0.0
    assert res.p_text.startswith("< ")
    assert "within-group" in res.note


def test_paper_anova_rejects_a_single_participant_with_a_clear_message():
    with pytest.raises(ValueError, match="at least 2 participants, got 1"):
        paper_anova(np.array([[0.5, 0.5, 0.0, 0.0]]))
    with pytest.raises(ValueError, match="3 columns but 4 methods"):
        paper_anova(np.ones((3, 3)) / 3)


# --------------------------------------------------------------------------
# Tukey HSD
# --------------------------------------------------------------------------


def test_tukey_hsd_matches_hand_computed_mean_differences_and_critical_range():
    # Same tiny data: MSW = 1/32, n = 3 per group, SE = sqrt(MSW/n) = sqrt(1/96) = 0.10206.
    # Table q_0.05(k=4, df=8) = 4.53, half-width of each CI = 4.53 * 0.10206 = 0.4623.
    # normlime vs vargrad: meandiff = 0 - 0.5 = -0.5, q = 0.5/0.10206 = 4.90 > 4.53 -> reject
    # normlime vs lime:    meandiff = -0.25,        q = 2.45 < 4.53          -> keep H0
    res = tukey_hsd(TINY_SHARES)
    assert [(r.group1, r.group2) for r in res.rows] == [
        ("normlime", "lime"),
        ("normlime", "smoothgrad"),
        ("normlime", "vargrad"),
        ("lime", "smoothgrad"),
        ("lime", "vargrad"),
        ("smoothgrad", "vargrad"),
    ]
    assert res.df == 8
    assert res.q_crit == pytest.approx(4.53, abs=0.005)
    nv = res.row("normlime", "vargrad")
    assert nv.meandiff == pytest.approx(-0.5)
    assert nv.reject is True
    assert nv.lower == pytest.approx(-0.5 - 0.4623, abs=1e-3)
    assert nv.upper == pytest.approx(-0.5 + 0.4623, abs=1e-3)
    assert nv.p_adj == pytest.approx(sps.studentized_range.sf(0.5 / math.sqrt(1 / 96), 4, 8))
    assert 0.01 < nv.p_adj < 0.05
    nl = res.row("lime", "normlime")
    assert nl.meandiff == pytest.approx(-0.25)
    assert nl.reject is False
    assert res.row("lime", "smoothgrad").meandiff == pytest.approx(0.0)
    assert res.row("lime", "smoothgrad").p_adj == pytest.approx(1.0)


def test_tukey_hsd_uses_scipy_studentized_range_so_tiny_p_values_read_below_1e_10():
    # statsmodels 0.15 takes Tukey p-values from scipy.stats.studentized_range.sf,
    # not its old psturng table with a 0.001 floor.  That sf has integration
    # noise of ~1e-14, so a huge difference is reported as "< 1e-10".
    rng = np.random.default_rng(3)
    x = np.tile([0.85, 0.07, 0.05, 0.03], (40, 1)) + rng.normal(0, 0.01, size=(40, 4))
    res = tukey_hsd(x)
    assert res.backend == "scipy.stats.studentized_range"
    assert res.p_floor == TUKEY_P_FLOOR == 1e-10
    row = res.row("normlime", "lime")
    assert row.p_adj_text == "< 1e-10"
    # the ANOVA p-value on the same data is computed analytically and is not clipped
    anova = paper_anova(x)
    assert 0 < anova.p < 1e-100
    assert "e-" in anova.p_text and not anova.p_text.startswith("<")


def test_tukey_hsd_stores_the_floor_as_a_bound_instead_of_the_integration_noise_below_it():
    # For k = 4 and df = 8 the studentized-range sf at q = 40 is far below 1e-10 (its
    # computed value is integration noise); the row must carry the floor, flagged as a bound.
    x = np.array([[0.9, 0.05, 0.03, 0.02], [0.91, 0.04, 0.03, 0.02], [0.89, 0.05, 0.04, 0.02]])
    res = tukey_hsd(x)
    row = res.row("normlime", "lime")
    assert sps.studentized_range.sf(abs(row.meandiff) / math.sqrt(np.var(x, axis=0, ddof=1).mean() / 3), 4, 8) < 1e-10
    assert row.p_adj == TUKEY_P_FLOOR and row.p_adj_is_bound is True
    assert row.p_adj_text == "< 1e-10"
    ordinary = tukey_hsd(TINY_SHARES).row("normlime", "vargrad")
    assert ordinary.p_adj_is_bound is False and ordinary.p_adj > TUKEY_P_FLOOR


def test_tukey_hsd_is_undefined_without_within_group_variance():
    res = tukey_hsd(np.tile([0.7, 0.2, 0.1, 0.0], (4, 1)))
    assert all(r.reject is None and math.isnan(r.p_adj) for r in res.rows)
    assert "undefined" in res.note


# --------------------------------------------------------------------------
# Friedman and Kendall's W
# --------------------------------------------------------------------------


def test_friedman_matches_the_rank_sum_formula_on_a_tiny_table():
    # n = 3 participants, k = 3 methods, no ties.  Within-row ranks:
    #   (5,3,2) -> 3,2,1    (6,1,3) -> 3,1,2    (4,3,1) -> 3,2,1
    # rank sums R = 9, 5, 4; sum R^2 = 81 + 25 + 16 = 122
    # chi2 = 12/(n k (k+1)) * sum R^2 - 3 n (k+1) = 12/36 * 122 - 36 = 14/3 = 4.667
    # W = chi2 / (n (k-1)) = (14/3) / 6 = 7/9
    # df = 2, and for 2 df the chi2 survival function is exp(-x/2): p = exp(-7/3) = 0.0970
    counts = np.array([[5, 3, 2], [6, 1, 3], [4, 3, 1]])
    res = friedman(counts, methods=("a", "b", "c"))
    assert res.chi2 == pytest.approx(14 / 3)
    assert res.df == 2
    assert res.kendalls_w == pytest.approx(7 / 9)
    assert res.p == pytest.approx(math.exp(-7 / 3))
    assert res.mean_ranks == pytest.approx((3.0, 5 / 3, 4 / 3))


def test_friedman_applies_the_tie_correction_by_hand():
    # n = 2, k = 3: rows (2,1,1) and (3,0,0) both rank 3, 1.5, 1.5
    # R = 6, 3, 3; uncorrected chi2 = 12/24 * (36+9+9) - 24 = 3
    # ties: each row has one tie of size 2 -> sum(t^3 - t) = 6 + 6 = 12
    # C = 1 - 12 / (n (k^3 - k)) = 1 - 12/48 = 0.75  -> chi2 = 3 / 0.75 = 4
    # W = 4 / (2 * 2) = 1 (both participants rank identically); p = exp(-2) = 0.1353
    res = friedman(np.array([[2, 1, 1], [3, 0, 0]]), methods=("a", "b", "c"))
    assert res.chi2 == pytest.approx(4.0)
    assert res.kendalls_w == pytest.approx(1.0)
    assert res.p == pytest.approx(math.exp(-2))


def test_friedman_of_two_methods_is_the_sign_test_statistic_by_hand():
    # SciPy refuses k = 2. Rows (3,1) (4,0) (3,1) prefer a, (0,4) prefers b, (2,2) ties:
    # a = 3, b = 1, so chi2 = (a - b)^2 / (a + b) = 4 / 4 = 1 on 1 df, p = P(chi2_1 > 1) = 0.3173;
    # W = chi2 / (n (k - 1)) = 1 / 5.
    res = friedman(np.array([[3, 1], [2, 2], [0, 4], [4, 0], [3, 1]]), methods=("a", "b"))
    assert res.chi2 == pytest.approx(1.0) and res.df == 1
    assert res.p == pytest.approx(math.erfc(1 / math.sqrt(2)))  # P(|Z| > 1)
    assert res.kendalls_w == pytest.approx(0.2)
    # a's ranks: 2 in its three wins, 1.5 in the tie, 1 in its loss -> 8.5 / 5 = 1.7; b: 3 - 1.7
    assert res.mean_ranks == pytest.approx((1.7, 1.3))


@pytest.mark.parametrize("k", [2, 3, 6])
def test_the_whole_analysis_runs_for_k_methods_with_tests_sized_for_k(k):
    rng = np.random.default_rng(k)
    n = 9
    methods = tuple("abcdef"[:k])
    a = analyze(np.ones((n, 5)), rng.integers(0, k, (n, 30)), methods=methods, n_boot=100, seed=0)
    assert (a.anova.df_between, a.anova.df_within) == (k - 1, k * (n - 1))
    assert len(a.tukey.rows) == len(a.wilcoxon.rows) == k * (k - 1) // 2
    assert {(r.group1, r.group2) for r in a.tukey.rows} == {(r.method1, r.method2) for r in a.wilcoxon.rows}
    assert (a.hotelling.df1, a.hotelling.df2) == (k - 1, n - (k - 1)) and len(a.hotelling.contrast_labels) == k - 1
    assert a.friedman.df == k - 1 and a.chi_square.df == k - 1
    assert len(a.bootstrap.lower) == len(a.bootstrap.upper) == k


def test_friedman_gives_the_same_answer_for_counts_and_shares():
    counts = np.array([[3, 1, 0, 0], [2, 1, 1, 0], [1, 1, 2, 0], [4, 0, 0, 1]])
    by_counts = friedman(counts)
    by_shares = friedman(counts / counts.sum(axis=1, keepdims=True))
    assert by_counts.chi2 == pytest.approx(by_shares.chi2)
    assert by_counts.p == pytest.approx(by_shares.p)


def test_friedman_returns_nan_with_a_note_when_every_participant_ties_all_methods():
    res = friedman(np.full((3, 4), 5))
    assert math.isnan(res.chi2) and math.isnan(res.kendalls_w)
    assert "undefined" in res.note


# --------------------------------------------------------------------------
# Holm and paired Wilcoxon
# --------------------------------------------------------------------------


def test_holm_adjustment_matches_hand_computation():
    # p = 0.01, 0.04, 0.03, 0.005 (m = 4). Sorted: 0.005, 0.01, 0.03, 0.04
    #   0.005 * 4 = 0.02
    #   0.01  * 3 = 0.03
    #   0.03  * 2 = 0.06
    #   0.04  * 1 = 0.04 -> raised to the running max 0.06
    # back in input order: 0.03, 0.06, 0.06, 0.02
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])
    # an undefined test stays NaN but still counts in the family (as p = 1):
    # 0.01 * 2 = 0.02
    adj = holm([0.01, float("nan")])
    assert adj[0] == pytest.approx(0.02) and math.isnan(adj[1])


def test_wilcoxon_signed_rank_statistic_p_and_rank_biserial_by_hand():
    # Two methods, shares (a, 1-a) with a = .55, .60, .35, .70 -> differences a-(1-a) = .1, .2, -.3, .4
    # ranks of |d|: 1, 2, 3, 4; T+ = 1+2+4 = 7, T- = 3; statistic = min = 3
    # exact null: 16 equally likely sign patterns; subsets of {1,2,3,4} with sum <= 3 are
    #   {}, {1}, {2}, {3}, {1,2} -> 5, so two-sided p = 2 * 5/16 = 0.625
    # matched-pairs rank-biserial = (T+ - T-)/(T+ + T-) = 4/10 = 0.4
    a = np.array([0.55, 0.60, 0.35, 0.70])
    res = pairwise_wilcoxon(np.column_stack([a, 1 - a]), methods=("x", "y"))
    (row,) = res.rows
    assert (row.method1, row.method2) == ("x", "y")
    assert row.statistic == pytest.approx(3.0)
    assert row.p == pytest.approx(0.625)
    assert row.p_holm == pytest.approx(0.625)  # family of one
    assert row.rank_biserial == pytest.approx(0.4)
    assert row.median_diff == pytest.approx(0.15)
    assert row.test == "exact"
    assert row.reject is False


def test_wilcoxon_normal_approximation_applies_the_continuity_correction_by_hand():
    # 14 pairs, differences +.2 (10 times) and -.2 (4 times): all |d| tie, so n > 13 with ties
    # takes the normal approximation.  Every rank is 7.5: T+ = 75, T- = 30, statistic = min = 30.
    # mean n(n+1)/4 = 52.5; variance n(n+1)(2n+1)/24 - (t^3 - t)/48 = 253.75 - 56.875 = 196.875.
    # Continuity correction moves T half a unit towards the mean: z = (30 - 52.5 + 0.5) / sqrt(196.875).
    a = np.array([0.6] * 10 + [0.4] * 4)
    (row,) = pairwise_wilcoxon(np.column_stack([a, 1 - a]), methods=("x", "y")).rows
    z = -22.0 / math.sqrt(196.875)
    assert row.test == "normal approximation"
    assert row.statistic == pytest.approx(30.0)
    assert row.p == pytest.approx(2 * sps.norm.cdf(z), rel=1e-12)
    assert row.p != pytest.approx(2 * sps.norm.cdf(-22.5 / math.sqrt(196.875)), rel=1e-3)  # not the uncorrected one


def test_pairwise_wilcoxon_covers_all_six_pairs_and_applies_holm():
    rng = np.random.default_rng(11)
    counts = rng.multinomial(20, [0.5, 0.3, 0.1, 0.1], size=30)
    res = pairwise_wilcoxon(counts / 20)
    assert len(res.rows) == 6
    raw = [r.p for r in res.rows]
    np.testing.assert_allclose([r.p_holm for r in res.rows], holm(raw))
    nl = res.row("normlime", "lime")
    assert nl.rank_biserial > 0.5 and nl.reject is True
    assert nl.test == "normal approximation"  # 30 pairs with ties -> asymptotic


def test_pairwise_wilcoxon_treats_share_differences_that_tie_in_counts_as_ties():
    # 3/20 - 1/20 and 5/20 - 3/20 differ in the last bit of floating point but
    # are the same difference (2 votes); both must get the same rank.
    counts = np.array([[3, 1, 8, 8], [5, 3, 6, 6], [7, 5, 4, 4], [1, 3, 8, 8]])
    res = pairwise_wilcoxon(counts / 20)
    row = res.row("normlime", "lime")
    # d = +2, +2, +2, -2 (in votes): all |d| tie at rank 2.5 -> T+ = 7.5, T- = 2.5
    assert row.rank_biserial == pytest.approx((7.5 - 2.5) / 10)
    assert row.statistic == pytest.approx(2.5)
    assert row.test == "permutation (exhaustive)"


def test_pairwise_wilcoxon_marks_pairs_with_all_zero_differences_as_undefined():
    shares = np.array([[0.4, 0.4, 0.1, 0.1], [0.3, 0.3, 0.2, 0.2], [0.5, 0.5, 0.0, 0.0]])
    res = pairwise_wilcoxon(shares)
    row = res.row("normlime", "lime")
    assert math.isnan(row.p) and row.reject is None
    assert "all paired differences are zero" in row.note


# --------------------------------------------------------------------------
# Hotelling's T^2
# --------------------------------------------------------------------------


def _shares_from_last_contrasts(d1, d2):
    """k = 3 shares (a, b, c) with a - c = d1, b - c = d2, a + b + c = 1."""
    d1, d2 = np.asarray(d1), np.asarray(d2)
    c = (1 - d1 - d2) / 3
    return np.column_stack([c + d1, c + d2, c])


def test_hotelling_t2_on_two_contrasts_matches_hand_computation():
    # contrasts (a - c, b - c) for n = 4 participants:
    #   d1 = .3, .1, .3, .1   mean .2, deviations +.1 -.1 +.1 -.1
    #   d2 = .2, .2, .0, .0   mean .1, deviations +.1 +.1 -.1 -.1
    # cross-products sum to 0 -> S diagonal, var = 4 * .01 / 3 = .04/3 for both
    # T^2 = n * (.2^2 / (.04/3) + .1^2 / (.04/3)) = 4 * (3 + 0.75) = 15
    # F = (n-p)/(p(n-1)) T^2 = 2/6 * 15 = 5, df (2, 2)
    # for F(2, 2) the survival function is 1/(1+x): p = 1/6
    shares = _shares_from_last_contrasts([0.3, 0.1, 0.3, 0.1], [0.2, 0.2, 0.0, 0.0])
    res = hotelling_contrasts(shares, methods=("a", "b", "c"))
    assert res.T2 == pytest.approx(15.0)
    assert res.F == pytest.approx(5.0)
    assert (res.df1, res.df2) == (2, 2)
    assert res.p == pytest.approx(1 / 6)
    assert res.mean_contrasts == pytest.approx((0.2, 0.1))
    assert res.contrast_labels == ("a - c", "b - c")


def test_hotelling_t2_does_not_depend_on_the_choice_of_contrasts():
    rng = np.random.default_rng(5)
    shares = rng.multinomial(20, [0.4, 0.3, 0.2, 0.1], size=25) / 20
    last = hotelling_contrasts(shares, contrast="last")
    helmert = hotelling_contrasts(shares, contrast="helmert")
    assert last.T2 == pytest.approx(helmert.T2, rel=1e-9)
    assert last.p == pytest.approx(helmert.p, rel=1e-9)
    assert (last.df1, last.df2) == (3, 22)
    assert helmert.contrast_labels[0] == "normlime - mean(lime, smoothgrad, vargrad)"


def test_hotelling_returns_nan_with_a_note_when_it_cannot_be_computed():
    too_few = hotelling_contrasts(TINY_SHARES)  # n = 3, p = 3 contrasts
    assert math.isnan(too_few.T2) and "more participants than contrasts" in too_few.note
    same_for_all = hotelling_contrasts(np.full((6, 4), 0.25))  # every contrast is 0 for everyone
    assert math.isnan(same_for_all.F) and "singular" in same_for_all.note


def test_hotelling_is_infinite_with_p_zero_when_a_constant_contrast_is_not_zero():
    # Nobody chose c: contrasts (a - c, b - c) = (a, b) and a + b = 1 for every participant, so the
    # combination d1 + d2 is the constant 1 (covariance singular, mean 1 != 0): H0 is refuted outright.
    a = np.array([0.7, 0.4, 0.6, 0.5, 0.8])
    res = hotelling_contrasts(np.column_stack([a, 1 - a, np.zeros_like(a)]), methods=("a", "b", "c"))
    assert res.T2 == math.inf and res.F == math.inf and res.p == 0.0
    assert res.p_text.startswith("<") and "refuted" in res.note
    constant = hotelling_contrasts(np.tile([0.7, 0.2, 0.1, 0.0], (6, 1)))  # as the ANOVA reports F = inf
    assert constant.T2 == math.inf and paper_anova(np.tile([0.7, 0.2, 0.1, 0.0], (6, 1))).F == math.inf


# --------------------------------------------------------------------------
# chi-square on totals
# --------------------------------------------------------------------------


def test_chi_square_against_uniform_matches_hand_computation():
    # totals 10, 20, 30: expected 20 each; chi2 = (100 + 0 + 100)/20 = 10, df 2, p = exp(-5) = 0.00674
    res = chi_square_totals(np.array([10, 20, 30]), methods=("a", "b", "c"))
    assert res.chi2 == pytest.approx(10.0)
    assert res.df == 2
    assert res.p == pytest.approx(math.exp(-5))
    assert res.expected == (20.0, 20.0, 20.0)
    assert "anti-conservative" in res.note
    with pytest.raises(ValueError, match="no votes"):
        chi_square_totals(np.zeros(4))


# --------------------------------------------------------------------------
# bootstrap
# --------------------------------------------------------------------------


def test_bootstrap_is_deterministic_for_a_seed_and_brackets_the_point_estimate():
    rng = np.random.default_rng(1)
    counts = rng.multinomial(20, [0.5, 0.25, 0.15, 0.1], size=30)
    a = bootstrap_share_ci(counts, n_boot=2000, seed=42)
    b = bootstrap_share_ci(counts, n_boot=2000, seed=42)
    c = bootstrap_share_ci(counts, n_boot=2000, seed=43)
    assert a.lower == b.lower and a.upper == b.upper
    assert a.lower != c.lower
    # point estimate = column total / grand total (600 votes)
    assert a.point == pytest.approx(tuple(counts.sum(axis=0) / 600))
    for lo, pt, hi in zip(a.lower, a.point, a.upper):
        assert lo < pt < hi
    assert a.level == 0.95 and a.n_boot == 2000


def test_bootstrap_ci_collapses_when_every_participant_votes_identically():
    # every resample of identical participants has the same shares: 10/20, 5/20, 3/20, 2/20
    counts = np.tile([10, 5, 3, 2], (8, 1))
    res = bootstrap_share_ci(counts, n_boot=200, seed=0)
    assert res.lower == pytest.approx((0.5, 0.25, 0.15, 0.1))
    assert res.upper == pytest.approx((0.5, 0.25, 0.15, 0.1))


def test_bootstrap_rejects_participants_without_votes():
    with pytest.raises(ValueError, match="no votes"):
        bootstrap_share_ci(np.array([[1, 2, 3, 4], [0, 0, 0, 0]]), n_boot=10)


# --------------------------------------------------------------------------
# analyze: degenerate input and JSON
# --------------------------------------------------------------------------


def test_analyze_raises_a_clear_error_when_nobody_passes_the_attention_checks():
    correct = np.zeros((3, 5), dtype=bool)
    choices = np.zeros((3, 20), dtype=int)
    with pytest.raises(ValueError, match="no participants kept: 0 of 3 passed at least 4 of 5"):
        analyze(correct, choices)


def test_analyze_raises_when_only_one_participant_passes():
    correct = np.array([[1] * 5, [0] * 5])
    with pytest.raises(ValueError, match="only 1 of 2 participants"):
        analyze(correct, np.zeros((2, 20), dtype=int))


def test_analyze_raises_when_rows_do_not_line_up_or_a_kept_participant_skipped_everything():
    with pytest.raises(ValueError, match="rows must be the same participants"):
        analyze(np.ones((3, 5)), np.zeros((2, 20), dtype=int))
    choices = np.zeros((3, 4), dtype=int)
    choices[2] = -1
    with pytest.raises(ValueError, match=r"kept participant\(s\) \[2\] answered no real question"):
        analyze(np.ones((3, 5)), choices)


def test_analyze_survives_degenerate_data_and_its_dict_is_strict_json():
    # everyone votes 1 for each method in a 4-question survey: all shares 0.25
    choices = np.tile([0, 1, 2, 3], (5, 1))
    res = analyze(np.ones((5, 5)), choices, n_boot=50)
    assert math.isnan(res.anova.F) and res.anova.note
    d = res.to_dict()
    text = json.dumps(d, allow_nan=False)  # raises on NaN/inf
    back = json.loads(text)
    assert back["anova"]["F"] is None and back["anova"]["p_text"] == "n/a"
    assert back["tally"]["totals"] == [5, 5, 5, 5]


# --------------------------------------------------------------------------
# reality check: a synthetic cohort with the paper's vote totals
# --------------------------------------------------------------------------

PAPER_TOTALS = {"normlime": 939, "lime": 438, "vargrad": 151, "smoothgrad": 132}
N_PASS, N_FAIL, N_REAL = 83, 10, 20


@lru_cache(maxsize=1)
def _paper_like_cohort():
    """83 passing participants x 20 votes with the paper's exact totals, plus 10 failures.

    Preferences vary per participant (Dirichlet around the paper's shares,
    concentration 25), votes are multinomial draws, then single votes are
    moved from over-target to under-target methods so each total is exact
    while every row still sums to 20.
    """
    rng = np.random.default_rng(2019)
    target = np.array([PAPER_TOTALS[m] for m in registry.names(paper=True)])
    assert target.sum() == N_PASS * N_REAL  # 1660
    prefs = rng.dirichlet(target / target.sum() * 25, size=N_PASS)
    counts = np.array([rng.multinomial(N_REAL, p) for p in prefs])
    while (diff := counts.sum(axis=0) - target).any():
        src, dst = int(np.argmax(diff)), int(np.argmin(diff))
        i = rng.choice(np.flatnonzero(counts[:, src] > 0))
        counts[i, src] -= 1
        counts[i, dst] += 1
    pass_choices = np.array([rng.permutation(np.repeat(np.arange(4), row)) for row in counts])
    pass_correct = np.ones((N_PASS, 5), dtype=int)
    pass_correct[rng.choice(N_PASS, 20, replace=False), rng.integers(0, 5, 20)] = 0  # some 4/5
    fail_choices = rng.integers(0, 4, size=(N_FAIL, N_REAL))
    fail_correct = (rng.random((N_FAIL, 5)) < 0.3).astype(int)
    fail_correct[:, :2] = 0  # at most 3 of 5
    fail_correct[0, 4] = -1  # one failure skipped a check
    order = rng.permutation(N_PASS + N_FAIL)
    correct = np.vstack([pass_correct, fail_correct])[order]
    choices = np.vstack([pass_choices, fail_choices])[order]
    return correct, choices, order < N_PASS, analyze(correct, choices, n_boot=2000, seed=0)


def test_synthetic_paper_cohort_keeps_exactly_the_83_passing_participants_with_the_paper_totals():
    _, _, is_passer, res = _paper_like_cohort()
    assert res.filter.kept.tolist() == is_passer.tolist()
    assert res.n_kept == 83 and res.n_participants_total == 93
    assert dict(zip(registry.names(paper=True), res.tally.totals.tolist())) == PAPER_TOTALS
    assert res.tally.totals.tolist() == [939, 438, 132, 151]
    assert (res.tally.answered == 20).all()
    assert len(res.filter.excluded_reasons) == 10


def test_synthetic_paper_cohort_anova_has_df_3_328_and_p_below_1e_50():
    _, _, _, res = _paper_like_cohort()
    assert (res.anova.df_between, res.anova.df_within) == (3, 328)
    assert 0 < res.anova.p < 1e-50
    assert res.anova.p_text.endswith(tuple(f"e-{k}" for k in range(50, 308)))
    assert res.anova_lm.agrees_with_f_oneway
    # grand mean of shares is exactly 1/4 because each row sums to 1
    assert sum(res.anova.group_means) == pytest.approx(1.0)
    assert res.anova.group_means[0] == pytest.approx(939 / 1660)


def test_synthetic_paper_cohort_tukey_rejects_normlime_vs_each_other_method():
    _, _, _, res = _paper_like_cohort()
    for other in ("lime", "smoothgrad", "vargrad"):
        row = res.tukey.row("normlime", other)
        assert row.reject is True
        assert row.meandiff < 0  # group2 - normlime: normlime is preferred
        assert row.p_adj < 0.001
    # the paper also finds LIME above both gradient methods
    assert res.tukey.row("lime", "smoothgrad").reject is True
    assert res.tukey.row("lime", "vargrad").reject is True
    # but SmoothGrad vs VarGrad (132 vs 151 votes, a 0.011 share difference) is not distinguishable
    assert res.tukey.row("smoothgrad", "vargrad").reject is False


def test_synthetic_paper_cohort_design_respecting_tests_agree_with_the_paper():
    _, _, _, res = _paper_like_cohort()
    assert res.friedman.p < 1e-20 and 0 < res.friedman.kendalls_w <= 1
    assert res.hotelling.p < 1e-20 and (res.hotelling.df1, res.hotelling.df2) == (3, 80)
    for other in ("lime", "smoothgrad", "vargrad"):
        row = res.wilcoxon.row("normlime", other)
        assert row.reject is True and row.rank_biserial > 0
    # chi-square by hand: expected 1660/4 = 415;
    # (524^2 + 23^2 + 283^2 + 264^2)/415 = (274576 + 529 + 80089 + 69696)/415 = 424890/415 = 1023.83
    assert res.chi_square.chi2 == pytest.approx(424890 / 415)
    lo, hi = res.bootstrap.lower[0], res.bootstrap.upper[0]
    assert lo < 939 / 1660 < hi
    assert hi < 0.7 and lo > 0.45


def test_synthetic_paper_cohort_dict_serialises_to_json_with_raw_and_formatted_p_values():
    _, _, _, res = _paper_like_cohort()
    d = json.loads(json.dumps(res.to_dict(), allow_nan=False))
    assert d["anova"]["df_within"] == 328
    assert isinstance(d["anova"]["p"], float) and d["anova"]["p_text"] == format_p(res.anova.p, ANALYTIC_P_FLOOR)
    assert {r["group2"] for r in d["tukey"]["rows"] if r["group1"] == "normlime"} == {"lime", "smoothgrad", "vargrad"}
    assert d["filter"]["reasons"].count(None) == 83
    assert len(d["wilcoxon"]["rows"]) == 6
