"""Dual-encoder baseline: history prefix -> user vector, scored against next items.

    ids (B, T), lengths (B,): each user's history prefix;  targets (B,): the next item
    u = encoder(ids, lengths)          (B, D)
    e = item_emb.weight[targets]       (B, D)
    loss = dual_encoder_forward(u, e, targets, τ, log_q)   cosine / τ − log q, softmax over the batch's items

The item side has no tower of its own: it reads the encoder's item embedding
table (shared weights, as in most next-item retrieval models), so item_emb.weight
gets gradient from both the history and the target lookups.
"""

from typing import NamedTuple

import numpy as np

from tinybt.losses.dual import dual_encoder_backward, dual_encoder_forward
from tinybt.models.encoder import EncoderConfig, encoder_backward, encoder_forward, encoder_init
from tinybt.nn.embedding import embedding_backward, embedding_forward
from tinybt.params import add_grads, prefixed, sub


class DualModelCache(NamedTuple):
    encoder: tuple
    item: tuple          # the target lookup in item_emb
    loss: tuple


def dual_init(rng, enc: EncoderConfig, dtype=np.float32):
    """-> (params, buffers={}): the encoder is the whole model."""
    return encoder_init(rng, enc, dtype), {}


def dual_forward(params, ids, lengths, targets, tau, enc: EncoderConfig, log_q=None):
    """log_q (B,) or None: log frequency of each target (the loss's logQ correction) -> (loss scalar, cache)."""
    u, c_enc = encoder_forward(ids, lengths, params, enc)
    e, c_item = embedding_forward(targets, sub(params, "item_emb"))
    loss, c_loss = dual_encoder_forward(u, e, targets, tau, log_q)
    return loss, DualModelCache(c_enc, c_item, c_loss)


def dual_backward(dloss, cache):
    """dloss (scalar) -> (None, grads with the params' keys): the ids get no gradient."""
    (du, de), _ = dual_encoder_backward(dloss, cache.loss)
    _, grads = encoder_backward(du, cache.encoder)
    _, g = embedding_backward(de, cache.item)
    return None, add_grads(grads, prefixed(g, "item_emb"))
