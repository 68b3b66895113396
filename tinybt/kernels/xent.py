"""The probe's softmax cross-entropy, fused (tinybt/losses/xent.py is the reference).

One pass per row: max, exp, sum, log and the gradient p − onehot, written over the
logits in place. The linear probe calls it hundreds of thousands of times on small
matrices, where the reference's dozen NumPy temporaries per call cost more than the maths.
For sparse (CSR) features the whole objective is one pass over the rows: logits, loss
and gradient row by row, so X is read once per evaluation instead of twice (X Wᵀ and
Xᵀ dlogits) and no (N, C) temporaries are made.
"""

import math

import numpy as np
from numba import njit


@njit(cache=True)
def _row_xent(z, yi, N):
    """One row: logits z (C,) -> its loss; z becomes (softmax(z) − onehot(yi)) / N."""
    m = -math.inf
    for c in range(len(z)):
        m = max(m, z[c])
    loss = m - z[yi]                          # l = log Σ exp(z − m) + m − z_y
    s = 0.0
    for c in range(len(z)):
        e = math.exp(z[c] - m)
        z[c] = e
        s += e
    for c in range(len(z)):
        z[c] /= s * N
    z[yi] -= 1.0 / N
    return loss + math.log(s)


@njit(cache=True)
def mean_xent_inplace(logits, y):
    """logits (N, C) float64, y int (N,) -> mean cross-entropy; logits become ∂loss/∂logits."""
    N = logits.shape[0]
    total = 0.0
    for i in range(N):
        total += _row_xent(logits[i], y[i], N)
    return total / N


@njit(cache=True)
def csr_linear_xent(indptr, indices, data, WT, b, y, dWT, db):
    """Mean cross-entropy of logits = X W + b for X (N, K) in CSR (indptr, indices, data),
    WT (K, C) (Wᵀ: a column's C weights are contiguous), b (C,), y int (N,).
    Writes dWT = Xᵀ dlogits (K, C) and db = Σ_n dlogits_n (C,); returns the loss."""
    N, C = len(indptr) - 1, len(b)
    dWT[:] = 0.0
    db[:] = 0.0
    z = np.empty(C)
    total = 0.0
    for i in range(N):
        z[:] = b
        for p in range(indptr[i], indptr[i + 1]):
            j, v = indices[p], data[p]
            for c in range(C):
                z[c] += v * WT[j, c]
        total += _row_xent(z, y[i], N)
        for c in range(C):
            db[c] += z[c]
        for p in range(indptr[i], indptr[i + 1]):
            j, v = indices[p], data[p]
            for c in range(C):
                dWT[j, c] += v * z[c]
    return total / N
