"""Statistics for the NormLIME human study (paper section "User study").

Everything here is a pure function over plain NumPy arrays -- NumPy, SciPy and
statsmodels, no Django, no ORM -- so the numbers in the report can be recomputed
from an exported CSV and unit-tested against arithmetic done by hand.  Each
function returns a small frozen dataclass that keeps the raw floats *and* an
honest formatted p-value.  ``from analysis import stats; stats.X`` reaches every
public name; the modules hold:

* :mod:`~analysis.stats.paper` -- the paper's analysis: :func:`attention_filter`,
  :func:`tally`, the one-way ANOVA (:func:`paper_anova`, cross-checked by
  :func:`anova_lm_check`) and :func:`tukey_hsd`, with :data:`TUKEY_P_FLOOR` and
  :data:`PSTURNG_P_FLOOR`;
* :mod:`~analysis.stats.design` -- the analyses that respect the repeated-measures
  design: :func:`friedman`, :func:`pairwise_wilcoxon` (Holm-corrected),
  :func:`hotelling_contrasts`, :func:`bootstrap_share_ci`, and
  :func:`chi_square_totals` for comparison, with
  :data:`WILCOXON_CONTINUITY_CORRECTION`;
* :mod:`~analysis.stats.results` -- the result dataclasses (:class:`FilterResult`
  ... :class:`StudyAnalysis`);
* :mod:`~analysis.stats.formatting` -- :func:`format_p`, :data:`ANALYTIC_P_FLOOR`
  and the JSON conversion behind every result's ``to_dict()``;
* :mod:`~analysis.stats.validation` -- the checks on input arrays and the default
  methods (``registry.names(paper=True)``, read at call time);
* :mod:`~analysis.stats.analyze` -- :func:`analyze`, every analysis of a study
  together.  The module shares the function's name: ``stats.analyze`` is the
  function (so is ``import analysis.stats.analyze as m``); the module itself is
  ``sys.modules["analysis.stats.analyze"]``, which ``mock.patch`` targets such as
  ``"analysis.stats.analyze.tally"`` reach;
* :func:`holm` is :func:`explainers.multiple_testing.holm`, shared with KAR's
  verdicts.

Data layout
-----------
* ``correct``: participants x attention checks.  ``True``/``1`` = correct,
  ``False``/``0`` = wrong, ``-1``/``NaN``/``None`` = not answered.
* ``choices``: participants x real questions, ints indexing ``methods``, by
  default the paper's four, ``registry.names(paper=True)`` (0 = normlime,
  1 = lime, 2 = smoothgrad, 3 = vargrad), ``-1`` = unanswered.
* ``counts``: participants x methods, votes per method (from :func:`tally`).
* ``shares``: ``counts / answered``; every row sums to 1.

Two families of analyses
------------------------
1. *The paper's analysis* (:mod:`~analysis.stats.paper`): a one-way ANOVA and
   Tukey HSD that treat each method's column of per-participant shares as an
   independent group, as the paper did (83 participants -> df (3, 328),
   F = 338, p = 5.22e-100), although the four shares of one participant sum
   to 1.
2. *Analyses that respect the design* (:mod:`~analysis.stats.design`):
   Friedman (+ Kendall's W), paired Wilcoxon signed-rank with Holm correction,
   repeated-measures Hotelling's T^2 on k-1 contrasts, and a participant-level
   cluster bootstrap of each method's overall share.  :func:`chi_square_totals`
   treats all 1660 votes as independent and is anti-conservative: for
   comparison only.

The p-value floors are explained in :mod:`~analysis.stats.formatting` (analytic
p-values) and :mod:`~analysis.stats.paper` (Tukey HSD).
"""

from __future__ import annotations

from explainers.multiple_testing import holm

from .analyze import analyze
from .design import (
    WILCOXON_CONTINUITY_CORRECTION,
    bootstrap_share_ci,
    chi_square_totals,
    friedman,
    hotelling_contrasts,
    pairwise_wilcoxon,
)
from .formatting import ANALYTIC_P_FLOOR, format_p
from .paper import PSTURNG_P_FLOOR, TUKEY_P_FLOOR, anova_lm_check, attention_filter, paper_anova, tally, tukey_hsd
from .results import (
    AnovaLmCheck,
    AnovaResult,
    BootstrapResult,
    ChiSquareResult,
    FilterResult,
    FriedmanResult,
    HotellingResult,
    StudyAnalysis,
    Tally,
    TukeyResult,
    TukeyRow,
    WilcoxonResult,
    WilcoxonRow,
)

__all__ = [
    "ANALYTIC_P_FLOOR",
    "TUKEY_P_FLOOR",
    "PSTURNG_P_FLOOR",
    "WILCOXON_CONTINUITY_CORRECTION",
    "format_p",
    "holm",
    "attention_filter",
    "tally",
    "paper_anova",
    "anova_lm_check",
    "tukey_hsd",
    "friedman",
    "pairwise_wilcoxon",
    "hotelling_contrasts",
    "chi_square_totals",
    "bootstrap_share_ci",
    "analyze",
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
]
