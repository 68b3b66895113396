"""Sequence encoder: a user's item history -> one user vector (B, D).

    ids (B, T) right-padded item ids, lengths (B,) -> u (B, D)

    gru:          item_emb -> GRU (H = D) -> the mean of h over the valid steps
                  (pooling "mean", the default) or h at the last valid step ("last")
                  models/gru_encoder.py
    transformer:  item_emb + pos_emb -> N pre-LN blocks (key-padding mask,
                  non-causal: every item sees the whole history) -> final
                  LayerNorm -> mean over the valid positions
                  models/transformer_encoder.py

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

Each encoder file keeps its readable reference (the layers one by one) and its fast path
apart: the transformer's fast path runs all blocks on the valid tokens only
(kernels/transformer.py), a pair of its own chosen here; the GRU encoder's runs
embedding -> GRU -> pooling as one kernel pair (kernels/gru.py), chosen inside
gru_encoder.py, whose cache says which backward undoes it.
"""

from dataclasses import dataclass

import numpy as np

from tinybt import backend
from tinybt.models import gru_encoder, transformer_encoder


@dataclass(frozen=True)
class EncoderConfig:
    """No defaults here: tinybt train's defaults live in one place, TrainConfig
    (tinybt/run/config.py), and trainer.encoder_config builds this from it."""
    kind: str          # "gru" | "transformer"
    n_items: int       # V
    dim: int           # D
    n_layers: int      # transformer blocks
    n_heads: int
    max_len: int       # rows of pos_emb
    pooling: str       # GRU user vector: "mean" | "last" (the transformer always means)


def encoder_init(rng, cfg: EncoderConfig, dtype=np.float32):
    if cfg.kind == "gru":
        return gru_encoder.init(rng, cfg.n_items, cfg.dim, dtype)
    return transformer_encoder.init(rng, cfg.n_items, cfg.dim, cfg.n_layers, cfg.max_len, dtype)


def _forward(cfg):
    if cfg.kind == "gru":
        return gru_encoder.gru_encoder_forward
    if backend.fast():
        return transformer_encoder.packed_transformer_encoder_forward
    return transformer_encoder.transformer_encoder_forward


# the forward's cache says which backward undoes it
_BACKWARD = {gru_encoder.GRUEncoderCache: gru_encoder.gru_encoder_backward,
             transformer_encoder.TransformerEncoderCache: transformer_encoder.transformer_encoder_backward,
             transformer_encoder.PackedTransformerEncoderCache:
                 transformer_encoder.packed_transformer_encoder_backward}


def encoder_forward(ids, lengths, params, cfg: EncoderConfig):
    """ids int (B, T), lengths int (B,) in [1, T] -> u (B, D), cache."""
    return _forward(cfg)(ids, lengths, params, cfg)


def encoder_backward(du, cache):
    """du (B, D) -> (None, grads with the params' keys): the ids get no gradient."""
    return _BACKWARD[type(cache)](du, cache)
