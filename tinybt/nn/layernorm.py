"""LayerNorm over the last dim: y = (x − μ) / √(σ² + eps) · w + b, σ² biased (as PyTorch).

The public pair runs a fused Numba kernel (one pass per row, no temporaries);
`layernorm_forward_reference` / `layernorm_backward_reference` are the plain
NumPy versions it is tested against. Both use the same cache (xhat, rstd, w).
"""

import numpy as np
from numba import njit


def layernorm_init(d, dtype=np.float32):
    """PyTorch default: weight 1, bias 0, shape (D,)."""
    return {"weight": np.ones(d, dtype), "bias": np.zeros(d, dtype)}


# ---- plain NumPy reference -------------------------------------------------

def layernorm_forward_reference(x, params, eps=1e-5):
    """x (..., D), weight/bias (D,) -> out (..., D)."""
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
    rstd = 1.0 / np.sqrt(var + eps)
    xhat = (x - mu) * rstd
    return xhat * params["weight"] + params["bias"], (xhat, rstd, params["weight"])


def layernorm_backward_reference(dout, cache):
    """dout (..., D) -> dx (..., D), {"weight": (D,), "bias": (D,)}.

    xhat is invariant to shifting and scaling x, so dx is dxhat with its
    components along 1 and along xhat removed, scaled by 1/σ.
    """
    xhat, rstd, w = cache
    dxhat = dout * w
    dx = rstd * (dxhat - dxhat.mean(axis=-1, keepdims=True)
                 - xhat * (dxhat * xhat).mean(axis=-1, keepdims=True))
    lead = tuple(range(dout.ndim - 1))
    return dx, {"weight": (dout * xhat).sum(axis=lead), "bias": dout.sum(axis=lead)}


# ---- fused Numba kernels (same maths, row by row, float64 accumulators) ----

@njit(cache=True)
def _ln_fwd_kernel(x, w, b, eps, out, xhat, rstd):
    N, D = x.shape
    for i in range(N):
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


@njit(cache=True)
def _ln_bwd_kernel(dout, xhat, rstd, w, dx, dw, db):
    N, D = dout.shape
    for i in range(N):
        m1 = 0.0  # mean(dxhat)
        m2 = 0.0  # mean(dxhat * xhat)
        for j in range(D):
            g = dout[i, j] * w[j]
            m1 += g
            m2 += g * xhat[i, j]
            dw[j] += dout[i, j] * xhat[i, j]
            db[j] += dout[i, j]
        m1 /= D
        m2 /= D
        for j in range(D):
            dx[i, j] = rstd[i] * (dout[i, j] * w[j] - m1 - xhat[i, j] * m2)


def layernorm_forward(x, params, eps=1e-5):
    """x (..., D), weight/bias (D,) -> out (..., D). Fused kernel."""
    D = x.shape[-1]
    x2 = np.ascontiguousarray(x).reshape(-1, D)
    out, xhat = np.empty_like(x2), np.empty_like(x2)
    rstd = np.empty(x2.shape[0], x.dtype)
    w, b = params["weight"], params["bias"]
    _ln_fwd_kernel(x2, w, b, eps, out, xhat, rstd)
    shape = x.shape
    return out.reshape(shape), (xhat.reshape(shape), rstd.reshape(shape[:-1] + (1,)), w)


def layernorm_backward(dout, cache):
    """dout (..., D) -> dx (..., D), {"weight": (D,), "bias": (D,)}. Fused kernel."""
    xhat, rstd, w = cache
    D = dout.shape[-1]
    d2 = np.ascontiguousarray(dout).reshape(-1, D)
    dx = np.empty_like(d2)
    dw, db = np.zeros(D, np.float64), np.zeros(D, np.float64)
    _ln_bwd_kernel(d2, xhat.reshape(-1, D), rstd.reshape(-1), w, dx, dw, db)
    return dx.reshape(dout.shape), {"weight": dw.astype(w.dtype), "bias": db.astype(w.dtype)}
