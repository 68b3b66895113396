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

import numpy as np


def softmax_cross_entropy(logits, y, class_weights=None):
    """Returns (loss, dlogits): loss a scalar of logits' dtype, dlogits (N, C)."""
    logits = np.asarray(logits)
    y = np.asarray(y)
    n, c = logits.shape
    if y.shape != (n,) or y.dtype.kind not in "iu":
        raise ValueError(f"softmax_cross_entropy: y must be int of shape ({n},), got {y.dtype} {y.shape}")
    if n and (y.min() < 0 or y.max() >= c):
        raise ValueError(f"softmax_cross_entropy: labels must lie in [0, {c}), got [{y.min()}, {y.max()}]")
    rows = np.arange(n)

    shifted = logits - logits.max(axis=1, keepdims=True)   # the max is exp(0) = 1: no overflow
    e = np.exp(shifted)
    s = e.sum(axis=1, keepdims=True)
    per_row = np.log(s[:, 0]) - shifted[rows, y]            # l_i, shift cancels out

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
    loss = logits.dtype.type(np.dot(w, per_row))

    dlogits = e / s                                         # p
    dlogits[rows, y] -= 1                                   # p − onehot
    dlogits *= w[:, None]
    return loss, dlogits
