"""power_analysis: the report's tests, vectorised over simulated studies, and the search for n."""

from __future__ import annotations

import io

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from scipy import stats as sp_stats

from analysis import power, stats
from explainers.methods import registry

PAPER = {"normlime": 0.57, "lime": 0.26, "smoothgrad": 0.08, "vargrad": 0.09}
UNIFORM = {m: 0.25 for m in registry.names(paper=True)}


@pytest.fixture(scope="module")
def studies():
    """Small simulated studies of 3, 6 and 20 participants (permutation, permutation and normal Wilcoxon)."""
    rng = np.random.default_rng(1)
    return {n: power.simulate_counts(rng, 4, n, np.array([0.4, 0.3, 0.2, 0.1]), 20, 26.0) for n in (3, 6, 20)}


def test_the_vectorised_anova_and_friedman_give_the_reports_p_values(studies):
    for counts in studies.values():
        shares = counts / 20
        anova, friedman = power.anova_p(shares), power.friedman_p(counts)
        for s in range(len(counts)):
            assert anova[s] == pytest.approx(stats.paper_anova(shares[s]).p, rel=1e-10)
            assert friedman[s] == pytest.approx(stats.friedman(counts[s]).p, rel=1e-10)


def test_the_vectorised_wilcoxon_and_holm_give_the_reports_p_values(studies):
    for counts in studies.values():
        shares = counts / 20
        for s in range(2):
            report = stats.pairwise_wilcoxon(shares[s])
            for r in report.rows:
                i, j = registry.names(paper=True).index(r.method1), registry.names(paper=True).index(r.method2)
                assert power.wilcoxon_p((shares[s, :, i] - shares[s, :, j])[None])[0] == pytest.approx(r.p, rel=1e-10)
            holm = power.wilcoxon_holm_p(shares[s : s + 1], (0, 1))[0]
            assert holm == pytest.approx(report.row("normlime", "lime").p_holm, rel=1e-10)


def test_the_exact_wilcoxon_is_used_without_ties_or_zeros():
    d = np.array([[0.05, -0.10, 0.15, 0.20, 0.25, 0.30, -0.35]])
    assert power.wilcoxon_p(d)[0] == pytest.approx(sp_stats.wilcoxon(d[0], method="exact").pvalue)


def test_holm_rows_match_statsmodels_and_keep_nan():
    p = np.array([[0.01, 0.04, 0.03, np.nan], [0.5, 0.001, 0.02, 0.2]])
    for row in p:
        np.testing.assert_allclose(power.holm_rows(row[None])[0], stats.holm(row), equal_nan=True)


def test_under_no_preference_the_rejection_rate_is_about_alpha():
    point = power.power_at(12, "friedman", np.array([0.25] * 4), simulations=600, seed=2)
    assert 0.02 <= point.power <= 0.08  # 0.05 +- about 3 Monte Carlo standard errors


def test_the_papers_shares_need_only_a_handful_of_participants_for_friedman():
    result = power.power_analysis(PAPER, "friedman", simulations=200, max_participants=30)
    assert result.n_required is not None and result.n_required <= 6
    by_n = {p.n: p.power for p in result.points}
    assert by_n[result.n_required] >= 0.8 and by_n[result.n_required - 1] < 0.8  # bisection brackets the answer
    assert result.points == power.power_analysis(PAPER, "friedman", simulations=200, max_participants=30).points


def test_the_wilcoxon_pair_defaults_to_the_two_largest_shares():
    result = power.power_analysis(PAPER, "wilcoxon", simulations=100, max_participants=15)
    assert result.pair == ("normlime", "lime")


def test_a_tiny_difference_is_not_found_within_the_maximum():
    tiny = {"normlime": 0.27, "lime": 0.25, "smoothgrad": 0.24, "vargrad": 0.24}
    result = power.power_analysis(tiny, "anova", simulations=100, max_participants=10)
    assert result.n_required is None and result.points[-1].n == 10
    assert "Power 0.8 is not reached with up to 10 participants." in power.format_power(result)


def test_the_command_prints_the_curve_and_the_answer():
    out = io.StringIO()
    call_command("power_analysis", "--test", "anova", "--simulations", "100", "--max-participants", "20", stdout=out)
    text = out.getvalue()
    assert text.startswith("Power of the paper's one-way ANOVA on shares at α = 0.05")
    assert "      n   power  ± MC s.e." in text and "<- target reached" in text
    assert text.rstrip().splitlines()[-1].startswith("Smallest number of kept participants with power ≥ 0.8: ")


