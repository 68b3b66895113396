"""Sequence layers: a GRU with lax.scan, masked softmax, multi-head attention, the pre-LN
transformer block. JAX has no GRU module, so the cell is written out with PyTorch's
conventions (docs/golden.md): gates stacked r|z|n, reset gate applied to the RESULT of the
hidden matmul (n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))), padded steps keep h and output 0.

Mask convention: key_padding_mask (B, T) bool with True = padding; hidden logits are −inf
before the softmax.
"""

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from .layers import gelu, layernorm, linear
from .registry import port, sub

GATES = "rzn"    # order of the three H-row blocks in weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0


def gates(a):
    """a (..., 3H) stacked in GATES order -> (r, z, n) parts, each (..., H). Read at call time,
    so a test can swap the order."""
    part = dict(zip(GATES, jnp.split(a, 3, axis=-1)))
    return part["r"], part["z"], part["n"]


def gru(x, lengths, p):
    """x (B, T, D), lengths (B,), p {weight_ih_l0 (3H, D), weight_hh_l0 (3H, H), bias_ih_l0,
    bias_hh_l0 (3H,)} -> out (B, T, H), 0 at padded steps. h0 = 0."""
    B, T, _ = x.shape
    H = p["weight_hh_l0"].shape[1]
    gi = linear(x, {"weight": p["weight_ih_l0"], "bias": p["bias_ih_l0"]})    # input side, all steps at once
    hidden = {"weight": p["weight_hh_l0"], "bias": p["bias_hh_l0"]}

    def step(h, xs):
        gi_t, valid = xs                          # (B, 3H), (B, 1)
        i_r, i_z, i_n = gates(gi_t)
        h_r, h_z, h_n = gates(linear(h, hidden))
        r = jax.nn.sigmoid(i_r + h_r)
        z = jax.nn.sigmoid(i_z + h_z)
        n = jnp.tanh(i_n + r * h_n)               # reset_after: r scales (W_hn h + b_hn)
        new = (1 - z) * n + z * h
        return jnp.where(valid, new, h), jnp.where(valid, new, 0)

    valid = (jnp.arange(T)[:, None] < lengths[None, :])[:, :, None]          # (T, B, 1)
    _, out = lax.scan(step, jnp.zeros((B, H), x.dtype), (gi.swapaxes(0, 1), valid))
    return out.swapaxes(0, 1)


@port("gru")
def gru_case(inputs, params, config):
    return {"out": gru(inputs["x"], inputs["lengths"], params)}


@port("masked_softmax")
def masked_softmax_case(inputs, params, config):
    """keep (True = keep) broadcast over the logits; a row with every key masked gives zeros:
    such rows get logits 0 (finite softmax and gradient), then × keep."""
    logits = inputs["logits"]
    keep = jnp.broadcast_to(inputs["mask"], logits.shape)
    z = jnp.where(keep, logits, -jnp.inf)
    z = jnp.where(keep.any(-1, keepdims=True), z, 0)
    return {"out": jax.nn.softmax(z, -1) * keep}


def attention(x, p, n_heads, key_padding_mask):
    """x (B, T, D) -> (B, T, D); p holds in_proj_weight (3D, D) and in_proj_bias stacked q|k|v,
    out_proj.weight, out_proj.bias (nn.MultiheadAttention's names)."""
    B, T, D = x.shape
    hd = D // n_heads
    q, k, v = jnp.split(linear(x, {"weight": p["in_proj_weight"], "bias": p["in_proj_bias"]}), 3, axis=-1)

    def heads(a):                                 # (B, T, D) -> (B, heads, T, hd)
        return a.reshape(B, T, n_heads, hd).transpose(0, 2, 1, 3)

    logits = heads(q) @ heads(k).swapaxes(-1, -2) / np.sqrt(hd)              # (B, heads, T, T)
    hidden = key_padding_mask[:, None, None, :]                              # (B, 1, 1, T)
    a = jax.nn.softmax(jnp.where(hidden, -jnp.inf, logits), -1)
    out = (a @ heads(v)).transpose(0, 2, 1, 3).reshape(B, T, D)
    return linear(out, sub(p, "out_proj"))


@port("attention_pad")
def attention_case(inputs, params, config):
    return {"out": attention(inputs["x"], params, config["n_heads"], inputs["key_padding_mask"])}


def block(x, p, n_heads, key_padding_mask, eps=1e-5):
    """Pre-LN: x + MHA(LN1(x)), then x + Linear2(GELU(Linear1(LN2(x)))); no dropout.
    Names as nn.TransformerEncoderLayer: self_attn.*, linear1/2.*, norm1/2.*."""
    x = x + attention(layernorm(x, sub(p, "norm1"), eps), sub(p, "self_attn"), n_heads, key_padding_mask)
    return x + linear(gelu(linear(layernorm(x, sub(p, "norm2"), eps), sub(p, "linear1"))), sub(p, "linear2"))


@port("transformer_block_pad")
def block_case(inputs, params, config):
    return {"out": block(inputs["x"], params, config["n_heads"], inputs["key_padding_mask"], config["layer_norm_eps"])}
