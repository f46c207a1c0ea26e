"""Every analysis of one study together: :func:`analyze` (attention filter, tally, then each test)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from survey.rules import DEFAULT_PASS_THRESHOLD

from .design import bootstrap_share_ci, chi_square_totals, friedman, hotelling_contrasts, pairwise_wilcoxon
from .paper import anova_lm_check, attention_filter, paper_anova, tally, tukey_hsd
from .results import StudyAnalysis
from .validation import _methods


def analyze(
    correct: np.ndarray,
    choices: np.ndarray,
    min_correct: int = DEFAULT_PASS_THRESHOLD,
    n_boot: int = 10000,
    seed: int | None = 0,
    alpha: float = 0.05,
    methods: Sequence[str] | None = None,
    contrast: str = "last",
) -> StudyAnalysis:
    """Filter on attention checks, tally votes, and run every analysis.

    Row i of ``correct`` and of ``choices`` must be the same participant.
    Raises ``ValueError`` with a plain-language message when there is
    nothing to analyse (no or only one participant kept, a kept participant
    with no answered real question); statistics that are merely undefined
    for the data (e.g. zero variance) come back as NaN with a ``note``.
    """
    methods = _methods(methods)
    c = np.asarray(correct)
    ch = np.asarray(choices)
    if c.ndim != 2 or ch.ndim != 2:
        raise ValueError(f"correct and choices must be 2-D, got shapes {c.shape} and {ch.shape}")
    if c.shape[0] != ch.shape[0]:
        raise ValueError(
            f"correct has {c.shape[0]} participants but choices has {ch.shape[0]}; rows must be the same participants"
        )
    filt = attention_filter(c, min_correct)
    total = c.shape[0]
    if filt.n_kept == 0:
        raise ValueError(
            f"no participants kept: 0 of {total} passed at least {filt.min_correct} of {filt.n_checks} attention checks"
        )
    if filt.n_kept < 2:
        raise ValueError(
            f"only 1 of {total} participants passed at least {filt.min_correct} of {filt.n_checks} attention checks;"
            " need at least 2 to compare methods across participants"
        )
    t = tally(ch[filt.kept], methods)
    if (t.answered == 0).any():
        bad = filt.kept_indices[t.answered == 0].tolist()
        raise ValueError(f"kept participant(s) {bad} answered no real question; their shares are undefined")
    shares, counts = t.shares, t.counts
    return StudyAnalysis(
        methods=methods,
        n_participants_total=total,
        kept_indices=tuple(int(i) for i in filt.kept_indices),
        filter=filt,
        tally=t,
        anova=paper_anova(shares, methods),
        anova_lm=anova_lm_check(shares, methods),
        tukey=tukey_hsd(shares, methods, alpha=alpha),
        friedman=friedman(counts, methods),
        wilcoxon=pairwise_wilcoxon(shares, methods, alpha=alpha),
        hotelling=hotelling_contrasts(shares, methods, contrast=contrast),
        chi_square=chi_square_totals(t.totals, methods),
        bootstrap=bootstrap_share_ci(counts, n_boot=n_boot, seed=seed, methods=methods),
    )
