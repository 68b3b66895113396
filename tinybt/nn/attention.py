"""Multi-head self-attention = torch.nn.MultiheadAttention(D, n_heads, batch_first=True), no dropout.

    q|k|v = x W_inᵀ + b_in                       in_proj_weight (3D, D), stacked q|k|v
    per head (head_dim E = D / n_heads):
        A   = masked_softmax(q kᵀ / √E)          (T, T) weights over the keys
        ctx = A v
    out = concat_heads(ctx) W_outᵀ + b_out       out_proj.weight (D, D)

Mask: key_padding_mask (B, T) bool with True = padding (PyTorch's convention):
no query attends to a padded key. Not causal: every item sees the whole history.
A query with every key hidden gets all-zero weights (see softmax.py), so its
output is just out_proj.bias, where PyTorch would give NaN.
"""

import math
from typing import NamedTuple

import numpy as np

from tinybt.nn.linear import linear_backward, linear_forward, linear_init
from tinybt.params import prefixed, sub, uniform
from tinybt.nn.softmax import masked_softmax_backward, masked_softmax_forward


class AttentionCache(NamedTuple):
    q: np.ndarray         # (B, nh, T, E) each
    k: np.ndarray
    v: np.ndarray
    A: np.ndarray         # (B, nh, T, T) attention weights (the softmax's cache)
    c_in: tuple           # the in_proj and out_proj linear caches
    c_out: tuple


def mha_init(rng, d, dtype=np.float32):
    """PyTorch's init: in_proj_weight Xavier-uniform, out_proj.weight U(±1/√D), biases 0."""
    params = {"in_proj_weight": uniform(rng, (3 * d, d), math.sqrt(6.0 / (d + 3 * d)), dtype),
              "in_proj_bias": np.zeros(3 * d, dtype)}
    out = linear_init(rng, d, d, bias=False, dtype=dtype)
    out["bias"] = np.zeros(d, dtype)
    return {**params, **prefixed(out, "out_proj")}


def attention_keep(B, T, key_padding_mask=None):
    """-> keep (B or 1, 1, 1, T) bool: keep[b, 0, 0, j] = every query may attend to key j."""
    keep = np.ones((1, 1, 1, T), bool)
    if key_padding_mask is not None:
        kpm = np.asarray(key_padding_mask)
        if kpm.shape != (B, T) or kpm.dtype != np.bool_:
            raise ValueError(f"attention: key_padding_mask must be a bool array of shape ({B}, {T}) "
                             f"with True = padding, got {kpm.dtype} array of shape {kpm.shape}")
        keep = ~kpm[:, None, None, :]
    return keep


def mha_forward(x, params, n_heads, key_padding_mask=None):
    """x (B, T, D) -> out (B, T, D). params: "in_proj_weight" (3D, D), "in_proj_bias" (3D,),
    "out_proj.weight" (D, D), "out_proj.bias" (D,)."""
    B, T, D = x.shape
    if D % n_heads:
        raise ValueError(f"attention: model dim D={D} is not divisible by n_heads={n_heads}")
    E = D // n_heads
    keep = attention_keep(B, T, key_padding_mask)
    qkv, c_in = linear_forward(x, {"weight": params["in_proj_weight"], "bias": params["in_proj_bias"]})
    q, k, v = qkv.reshape(B, T, 3, n_heads, E).transpose(2, 0, 3, 1, 4)    # each (B, nh, T, E)
    A, _ = masked_softmax_forward((q @ k.swapaxes(-1, -2)) * (1 / math.sqrt(E)), keep)   # (B, nh, T, T)
    ctx = (A @ v).transpose(0, 2, 1, 3).reshape(B, T, D)                    # heads side by side
    out, c_out = linear_forward(ctx, sub(params, "out_proj"))
    return out, AttentionCache(q, k, v, A, c_in, c_out)


def mha_backward(dout, cache):
    """dout (B, T, D) -> dx (B, T, D), grads with the params' keys."""
    q, k, v, A, c_in, c_out = cache
    B, nh, T, E = q.shape
    dctx, g_out = linear_backward(dout, c_out)
    dctx = dctx.reshape(B, T, nh, E).transpose(0, 2, 1, 3)
    dv = A.swapaxes(-1, -2) @ dctx                                # ctx = A v
    dscores, _ = masked_softmax_backward(dctx @ v.swapaxes(-1, -2), A)
    dscores *= 1 / math.sqrt(E)                                    # scores = q kᵀ / √E
    dq = dscores @ k
    dk = dscores.swapaxes(-1, -2) @ q
    dqkv = np.stack([dq, dk, dv]).transpose(1, 3, 0, 2, 4).reshape(B, T, 3 * nh * E)
    dx, g_in = linear_backward(dqkv, c_in)
    return dx, {"in_proj_weight": g_in["weight"], "in_proj_bias": g_in["bias"], **prefixed(g_out, "out_proj")}
