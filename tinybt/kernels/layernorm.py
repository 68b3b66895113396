"""LayerNorm's fast path (tinybt/nn/layernorm.py is the reference).

One pass per row with float64 accumulators, writing into preallocated outputs:
the NumPy version makes a (N, D) temporary for every one of its ~10 array operations.
The backward accumulates dweight and dbias in the same row loop. Rows run in parallel
(`prange`): the forward row by row; the backward in kernels/linear.py's row blocks, each
summing its own dweight/dbias partial, added in block order afterwards, so results depend
on the thread count only, never on scheduling. The row sums may be
reassociated (fastmath "reassoc"), so LLVM splits them over SIMD lanes instead of one
add waiting for the last.
"""

from typing import NamedTuple

import numpy as np
from numba import njit, prange

from tinybt.kernels.linear import row_blocks

REASSOC = {"reassoc", "contract"}      # sums in any order (SIMD); no NaN/inf assumptions


class LayerNormKernelCache(NamedTuple):
    xhat: np.ndarray     # (N, D), rows = every leading position
    rstd: np.ndarray     # (N,)
    w: np.ndarray        # (D,)
    shape: tuple         # x's shape


@njit(parallel=True, cache=True, fastmath=REASSOC)
def _fwd_kernel(x, w, b, eps, out, xhat, rstd):
    N, D = x.shape
    for i in prange(N):
        mu = 0.0
        for j in range(D):
            mu += x[i, j]
        mu /= D
        var = 0.0
        for j in range(D):
            var += (x[i, j] - mu) ** 2
        r = 1.0 / np.sqrt(var / D + eps)
        rstd[i] = r
        for j in range(D):
            xh = (x[i, j] - mu) * r
            xhat[i, j] = xh
            out[i, j] = xh * w[j] + b[j]


@njit(parallel=True, cache=True, fastmath=REASSOC)
def _bwd_kernel(dout, xhat, rstd, w, dx, dw, db):
    """dw, db (k, D): block c's partial sums over its rows."""
    N, D = dout.shape
    k = dw.shape[0]
    for c in prange(k):
        for i in range(c * N // k, (c + 1) * N // k):
            m1 = 0.0  # mean(dxhat)
            m2 = 0.0  # mean(dxhat * xhat)
            for j in range(D):
                g = dout[i, j] * w[j]
                m1 += g
                m2 += g * xhat[i, j]
                dw[c, j] += dout[i, j] * xhat[i, j]
                db[c, j] += dout[i, j]
            m1 /= D
            m2 /= D
            for j in range(D):
                dx[i, j] = rstd[i] * (dout[i, j] * w[j] - m1 - xhat[i, j] * m2)


def layernorm_forward(x, params, eps=1e-5):
    D = x.shape[-1]
    x2 = np.ascontiguousarray(x).reshape(-1, D)
    out, xhat = np.empty_like(x2), np.empty_like(x2)
    rstd = np.empty(x2.shape[0], x.dtype)
    w = params["weight"]
    _fwd_kernel(x2, w, params["bias"], eps, out, xhat, rstd)
    return out.reshape(x.shape), LayerNormKernelCache(xhat, rstd, w, x.shape)


def layernorm_backward(dout, cache):
    D = cache.w.shape[0]
    d2 = np.ascontiguousarray(dout).reshape(-1, D)
    dx = np.empty_like(d2)
    k = row_blocks(len(d2))
    dw, db = np.zeros((k, D), np.float64), np.zeros((k, D), np.float64)
    _bwd_kernel(d2, cache.xhat, cache.rstd, cache.w, dx, dw, db)
    dw, db = dw.sum(axis=0), db.sum(axis=0)          # block order: fixed for a thread count
    return dx.reshape(cache.shape), {"weight": dw.astype(cache.w.dtype), "bias": db.astype(cache.w.dtype)}
