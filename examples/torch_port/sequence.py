"""Sequence layers: nn.GRU over a packed batch, nn.MultiheadAttention, nn.TransformerEncoderLayer.

Mask convention: tinybt's key_padding_mask is (B, T) bool with True = padding,
exactly PyTorch's.
"""

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from .registry import loaded, port


class GRU(nn.GRU):
    """nn.GRU (batch_first) on the valid prefixes only: x (B, T, D), lengths (B,) -> out (B, T, H),
    0 at padded steps. Same state_dict as nn.GRU. Models build it as `sequence.GRU(...)` at call
    time, so a test can swap in a broken GRU everywhere by replacing this name."""

    def forward(self, x, lengths):
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, _ = super().forward(packed)
        return pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])[0]


@port("gru")
def gru(inputs, params, config):
    m = loaded(GRU(inputs["x"].shape[-1], config["hidden_size"], batch_first=True), params)
    return {"out": m(inputs["x"], inputs["lengths"])}, m


@port("masked_softmax")
def masked_softmax(inputs, params, config):
    """keep (True = keep) broadcast over the logits; an all-masked row gives zeros, not
    PyTorch's NaN: such rows get logits 0 (finite softmax, finite backward), then × keep."""
    logits, keep = inputs["logits"], inputs["mask"].expand(inputs["logits"].shape)
    z = logits.masked_fill(~keep, float("-inf"))
    z = torch.where(keep.any(-1, keepdim=True), z, torch.zeros_like(z))
    return {"out": torch.softmax(z, -1) * keep}, None


@port("attention_pad")
def attention(inputs, params, config):
    x = inputs["x"]
    m = loaded(nn.MultiheadAttention(x.shape[-1], config["n_heads"], batch_first=True), params)
    out, _ = m(x, x, x, key_padding_mask=inputs["key_padding_mask"], need_weights=False)
    return {"out": out}, m


def encoder_layer(d, n_heads, eps=1e-5):
    return nn.TransformerEncoderLayer(d, n_heads, dim_feedforward=4 * d, dropout=0.0, activation="gelu",
                                      layer_norm_eps=eps, batch_first=True, norm_first=True)


@port("transformer_block_pad")
def transformer_block(inputs, params, config):
    x = inputs["x"]
    m = loaded(encoder_layer(x.shape[-1], config["n_heads"], config["layer_norm_eps"]), params)
    return {"out": m(x, src_key_padding_mask=inputs["key_padding_mask"])}, m
