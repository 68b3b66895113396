"""The linear layer's fast path (tinybt/nn/linear.py is the reference: same arguments,
the same cache fields, same results up to rounding), for the big position-wise GEMMs.

Training keeps BLAS on one thread (a second BLAS thread waits for a core Numba holds),
so one (N × Din)(Din × Dout) GEMM would use one core. Here the N rows split into one
block per Numba thread and each block is its own single-threaded BLAS call (`prange`):
x Wᵀ and dout W are row-wise, so each output row is computed by one call; dW = doutᵀ x
sums over the rows, so each block's partial product is summed in block order afterwards,
never as threads finish. Results depend on the thread count only, not on scheduling.
"""

from typing import NamedTuple

import numba
import numpy as np
from numba import njit, prange


MIN_ROWS = 1024      # below this a parallel region's start-up costs more than half the GEMM


class RowBlockLinearCache(NamedTuple):
    x: np.ndarray        # (N, Din) C-contiguous
    W: np.ndarray        # (Dout, Din)
    has_bias: bool


@njit(parallel=True, cache=True)
def _dot_rows(a, b, out, k):
    """out = a b, the rows of a in k blocks."""
    n = a.shape[0]
    for c in prange(k):
        r0, r1 = c * n // k, (c + 1) * n // k
        np.dot(a[r0:r1], b, out[r0:r1])


@njit(parallel=True, cache=True)
def _dot_tn_partials(a, b, parts):
    """parts[c] = a[rows of block c]ᵀ b[same rows]: the k partial sums of aᵀ b."""
    n, k = a.shape[0], parts.shape[0]
    for c in prange(k):
        r0, r1 = c * n // k, (c + 1) * n // k
        np.dot(a[r0:r1].T, b[r0:r1], parts[c])


def row_blocks(n):
    """Row blocks for n rows: one per Numba thread, one below MIN_ROWS."""
    return numba.get_num_threads() if n >= MIN_ROWS else 1


def matmul_rows(a, b):
    """a (N, K) C-contiguous, b (K, M) -> a b, parallel over row blocks."""
    k = row_blocks(len(a))
    if k == 1:
        return a @ b
    out = np.empty((len(a), b.shape[1]), a.dtype)
    _dot_rows(a, b, out, k)
    return out


def matmul_tn(a, b):
    """a (N, P), b (N, Q) C-contiguous -> aᵀ b (P, Q): block partials summed in block order."""
    k = row_blocks(len(a))
    if k == 1:
        return a.T @ b
    parts = np.empty((k, a.shape[1], b.shape[1]), a.dtype)
    _dot_tn_partials(a, b, parts)
    out = parts[0]
    for c in range(1, k):
        out += parts[c]
    return out


def linear_forward(x, params):
    """x (N, Din) C-contiguous, weight (Dout, Din), optional bias (Dout,) -> out (N, Dout)."""
    W = params["weight"]
    out = matmul_rows(x, W.T)
    if "bias" in params:
        out += params["bias"]
    return out, RowBlockLinearCache(x, W, "bias" in params)


def linear_backward(dout, cache):
    """dout (N, Dout) -> dx (N, Din), {"weight": (Dout, Din)[, "bias": (Dout,)]}."""
    x, W, has_bias = cache
    dout = np.ascontiguousarray(dout)
    grads = {"weight": matmul_tn(dout, x)}
    if has_bias:
        grads["bias"] = dout.sum(axis=0)
    return matmul_rows(dout, W), grads
