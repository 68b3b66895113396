"""Barlow Twins model: two augmented views -> encoder -> projector -> BT loss.

    views: (ids1 (B, T1), lengths1 (B,)), (ids2 (B, T2), lengths2 (B,))
    u = encoder(view)  (B, D)      z = projector(u)  (B, P)
    loss = barlow_twins_forward(z1, z2, λ)       its gradient: barlow_twins_backward

Both views go through the encoder in ONE call (stacked to (2B, T)): the encoder
has no batch statistics, so this is the same function as two calls, and twice
the rows per matrix product. The projector runs on each view SEPARATELY, so its
BatchNorm standardises each view with that view's own batch statistics, as in
the original Barlow Twins code (projector(backbone(y1)), projector(backbone(y2))).
The projector weights are shared by the two views, so their gradients add up.
"""

from typing import NamedTuple

import numpy as np

from tinybt.losses.barlow import barlow_twins_backward, barlow_twins_forward
from tinybt.models.encoder import EncoderConfig, encoder_backward, encoder_forward, encoder_init
from tinybt.models.projector import projector_backward, projector_forward, projector_init
from tinybt.params import add_grads


class BarlowCache(NamedTuple):
    encoder: tuple       # both views, stacked
    projector1: list     # one projector cache per view
    projector2: list
    loss: tuple


def barlow_init(rng, enc: EncoderConfig, widths, dtype=np.float32):
    """-> (params, buffers): encoder + projector, one flat state_dict-named dict each."""
    params = encoder_init(rng, enc, dtype)
    p, buffers = projector_init(rng, enc.dim, widths, dtype)
    return params | p, buffers


def stack_views(ids1, ids2):
    """(B, T1), (B, T2) -> (2B, max(T1, T2)), right-padded with 0."""
    T = max(ids1.shape[1], ids2.shape[1])
    out = np.zeros((ids1.shape[0] + ids2.shape[0], T), ids1.dtype)
    out[:len(ids1), :ids1.shape[1]] = ids1
    out[len(ids1):, :ids2.shape[1]] = ids2
    return out


def barlow_forward(params, buffers, views, lambd, enc: EncoderConfig):
    """-> (BTLoss: loss and its on/off-diagonal parts, cache). Updates the BatchNorm buffers."""
    (ids1, len1), (ids2, len2) = views
    B = len(len1)
    u, c_enc = encoder_forward(stack_views(ids1, ids2), np.concatenate([len1, len2]), params, enc)
    z1, c1 = projector_forward(u[:B], params, buffers)
    z2, c2 = projector_forward(u[B:], params, buffers)
    loss, c_loss = barlow_twins_forward(z1, z2, lambd)
    return loss, BarlowCache(c_enc, c1, c2, c_loss)


def barlow_backward(dloss, cache):
    """dloss (scalar) -> (None, grads with the params' keys): the ids get no gradient."""
    (dz1, dz2), _ = barlow_twins_backward(dloss, cache.loss)
    du1, g1 = projector_backward(dz1, cache.projector1)
    du2, g2 = projector_backward(dz2, cache.projector2)
    _, grads = encoder_backward(np.concatenate([du1, du2]), cache.encoder)
    return None, grads | add_grads(g1, g2)
