"""The masked softmax's fast path (tinybt/nn/softmax.py is the reference).

One pass per row over the kept keys: no −inf temporaries, no (…, K) intermediates.
"""

import math

import numpy as np
from numba import njit


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


def masked_softmax_forward(logits, keep):
    """keep: bool, already broadcast to logits' shape."""
    K = logits.shape[-1]
    p = np.empty(logits.shape, logits.dtype)
    _fwd_kernel(np.ascontiguousarray(logits).reshape(-1, K), np.ascontiguousarray(keep).reshape(-1, K),
                p.reshape(-1, K))
    return p, p


def masked_softmax_backward(dp, p):
    K = p.shape[-1]
    dl = np.empty_like(p)
    _bwd_kernel(np.ascontiguousarray(dp).reshape(-1, K), p.reshape(-1, K), dl.reshape(-1, K))
    return dl, {}
