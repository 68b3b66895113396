"""Sequence encoder: a user's item history -> one user vector (B, D).

    ids (B, T) right-padded item ids, lengths (B,) -> u (B, D)

    gru:          item_emb -> GRU (H = D) -> h at the last valid step (pooling "last")
                  or the mean of h over the valid steps (pooling "mean")
    transformer:  item_emb + pos_emb -> N pre-LN blocks (key-padding mask,
                  non-causal: every item sees the whole history) -> final
                  LayerNorm -> mean over the valid positions

Parameter names are those of the PyTorch module a port would write:
    item_emb.weight             (V+2, D)  row 0 padding (no gradient), row V+1 [MASK]
    gru.weight_ih_l0 ...        nn.GRU(D, D, batch_first=True)
    pos_emb.weight              (max_len, D)
    layers.{i}.self_attn.in_proj_weight, layers.{i}.linear1.weight, ...
                                nn.TransformerEncoderLayer(D, heads, 4D, dropout=0,
                                activation="gelu", norm_first=True, batch_first=True)
    final_norm.weight / bias    nn.LayerNorm(D)
The encoder has no batch statistics and no dropout, so training and evaluation
mode compute the same function.
"""

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from tinybt import backend
from tinybt.kernels import transformer as kernel
from tinybt.nn.embedding import embedding_backward, embedding_forward, embedding_init
from tinybt.nn.gru import gru_backward, gru_forward, gru_init
from tinybt.nn.layernorm import layernorm_backward, layernorm_forward, layernorm_init
from tinybt.params import prefixed, sub
from tinybt.nn.pooling import last_pool_backward, last_pool_forward, mean_pool_backward, mean_pool_forward
from tinybt.nn.positional import positional_backward, positional_forward, positional_init
from tinybt.nn.transformer_block import block_backward, block_forward, block_init


@dataclass(frozen=True)
class EncoderConfig:
    kind: str          # "gru" | "transformer"
    n_items: int       # V
    dim: int           # D
    n_layers: int = 2  # transformer blocks
    n_heads: int = 2
    max_len: int = 50  # rows of pos_emb
    pooling: str = "last"  # GRU user vector: "last" | "mean" (the transformer always means)


class GRUEncoderCache(NamedTuple):
    cfg: EncoderConfig
    emb: tuple
    gru: tuple
    pool: tuple


class PackedTransformerEncoderCache(NamedTuple):
    cfg: EncoderConfig
    emb: tuple
    pos: tuple
    packed: tuple        # the fast path's cache (kernels/transformer.py)


class TransformerEncoderCache(NamedTuple):
    cfg: EncoderConfig
    emb: tuple
    pos: tuple
    blocks: list         # one per block
    norm: tuple
    pool: np.ndarray


def encoder_init(rng, cfg: EncoderConfig, dtype=np.float32):
    D = cfg.dim
    params = prefixed(embedding_init(rng, cfg.n_items + 2, D, dtype=dtype), "item_emb")
    if cfg.kind == "gru":
        return params | prefixed(gru_init(rng, D, D, dtype), "gru")
    params |= prefixed(positional_init(rng, cfg.max_len, D, dtype), "pos_emb")
    for i in range(cfg.n_layers):
        params |= prefixed(block_init(rng, D, dtype), f"layers.{i}")
    return params | prefixed(layernorm_init(D, dtype), "final_norm")


def encoder_forward(ids, lengths, params, cfg: EncoderConfig):
    """ids int (B, T), lengths int (B,) in [1, T] -> u (B, D), cache."""
    x, c_emb = embedding_forward(ids, sub(params, "item_emb"))
    if cfg.kind == "gru":
        h, c_gru = gru_forward(x, lengths, sub(params, "gru"))
        u, c_pool = (mean_pool_forward if cfg.pooling == "mean" else last_pool_forward)(h, lengths)
        return u, GRUEncoderCache(cfg, c_emb, c_gru, c_pool)
    x, c_pos = positional_forward(x, sub(params, "pos_emb"))
    if backend.fast():      # the same blocks, on the valid positions only
        u, c_fast = kernel.transformer_forward(x, lengths, params, cfg.n_layers, cfg.n_heads)
        return u, PackedTransformerEncoderCache(cfg, c_emb, c_pos, c_fast)
    pad = np.arange(ids.shape[1])[None, :] >= np.asarray(lengths)[:, None]   # True = padding key
    c_blocks = []
    for i in range(cfg.n_layers):
        x, c = block_forward(x, sub(params, f"layers.{i}"), cfg.n_heads, key_padding_mask=pad)
        c_blocks.append(c)
    x, c_norm = layernorm_forward(x, sub(params, "final_norm"))
    u, c_pool = mean_pool_forward(x, lengths)
    return u, TransformerEncoderCache(cfg, c_emb, c_pos, c_blocks, c_norm, c_pool)


def encoder_backward(du, cache):
    """du (B, D) -> (None, grads with the params' keys): the ids get no gradient."""
    if cache.cfg.kind == "gru":
        dh, _ = (mean_pool_backward if cache.cfg.pooling == "mean" else last_pool_backward)(du, cache.pool)
        dx, g_gru = gru_backward(dh, cache.gru)
        grads = prefixed(g_gru, "gru")
    elif backend.fast():
        dx, grads = kernel.transformer_backward(du, cache.packed)
        dx, g = positional_backward(dx, cache.pos)
        grads |= prefixed(g, "pos_emb")
    else:
        dx, _ = mean_pool_backward(du, cache.pool)
        dx, g = layernorm_backward(dx, cache.norm)
        grads = prefixed(g, "final_norm")
        for i in reversed(range(cache.cfg.n_layers)):
            dx, g = block_backward(dx, cache.blocks[i])
            grads |= prefixed(g, f"layers.{i}")
        dx, g = positional_backward(dx, cache.pos)
        grads |= prefixed(g, "pos_emb")
    _, g = embedding_backward(dx, cache.emb)
    return None, grads | prefixed(g, "item_emb")
