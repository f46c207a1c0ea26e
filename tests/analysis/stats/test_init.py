"""analysis.stats (the package): every public name reachable as ``stats.X``, from the module that holds it."""

from __future__ import annotations

import importlib

from analysis import stats
from analysis.stats import design, formatting, paper, results
from explainers import multiple_testing


def test_every_public_name_is_re_exported_from_the_module_that_holds_it():
    analyze_module = importlib.import_module("analysis.stats.analyze")  # ``stats.analyze`` is the function
    homes = {
        formatting: ("ANALYTIC_P_FLOOR", "format_p"),
        paper: (
            "TUKEY_P_FLOOR",
            "PSTURNG_P_FLOOR",
            "attention_filter",
            "tally",
            "paper_anova",
            "anova_lm_check",
            "tukey_hsd",
        ),
        design: (
            "WILCOXON_CONTINUITY_CORRECTION",
            "friedman",
            "pairwise_wilcoxon",
            "hotelling_contrasts",
            "chi_square_totals",
            "bootstrap_share_ci",
        ),
        results: (
            "FilterResult",
            "Tally",
            "AnovaResult",
            "AnovaLmCheck",
            "TukeyRow",
            "TukeyResult",
            "FriedmanResult",
            "WilcoxonRow",
            "WilcoxonResult",
            "HotellingResult",
            "ChiSquareResult",
            "BootstrapResult",
            "StudyAnalysis",
        ),
        analyze_module: ("analyze",),
        multiple_testing: ("holm",),
    }
    for module, names in homes.items():
        for name in names:
            assert getattr(stats, name) is getattr(module, name), name
    assert sorted(stats.__all__) == sorted(n for names in homes.values() for n in names)
