"""Pre-LN transformer encoder block = torch.nn.TransformerEncoderLayer(d_model=D, nhead,
dim_feedforward=4D, dropout=0, activation="gelu", batch_first=True, norm_first=True).

    x1  = x  + MHA(LN1(x))
    out = x1 + linear2(GELU(linear1(LN2(x1))))        GELU exact (erf), linear1 D -> 4D

Pre-LN keeps the residual stream un-normalised, so gradients reach early
blocks through the identity paths undamped. Params are named as that layer's
state_dict(): "self_attn.*", "linear1.*", "linear2.*", "norm1.*", "norm2.*".
"""

from typing import NamedTuple

import numpy as np

from tinybt.nn.activations import gelu_backward, gelu_forward
from tinybt.nn.attention import mha_backward, mha_forward, mha_init
from tinybt.nn.layernorm import layernorm_backward, layernorm_forward, layernorm_init
from tinybt.nn.linear import linear_backward, linear_forward, linear_init
from tinybt.params import prefixed, sub


class BlockCache(NamedTuple):
    ln1: tuple            # one cache per sub-layer, in forward order
    attn: tuple
    ln2: tuple
    linear1: tuple
    gelu: tuple
    linear2: tuple


def block_init(rng, d, dtype=np.float32):
    """PyTorch's init for each sub-module (see mha_init, linear_init, layernorm_init)."""
    return {**prefixed(mha_init(rng, d, dtype), "self_attn"),
            **prefixed(linear_init(rng, d, 4 * d, dtype=dtype), "linear1"),
            **prefixed(linear_init(rng, 4 * d, d, dtype=dtype), "linear2"),
            **prefixed(layernorm_init(d, dtype), "norm1"),
            **prefixed(layernorm_init(d, dtype), "norm2")}


def block_forward(x, params, n_heads, key_padding_mask=None):
    """x (B, T, D) -> out (B, T, D). key_padding_mask (B, T) bool, True = padding."""
    h, c_ln1 = layernorm_forward(x, sub(params, "norm1"))
    a, c_att = mha_forward(h, sub(params, "self_attn"), n_heads, key_padding_mask)
    x1 = x + a
    h, c_ln2 = layernorm_forward(x1, sub(params, "norm2"))
    h, c_l1 = linear_forward(h, sub(params, "linear1"))
    h, c_gelu = gelu_forward(h)
    f, c_l2 = linear_forward(h, sub(params, "linear2"))
    return x1 + f, BlockCache(c_ln1, c_att, c_ln2, c_l1, c_gelu, c_l2)


def block_backward(dout, cache):
    """dout (B, T, D) -> dx (B, T, D), grads with the params' keys."""
    grads = {}
    # FFN branch; dout also flows straight into x1 through the residual
    d, g = linear_backward(dout, cache.linear2)
    grads.update(prefixed(g, "linear2"))
    d, _ = gelu_backward(d, cache.gelu)
    d, g = linear_backward(d, cache.linear1)
    grads.update(prefixed(g, "linear1"))
    d, g = layernorm_backward(d, cache.ln2)
    grads.update(prefixed(g, "norm2"))
    dx1 = dout + d
    # attention branch, same pattern
    d, g = mha_backward(dx1, cache.attn)
    grads.update(prefixed(g, "self_attn"))
    d, g = layernorm_backward(d, cache.ln1)
    grads.update(prefixed(g, "norm1"))
    return dx1 + d, grads
