"""The transformer encoder: item_emb + pos_emb -> pre-LN blocks -> final LayerNorm -> valid mean.

    ids (B, T), lengths (B,) -> x = item_emb[ids] + pos_emb[:T] (B, T, D)
    x = block_i(x, key padding mask) for i < n_layers    (nn/transformer_block.py)
    u = mean over t < length of LayerNorm(x)  (B, D)

Two pairs compute this one function: `transformer_encoder_*` is the reference (padded
(B, T, D) tensors, padding masked out of attention); `packed_transformer_encoder_*`
runs the blocks on the valid tokens only (kernels/transformer.py), the fast path.
"""

from typing import NamedTuple

import numpy as np

from tinybt.kernels import transformer as kernel
from tinybt.nn.embedding import embedding_backward, embedding_forward, embedding_init
from tinybt.nn.layernorm import layernorm_backward, layernorm_forward, layernorm_init
from tinybt.nn.pooling import mean_pool_backward, mean_pool_forward
from tinybt.nn.positional import positional_backward, positional_forward, positional_init
from tinybt.nn.transformer_block import block_backward, block_forward, block_init
from tinybt.params import prefixed, sub


class TransformerEncoderCache(NamedTuple):
    n_layers: int
    emb: tuple
    pos: tuple
    blocks: list         # one per block
    norm: tuple
    pool: tuple


class PackedTransformerEncoderCache(NamedTuple):
    emb: tuple
    pos: tuple
    packed: tuple        # kernels/transformer.py's cache


def init(rng, n_items, dim, n_layers, max_len, dtype=np.float32):
    params = prefixed(embedding_init(rng, n_items + 2, dim, dtype=dtype), "item_emb")
    params |= prefixed(positional_init(rng, max_len, dim, dtype), "pos_emb")
    for i in range(n_layers):
        params |= prefixed(block_init(rng, dim, dtype), f"layers.{i}")
    return params | prefixed(layernorm_init(dim, dtype), "final_norm")


def _embed(ids, params):
    x, c_emb = embedding_forward(ids, sub(params, "item_emb"))
    x, c_pos = positional_forward(x, sub(params, "pos_emb"))
    return x, c_emb, c_pos


def _embed_backward(dx, c_emb, c_pos):
    dx, g_pos = positional_backward(dx, c_pos)
    _, g_emb = embedding_backward(dx, c_emb)
    return prefixed(g_pos, "pos_emb") | prefixed(g_emb, "item_emb")


def transformer_encoder_forward(ids, lengths, params, cfg):
    """ids int (B, T), lengths int (B,) -> u (B, D), cache."""
    x, c_emb, c_pos = _embed(ids, params)
    pad = np.arange(ids.shape[1])[None, :] >= np.asarray(lengths)[:, None]   # True = padding key
    c_blocks = []
    for i in range(cfg.n_layers):
        x, c = block_forward(x, sub(params, f"layers.{i}"), cfg.n_heads, key_padding_mask=pad)
        c_blocks.append(c)
    x, c_norm = layernorm_forward(x, sub(params, "final_norm"))
    u, c_pool = mean_pool_forward(x, lengths)
    return u, TransformerEncoderCache(cfg.n_layers, c_emb, c_pos, c_blocks, c_norm, c_pool)


def transformer_encoder_backward(du, cache):
    """du (B, D) -> (None, grads): the forward in reverse."""
    dx, _ = mean_pool_backward(du, cache.pool)
    dx, g = layernorm_backward(dx, cache.norm)
    grads = prefixed(g, "final_norm")
    for i in reversed(range(cache.n_layers)):
        dx, g = block_backward(dx, cache.blocks[i])
        grads |= prefixed(g, f"layers.{i}")
    return None, grads | _embed_backward(dx, cache.emb, cache.pos)


def packed_transformer_encoder_forward(ids, lengths, params, cfg):
    """The same function, the blocks on the valid tokens only -> u (B, D), cache."""
    x, c_emb, c_pos = _embed(ids, params)
    u, c_packed = kernel.transformer_forward(x, lengths, params, cfg.n_layers, cfg.n_heads)
    return u, PackedTransformerEncoderCache(c_emb, c_pos, c_packed)


def packed_transformer_encoder_backward(du, cache):
    dx, grads = kernel.transformer_backward(du, cache.packed)
    return None, grads | _embed_backward(dx, cache.emb, cache.pos)
