"""analysis.stats.paper: the paper's tests (attention filter, tally, ANOVA, Tukey HSD) against arithmetic done by hand.

No Django needed: analysis.stats imports only NumPy/SciPy/statsmodels.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from analysis.stats.paper import TUKEY_P_FLOOR, anova_lm_check, attention_filter, paper_anova, tally, tukey_hsd

NL, LI, SG, VG = range(4)  # indices into registry.names(paper=True)


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
