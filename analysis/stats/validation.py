"""Checks on the arrays every test of :mod:`analysis.stats` takes, and its default methods."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from explainers.methods import registry


def _methods(methods: Sequence[str] | None) -> tuple[str, ...]:
    """``methods`` as a tuple; ``None`` means the paper's four, in the index order of ``choices``.

    The registry is read at call time, so a test may register a method.
    """
    return tuple(registry.names(paper=True) if methods is None else methods)


def _matrix(x: Any, name: str, methods: Sequence[str], min_rows: int = 2) -> np.ndarray:
    """Validate a participants x methods matrix of finite, non-negative numbers."""
    a = np.asarray(x, dtype=float)
    if a.ndim != 2:
        raise ValueError(f"{name} must be 2-D (participants x methods), got shape {a.shape}")
    if a.shape[1] != len(methods):
        raise ValueError(
            f"{name} has {a.shape[1]} columns but {len(methods)} methods were given ({', '.join(methods)})"
        )
    if len(methods) < 2:
        raise ValueError("need at least 2 methods to compare")
    if a.shape[0] < min_rows:
        raise ValueError(f"need at least {min_rows} participants, got {a.shape[0]}")
    bad = ~np.isfinite(a)
    if bad.any():
        rows = sorted(set(np.nonzero(bad)[0].tolist()))
        raise ValueError(
            f"{name} contains NaN/inf for participant row(s) {rows[:10]}"
            " (e.g. a participant with no answered real questions); drop them first"
        )
    if (a < 0).any():
        raise ValueError(f"{name} must be non-negative")
    return a
