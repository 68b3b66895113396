"""Masked softmax over the last axis (the attention weights).

`mask` is boolean and broadcastable to the logits; **True = keep** (this key may
be attended to), False = masked out. Masked logits become −inf before the
softmax, so masked keys get weight exactly 0 and, in the backward pass, zero
gradient. A row whose keys are *all* masked has no softmax; it returns all zeros
(not NaN, which is what PyTorch's attention gives there): that query attends to
nothing.
"""

import numpy as np

from tinybt import backend
from tinybt.kernels import softmax as kernel


def masked_softmax_forward(logits, mask):
    """logits (..., K), mask bool broadcastable to (..., K), True = keep -> p (..., K); cache = p."""
    mask = np.asarray(mask)
    if mask.dtype != np.bool_:
        raise ValueError(f"masked_softmax: mask must be boolean (True = keep), got {mask.dtype}")
    keep = np.broadcast_to(mask, logits.shape)
    if backend.fast():
        return kernel.masked_softmax_forward(logits, keep)
    z = np.where(keep, logits, -np.inf)
    m = z.max(axis=-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)           # all-masked row: exp(−inf) = 0 everywhere
    e = np.exp(z - m)                            # subtracting the max: no overflow
    s = e.sum(axis=-1, keepdims=True)
    p = (e / np.where(s > 0, s, 1)).astype(logits.dtype, copy=False)
    return p, p


def masked_softmax_backward(dp, p):
    """dp (..., K) -> dlogits (..., K), {} (no parameters)."""
    if backend.fast():
        return kernel.masked_softmax_backward(dp, p)
    return p * (dp - (dp * p).sum(axis=-1, keepdims=True)), {}   # ∂p_k/∂l_j = p_k (δ_kj − p_j)
