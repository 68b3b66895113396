"""Softmax cross-entropy with optional class weights (the linear probe's loss).

Shapes: logits (N, C), y int (N,), class_weights (C,).

    p_i  = softmax(logits_i)                       (stable: subtract the row max)
    l_i  = −log p_{i, y_i} = logsumexp(logits_i) − logits_{i, y_i}
    loss = Σ_i w_{y_i} l_i / Σ_i w_{y_i}            (w ≡ 1: the plain mean)

This is torch.nn.functional.cross_entropy(logits, y, weight=w) with reduction
"mean". Its derivative, right next to it:

    ∂loss/∂logits_i = w_{y_i} / Σ w_{y} · (p_i − onehot(y_i))

A logit of −inf (used by the dual-encoder loss to mask a column out) gets
p = 0 and a zero gradient, as long as the row's own label logit is finite.
"""

from typing import NamedTuple

import numpy as np


class XentCache(NamedTuple):
    p: np.ndarray          # (N, C) softmax(logits)
    y: np.ndarray          # (N,) labels
    w: np.ndarray          # (N,) each row's weight in the mean, w_{y_i} / Σ w_{y}


def cross_entropy_forward(logits, y, class_weights=None):
    """logits (N, C), y int (N,), class_weights (C,) or None -> loss (scalar of logits' dtype), cache."""
    logits = np.asarray(logits)
    y = np.asarray(y)
    n, c = logits.shape
    if y.shape != (n,) or y.dtype.kind not in "iu":
        raise ValueError(f"softmax_cross_entropy: y must be int of shape ({n},), got {y.dtype} {y.shape}")
    if n and (y.min() < 0 or y.max() >= c):
        raise ValueError(f"softmax_cross_entropy: labels must lie in [0, {c}), got [{y.min()}, {y.max()}]")

    shifted = logits - logits.max(axis=1, keepdims=True)   # the max is exp(0) = 1: no overflow
    e = np.exp(shifted)
    s = e.sum(axis=1, keepdims=True)
    per_row = np.log(s[:, 0]) - shifted[np.arange(n), y]    # l_i, shift cancels out

    if class_weights is None:
        w = np.full(n, 1.0 / n, dtype=logits.dtype)
    else:
        cw = np.asarray(class_weights, dtype=logits.dtype)
        if cw.shape != (c,):
            raise ValueError(f"softmax_cross_entropy: class_weights must have shape ({c},), got {cw.shape}")
        total = cw[y].sum()
        if not total > 0:
            raise ValueError("softmax_cross_entropy: the labels' class weights sum to zero")
        w = cw[y] / total
    return logits.dtype.type(np.dot(w, per_row)), XentCache(e / s, y, w)


def cross_entropy_backward(dloss, cache):
    """dloss (scalar) -> dlogits (N, C), {} (no parameters)."""
    p, y, w = cache
    dlogits = p.copy()
    dlogits[np.arange(len(y)), y] -= 1                      # p − onehot
    dlogits *= (dloss * w)[:, None]
    return dlogits, {}


def softmax_cross_entropy(logits, y, class_weights=None):
    """(loss, dlogits) in one call: what an optimiser such as L-BFGS asks for (the probe)."""
    loss, cache = cross_entropy_forward(logits, y, class_weights)
    dlogits, _ = cross_entropy_backward(1.0, cache)
    return loss, dlogits
