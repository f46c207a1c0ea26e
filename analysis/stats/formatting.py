"""Formatting p-values honestly, and turning results into JSON-ready builtins.

p-value floors (checked against statsmodels 0.15.0 / SciPy 1.17.1 source): F, chi-square and
normal p-values come from SciPy survival functions (``special.fdtrc``, ``chdtrc``, ``ndtr``)
that are accurate far below 1e-16; the paper's 5.22e-100 is representable.  They are only
clipped where the double really underflowed: below the smallest normal double
(:data:`ANALYTIC_P_FLOOR`, about 2.2e-308) the text says ``"< 2.23e-308"``.  Tukey HSD has a
floor of its own (:data:`analysis.stats.paper.TUKEY_P_FLOOR`, see :mod:`analysis.stats.paper`).
"""

from __future__ import annotations

import math
from dataclasses import fields, is_dataclass
from typing import Any

import numpy as np

#: Smallest normal double.  SciPy's closed-form survival functions are
#: accurate down to here; a smaller value (0.0 or subnormal) has underflowed.
ANALYTIC_P_FLOOR: float = float(np.finfo(float).tiny)


def format_p(p: float, floor: float = 1e-16) -> str:
    """Format a p-value without claiming more precision than was computed.

    ``p`` at or below 0, or below ``floor``, is reported as ``"< floor"``
    (e.g. ``"< 1e-16"``, ``"< 0.001"``): the true value is not 0, it is just
    smaller than what the method that produced it can resolve.  Pass the
    floor of the method that produced ``p`` (see :data:`ANALYTIC_P_FLOOR`,
    :data:`TUKEY_P_FLOOR`).  Otherwise p >= 0.001 is given to three
    significant digits (``"0.0123"``) and smaller ones in scientific notation
    (``"5.22e-100"``).  NaN (test undefined) gives ``"n/a"``.
    """
    p = float(p)
    if math.isnan(p):
        return "n/a"
    if p <= 0.0 or p < floor:
        return f"< {float(floor):.3g}"
    if p >= 1e-3:
        return f"{p:#.3g}"
    return f"{p:.2e}"


def _jsonable(value: Any) -> Any:
    """Convert results into JSON-safe builtins (non-finite floats -> None).

    NaN/inf are not valid JSON, and every place they can appear carries a
    ``note`` explaining why, so ``None`` loses nothing.
    """
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    raise TypeError(f"cannot serialise {type(value).__name__}")
