"""LayerNorm over the last dim: y = (x − μ) / √(σ² + eps) · w + b, σ² biased (as PyTorch)."""

from typing import NamedTuple

import numpy as np

from tinybt import backend
from tinybt.kernels import layernorm as kernel


class LayerNormCache(NamedTuple):
    xhat: np.ndarray     # (..., D) the normalised input
    rstd: np.ndarray     # (..., 1) 1 / √(σ² + eps)
    w: np.ndarray        # (D,)


def layernorm_init(d, dtype=np.float32):
    """PyTorch default: weight 1, bias 0, each (D,)."""
    return {"weight": np.ones(d, dtype), "bias": np.zeros(d, dtype)}


def layernorm_forward(x, params, eps=1e-5):
    """x (..., D), weight/bias (D,) -> out (..., D)."""
    if backend.fast():
        return kernel.layernorm_forward(x, params, eps)
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
    rstd = 1.0 / np.sqrt(var + eps)
    xhat = (x - mu) * rstd
    return xhat * params["weight"] + params["bias"], LayerNormCache(xhat, rstd, params["weight"])


def layernorm_backward(dout, cache):
    """dout (..., D) -> dx (..., D), {"weight": (D,), "bias": (D,)}.

    xhat is invariant to shifting and scaling x, so dx is dxhat with its
    components along 1 and along xhat removed, scaled by 1/σ.
    """
    if backend.fast():
        return kernel.layernorm_backward(dout, cache)
    xhat, rstd, w = cache
    dxhat = dout * w                                # y = xhat · w + b
    dx = rstd * (dxhat - dxhat.mean(axis=-1, keepdims=True)
                 - xhat * (dxhat * xhat).mean(axis=-1, keepdims=True))
    lead = tuple(range(dout.ndim - 1))              # w and b are shared by every position
    return dx, {"weight": (dout * xhat).sum(axis=lead), "bias": dout.sum(axis=lead)}
