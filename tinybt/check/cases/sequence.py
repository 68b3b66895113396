"""Gradient-check cases for the sequence layers: GRU, masked softmax, attention, transformer block.

Each `<layer>_case(rng, ...)` builds a small float64 Case; the registered `@case`
functions use the defaults (ragged lengths with a length-1 sequence, a row padded
down to one key), and the tests reuse the same builders on edge shapes.
Integer/bool inputs (lengths, masks) travel in `inputs` and get no gradient.
"""

import numpy as np

from tinybt.check.gradcheck import Case, case, layer_run
from tinybt.nn.attention import mha_backward, mha_forward, mha_init
from tinybt.nn.gru import gru_backward, gru_forward, gru_init
from tinybt.nn.softmax import masked_softmax_backward, masked_softmax_forward
from tinybt.nn.transformer_block import block_backward, block_forward, block_init

F64 = np.float64


def jitter(rng, params, scale=0.1):
    """PyTorch's init zeroes some biases and sets LayerNorm to identity; perturb every
    entry so that a swapped or ignored parameter cannot pass unnoticed."""
    return {k: v + scale * rng.standard_normal(v.shape) for k, v in params.items()}


def default_padding(B, T):
    """(B, T) bool, True = padding: row 0 full, row 1 missing its last 2, the last row only 1 valid."""
    kpm = np.zeros((B, T), bool)
    if B > 1:
        kpm[-1, 1:] = True
    if B > 2:
        kpm[1, max(T - 2, 1):] = True
    return kpm


def gru_case(rng, B=3, T=4, D=5, H=6, lengths=None):
    lengths = np.array([T, 1, 2][:B] if lengths is None else lengths, dtype=np.int64)
    run = layer_run(lambda inputs, params: gru_forward(inputs["x"], inputs["lengths"], params), gru_backward)
    return Case("gru", run, {"x": rng.standard_normal((B, T, D)), "lengths": lengths},
                gru_init(rng, D, H, F64), {"hidden_size": H, "batch_first": True})


def masked_softmax_case(rng, shape=(3, 2, 5), mask=None):
    """Default mask (3, 1, 5), True = keep: one random row, one with every key masked, one with a single key."""
    if mask is None:
        mask = rng.random((shape[0], 1, shape[-1])) < 0.6
        mask[0, 0, 0] = True
        mask[1] = False
        mask[2] = False
        mask[2, 0, -1] = True
    run = layer_run(lambda inputs, _: masked_softmax_forward(inputs["logits"], inputs["mask"]),
                    masked_softmax_backward, x="logits")
    return Case("masked_softmax", run, {"logits": 2 * rng.standard_normal(shape), "mask": np.asarray(mask)},
                config={"mask_true_means": "keep"})


def _masked_case(name, forward, backward, init, rng, B, T, D, n_heads, key_padding_mask, **extra):
    kpm = default_padding(B, T) if key_padding_mask is None else np.asarray(key_padding_mask)
    x = rng.standard_normal((B, T, D))          # drawn before the params: fixes the goldens' values
    run = layer_run(lambda inputs, params: forward(inputs["x"], params, n_heads, inputs["key_padding_mask"]),
                    backward)
    # "causal": False tells a port not to add an attention mask of its own
    return Case(name, run, {"x": x, "key_padding_mask": kpm}, jitter(rng, init(rng, D, F64)),
                {"n_heads": n_heads, "causal": False, **extra, "key_padding_mask_true_means": "padding"})


def attention_case(rng, B=3, T=4, D=8, n_heads=2, key_padding_mask=None):
    return _masked_case("attention_pad", mha_forward, mha_backward, mha_init, rng, B, T, D, n_heads,
                        key_padding_mask)


def block_case(rng, B=3, T=4, D=8, n_heads=2, key_padding_mask=None):
    return _masked_case("transformer_block_pad", block_forward, block_backward, block_init, rng, B, T, D,
                        n_heads, key_padding_mask, dim_feedforward=4 * D, activation="gelu",
                        norm_first=True, layer_norm_eps=1e-5)


case("gru")(gru_case)
case("masked_softmax")(masked_softmax_case)
case("attention_pad")(attention_case)
case("transformer_block_pad")(block_case)
