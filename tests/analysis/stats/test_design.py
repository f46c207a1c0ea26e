"""analysis.stats.design: the tests that respect the repeated-measures design, against arithmetic done by hand.

No Django needed: analysis.stats imports only NumPy/SciPy/statsmodels.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from analysis.stats import holm
from analysis.stats.design import (
    bootstrap_share_ci,
    chi_square_totals,
    friedman,
    hotelling_contrasts,
    pairwise_wilcoxon,
)
from analysis.stats.paper import paper_anova

# The tiny table of test_paper.py's ANOVA (three participants, four questions each).
TINY_SHARES = np.array([[3, 1, 0, 0], [2, 1, 1, 0], [1, 1, 2, 0]]) / 4


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
