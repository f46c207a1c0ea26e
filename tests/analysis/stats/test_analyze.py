"""analysis.stats.analyze: every analysis together, degenerate input, and a cohort with the paper's totals.

No Django needed: analysis.stats imports only NumPy/SciPy/statsmodels.
"""

from __future__ import annotations

import json
from functools import lru_cache

import numpy as np
import pytest

from analysis.stats.analyze import analyze
from analysis.stats.formatting import ANALYTIC_P_FLOOR, format_p
from explainers.methods import registry


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


# --------------------------------------------------------------------------
# analyze: degenerate input
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
