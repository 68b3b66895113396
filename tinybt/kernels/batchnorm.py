"""The projector's BatchNorm1d (training mode) + ReLU, fused: nn/batchnorm.py followed by
nn/activations.py's relu is the reference (same arguments, same results up to rounding).

The reference makes a dozen NumPy passes over the (N, P) activations forward and as
many backward, each with its own temporary; at the projector's 128 × 256 those passes,
not the matrix products, were half of its time. Here the forward is one pass for the
column statistics (float64 accumulators, two-pass variance) and one writing x̂ and the
output; the backward one pass for the column sums and one writing dx.
"""

import numpy as np
from numba import njit


@njit(cache=True)
def bn_relu_forward(x, w, b, eps):
    """x (N, P), w, b (P,) -> out = max(x̂ w + b, 0), x̂, rstd (P,) of x's dtype, and the batch
    mean and biased variance (P,) as float64 (for the running statistics)."""
    n, p = x.shape
    mean, var = np.zeros(p), np.zeros(p)
    for i in range(n):
        for j in range(p):
            mean[j] += x[i, j]
    mean /= n
    for i in range(n):
        for j in range(p):
            d = x[i, j] - mean[j]
            var[j] += d * d
    var /= n
    rstd = (1 / np.sqrt(var.astype(x.dtype) + x.dtype.type(eps))).astype(x.dtype)
    m = mean.astype(x.dtype)
    xhat, out = np.empty_like(x), np.empty_like(x)
    zero = x.dtype.type(0)
    for i in range(n):
        for j in range(p):
            h = (x[i, j] - m[j]) * rstd[j]
            xhat[i, j] = h
            out[i, j] = max(h * w[j] + b[j], zero)
    return out, xhat, rstd, mean, var


@njit(cache=True)
def bn_relu_backward(dout, out, xhat, rstd, w):
    """dout (N, P) -> dx (N, P), ∂w, ∂b (P,): the ReLU's mask from out > 0, then BatchNorm's backward."""
    n, p = dout.shape
    db, dw, s2 = np.zeros(p), np.zeros(p), np.zeros(p)      # Σ d, Σ d x̂, Σ d w x̂ (float64)
    for i in range(n):
        for j in range(p):
            d = dout[i, j] if out[i, j] > 0 else 0.0
            db[j] += d
            dw[j] += d * xhat[i, j]
    for j in range(p):
        s2[j] = dw[j] * w[j] / n                             # mean of dx̂ ⊙ x̂, dx̂ = d w
    s1 = db * w / n                                          # mean of dx̂
    dx = np.empty_like(dout)
    for i in range(n):
        for j in range(p):
            d = dout[i, j] if out[i, j] > 0 else 0.0
            dx[i, j] = rstd[j] * (d * w[j] - s1[j] - xhat[i, j] * s2[j])
    return dx, dw.astype(dout.dtype), db.astype(dout.dtype)
