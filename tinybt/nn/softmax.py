"""Masked softmax over the last axis (the attention weights).

`mask` is boolean and broadcastable to the logits; **True = keep** (this key may
be attended to), False = masked out. Masked logits become −inf before the
softmax, so masked keys get weight exactly 0 and, in the backward pass, zero
gradient. A row whose keys are *all* masked has no softmax; it returns all zeros
(not NaN, which is what PyTorch's attention gives there): that query attends to
nothing.

    p = softmax(l over kept keys),   ∂S/∂l = p ⊙ (dp − Σ_k dp_k p_k)

The public pair runs fused Numba kernels, one pass per row with no −inf
temporaries; `masked_softmax_forward_reference` / `masked_softmax_backward_reference`
are the plain NumPy versions they are tested against.
"""

import math

import numpy as np
from numba import njit


# ---- plain NumPy reference (rows of a 2-D array) ------------------------------

def masked_softmax_forward_reference(logits, keep):
    """logits (N, K), keep (N, K) bool -> p (N, K)."""
    z = np.where(keep, logits, -np.inf)
    m = z.max(axis=-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)           # all-masked row: exp(−inf) = 0 everywhere
    e = np.exp(z - m)                            # subtracting the max: no overflow
    s = e.sum(axis=-1, keepdims=True)
    return (e / np.where(s > 0, s, 1)).astype(logits.dtype, copy=False)


def masked_softmax_backward_reference(dp, p):
    """dp, p (N, K) -> dlogits (N, K)."""
    return p * (dp - (dp * p).sum(axis=-1, keepdims=True))


# ---- fused Numba kernels (same maths, write into their outputs) ---------------

@njit(cache=True)
def _fwd_kernel(logits, keep, p):
    N, K = logits.shape
    for i in range(N):
        m = -np.inf
        for k in range(K):
            if keep[i, k] and logits[i, k] > m:
                m = logits[i, k]
        if m == -np.inf:                         # every key masked
            for k in range(K):
                p[i, k] = 0.0
            continue
        s = 0.0
        for k in range(K):
            e = math.exp(logits[i, k] - m) if keep[i, k] else 0.0
            p[i, k] = e
            s += e
        for k in range(K):
            p[i, k] /= s


@njit(cache=True)
def _bwd_kernel(dp, p, dlogits):
    N, K = p.shape
    for i in range(N):
        s = 0.0
        for k in range(K):
            s += dp[i, k] * p[i, k]
        for k in range(K):
            dlogits[i, k] = p[i, k] * (dp[i, k] - s)


# ---- the layer -----------------------------------------------------------------

def masked_softmax_forward(logits, mask, fused=True):
    """logits (..., K), mask bool broadcastable to (..., K), True = keep -> p (..., K)."""
    mask = np.asarray(mask)
    if mask.dtype != np.bool_:
        raise ValueError(f"masked_softmax: mask must be boolean (True = keep), got {mask.dtype}")
    shape, K = logits.shape, logits.shape[-1]
    l2 = np.ascontiguousarray(logits).reshape(-1, K)
    keep = np.ascontiguousarray(np.broadcast_to(mask, shape)).reshape(-1, K)
    if fused:
        p = np.empty_like(l2)
        _fwd_kernel(l2, keep, p)
    else:
        p = masked_softmax_forward_reference(l2, keep)
    return p.reshape(shape), (p, fused)


def masked_softmax_backward(dp, cache):
    """dp (..., K) -> dlogits (..., K), {} (no parameters)."""
    p, fused = cache
    d2 = np.ascontiguousarray(dp).reshape(p.shape)
    if fused:
        dl = np.empty_like(d2)
        _bwd_kernel(d2, p, dl)
    else:
        dl = masked_softmax_backward_reference(d2, p)
    return dl.reshape(dp.shape), {}
