"""NormLIME (paper Eq. 3-5 and 9) and the SP-LIME column norm (Eq. 6), global or per class.

Both take a matrix W whose rows are local explanations (n x d). ``signed=True``
multiplies each score by the sign of the feature's mean local weight over the
explanations that use it (in that class): the paper shows only features
"positively correlated with the class", which Eq. 5/9 alone cannot tell.
"""

from __future__ import annotations

import numpy as np

from ..data import MNIST_CLASSES

NUM_CLASSES = len(MNIST_CLASSES)  # the default: any other data set passes its own number of classes


def normlime(W, labels=None, *, signed: bool = False, num_classes: int = NUM_CLASSES) -> np.ndarray:
    """NormLIME scores: (d,) global (Eq. 5) when ``labels`` is None, else (num_classes, d) (Eq. 9).

    S(c_i) = 1/|E(c_i)| * sum over w in E(c_i) of |w_i|^2 / ||w||_1, where E(c_i)
    holds the explanations with w_i != 0; a feature no explanation uses scores 0.
    """
    W = _check_weights(W)
    l1 = np.abs(W).sum(1)
    # rows with no weight at all use no feature; dividing by 1 keeps their zeros
    gamma_w = np.divide(W**2, l1[:, None], out=np.zeros_like(W), where=l1[:, None] > 0)
    return _aggregate(W, labels, num_classes, signed, lambda rows: _mean_over_users(gamma_w[rows], W[rows]))


def lime_sp(W, labels=None, *, signed: bool = False, num_classes: int = NUM_CLASSES) -> np.ndarray:
    """SP-LIME importance I(c_i) = ||omega_i||_2 (Eq. 6): (d,) or, with labels, (num_classes, d)."""
    W = _check_weights(W)
    return _aggregate(W, labels, num_classes, signed, lambda rows: np.sqrt((W[rows] ** 2).sum(0)))


def _aggregate(W, labels, num_classes, signed, score) -> np.ndarray:
    if labels is None:
        rows = np.ones(len(W), dtype=bool)
        out = score(rows)
        return out * _sign(W[rows]) if signed else out
    labels = np.asarray(labels).reshape(-1)
    if len(labels) != len(W):
        raise ValueError(f"labels has {len(labels)} entries for {len(W)} explanations")
    if len(labels) and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"labels must lie in 0..{num_classes - 1}")
    out = np.zeros((num_classes, W.shape[1]), dtype=np.float64)
    for y in range(num_classes):
        rows = labels == y  # E_y(c_i): the explanations of points the model assigns to y (Eq. 7)
        if rows.any():
            out[y] = score(rows) * (_sign(W[rows]) if signed else 1.0)
    return out


def _mean_over_users(values: np.ndarray, W: np.ndarray) -> np.ndarray:
    """Column means over the rows whose weight is non-zero (0 where no row uses the feature)."""
    users = (W != 0).sum(0)
    return np.divide(values.sum(0), users, out=np.zeros(W.shape[1]), where=users > 0)


def _sign(W: np.ndarray) -> np.ndarray:
    """Sign of each feature's mean weight over the explanations that use it."""
    return np.sign(_mean_over_users(W, W))


def _check_weights(W) -> np.ndarray:
    W = np.asarray(W, dtype=np.float64)
    if W.ndim != 2:
        raise ValueError(f"W must be a 2-D matrix of local explanations (got shape {W.shape})")
    if not np.isfinite(W).all():
        raise ValueError("W contains NaN or infinite weights")
    return W