def test_the_command_refuses_bad_options_in_one_line():
    with pytest.raises(CommandError, match="--pair applies to --test wilcoxon only"):
        call_command("power_analysis", "--pair", "normlime,lime")
    with pytest.raises(CommandError, match="shares sum to 0.5, not 1"):
        call_command("power_analysis", "--preference", "normlime=0.5")
    with pytest.raises(CommandError, match="pair normlime,normlime: name two different methods"):
        call_command("power_analysis", "--test", "wilcoxon", "--pair", "normlime,normlime")
    with pytest.raises(CommandError, match="alpha and power must be between 0 and 1"):
        call_command("power_analysis", "--alpha", "1.5")


@pytest.mark.parametrize("preference", [(0.7, 0.3), (0.5, 0.3, 0.2), (0.3, 0.2, 0.2, 0.1, 0.1, 0.1)])
def test_the_vectorised_friedman_gives_the_reports_p_for_k_methods(preference):
    counts = power.simulate_counts(np.random.default_rng(3), 5, 8, np.array(preference), 30, 26.0)
    methods = tuple("abcdef"[: len(preference)])
    expected = [stats.friedman(c, methods).p for c in counts]
    assert power.friedman_p(counts) == pytest.approx(expected, nan_ok=True)


def test_a_study_of_three_methods_is_planned_over_its_own_methods():
    result = power.power_analysis(
        {"normlime": 0.6, "lime": 0.3, "ig": 0.1}, "wilcoxon", simulations=50, max_participants=10, n_questions=30
    )
    assert tuple(result.preference) == ("normlime", "lime", "ig") and result.pair == ("normlime", "lime")
    assert "30 votes per participant" in power.format_power(result)


def test_the_command_plans_a_study_of_the_methods_given():
    out = io.StringIO()
    call_command(
        "power_analysis",
        "--methods",
        "normlime,lime,vargrad",
        "--test",
        "friedman",
        "--simulations",
        "50",
        "--max-participants",
        "10",
        "--questions",
        "30",
        stdout=out,
    )
    # the default shares: the paper's 0.57, 0.26, 0.09 for these three, rescaled to sum to 1
    assert "shares normlime=0.62, lime=0.28, vargrad=0.10;" in out.getvalue()
    with pytest.raises(CommandError, match="--methods: 1 methods"):
        call_command("power_analysis", "--methods", "normlime")
    with pytest.raises(CommandError, match="unknown method 'smoothgrad' \\(use normlime, lime\\)"):
        call_command("power_analysis", "--methods", "normlime,lime", "--preference", "normlime=0.5,smoothgrad=0.5")


def _first_lines(*args: str) -> str:
    out = io.StringIO()
    call_command("power_analysis", "--simulations", "20", "--max-participants", "4", *args, stdout=out)
    return "\n".join(out.getvalue().splitlines()[:2])


def test_the_questions_default_to_the_study_designs_real_questions_for_the_methods_given_and_say_why():
    # lcm(10, 3) = 30 is already at least 20; lcm(10, 4) = 20; lcm(10, 5) = 10, so 20
    assert (
        "; 30 votes per participant (a study of 3 methods by default: the smallest multiple of lcm(10, 3) = 30 "
        "that is at least 20);" in _first_lines("--methods", "normlime,lime,ig")
    )
    assert "; 20 votes per participant (a study of 4 methods by default: the smallest multiple of lcm(10, 4) = 20" in (
        _first_lines()
    )
    assert "; 20 votes per participant (a study of 5 methods by default: the smallest multiple of lcm(10, 5) = 10" in (
        _first_lines("--methods", "normlime,lime,ig,smoothgrad,vargrad")
    )


def test_a_study_of_another_number_of_classes_defaults_to_its_own_block():
    # Three classes and three methods: the odd Williams square has 6 rows, lcm(3, 6) = 6, so 24 >= 20.
    assert (
        "; 24 votes per participant (a study of 3 methods and 3 classes by default: the smallest multiple of "
        "lcm(3, 2 x 3) = 6 that is at least 20);" in _first_lines("--methods", "normlime,lime,ig", "--classes", "3")
    )
    assert "lcm(3, 4) = 12 that is at least 20" in _first_lines("--classes", "3")


def test_fewer_than_two_classes_are_refused_in_one_line():
    with pytest.raises(CommandError, match="--classes 1: a study needs at least 2 classes"):
        _first_lines("--classes", "1")


def test_questions_given_on_the_command_line_win_and_are_said_to_be_given():
    assert "; 40 votes per participant (set by --questions);" in _first_lines(
        "--methods", "normlime,lime,ig", "--questions", "40"
    )


def test_the_help_says_how_the_questions_default_is_chosen(capsys):
    with pytest.raises(SystemExit):
        call_command("power_analysis", "--help")
    text = " ".join(capsys.readouterr().out.split())
    assert (
        "the smallest multiple of lcm(10, number of methods) that is at least 20; 30 for three methods, 20 for four"
        in text
    )
