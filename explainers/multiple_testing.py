"""Corrections for multiple testing, shared by the survey's analysis and KAR's verdicts (plain NumPy, no Django, no torch).

One rule for a test that could not be computed (its p-value is NaN): it still counts in the
family, as if its p-value were 1, and its adjusted p-value is NaN. Counting it keeps the
correction as conservative as if the test had been run and found nothing; leaving it NaN keeps
"undefined" from reading as "not significant at p = 1". (statsmodels' ``multipletests`` gives
the same numbers when NaN is passed to it as it is: ``argsort`` puts NaN last, so every other
p-value gets the multiplier it would get next to a p-value of 1.)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["holm"]


def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values, in the order given.

    With the m p-values sorted ascending, the i-th smallest (i = 0, 1, ...) is multiplied by
    m - i; each product is raised to the largest product before it (so the adjusted values keep
    the order of the raw ones) and capped at 1. A NaN counts in m as p = 1 and comes back as NaN
    (see the module's text). The same arithmetic as statsmodels'
    ``multipletests(method="holm")``, so its values are the same to the last bit.
    """
    p = np.asarray(pvalues, dtype=float)
    if p.ndim != 1:
        raise ValueError("pvalues must be 1-D")
    nan = np.isnan(p)
    q = np.where(nan, 1.0, p)
    m = q.size
    order = np.argsort(q, kind="stable")
    adjusted = np.minimum(np.maximum.accumulate(q[order] * np.arange(m, 0, -1)), 1.0)
    out = np.empty_like(q)
    out[order] = adjusted
    out[nan] = np.nan
    return out
