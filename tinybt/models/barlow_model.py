"""Barlow Twins model: two augmented views -> encoder -> projector -> BT loss.

    views: (ids1 (B, T1), lengths1 (B,)), (ids2 (B, T2), lengths2 (B,))
    u = encoder(view)  (B, D)      z = projector(u)  (B, P)
    loss = barlow_twins_loss(z1, z2, λ)

Both views go through the encoder in ONE call (stacked to (2B, T)): the encoder
has no batch statistics, so this is the same function as two calls, and twice
the rows per matrix product. The projector runs on each view SEPARATELY, so its
BatchNorm standardises each view with that view's own batch statistics, as in
the original Barlow Twins code (projector(backbone(y1)), projector(backbone(y2))).
The projector weights are shared by the two views, so their gradients add up.
"""

import numpy as np

from tinybt.losses.barlow import barlow_twins_loss
from tinybt.models.encoder import EncoderConfig, encoder_backward, encoder_forward, encoder_init
from tinybt.models.grads import add_grads
from tinybt.models.projector import projector_backward, projector_forward, projector_init


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
    """-> (BT loss result: loss, on/off-diagonal parts, dz1, dz2; cache). Updates BN buffers."""
    (ids1, len1), (ids2, len2) = views
    B = len(len1)
    u, c_enc = encoder_forward(stack_views(ids1, ids2), np.concatenate([len1, len2]), params, enc)
    z1, c1 = projector_forward(u[:B], params, buffers)
    z2, c2 = projector_forward(u[B:], params, buffers)
    res = barlow_twins_loss(z1, z2, lambd)
    return res, (res, c_enc, c1, c2)


def barlow_backward(dloss, cache):
    """dloss (scalar) -> grads with the params' keys."""
    res, c_enc, c1, c2 = cache
    du1, g1 = projector_backward(res.dz1 * dloss, c1)
    du2, g2 = projector_backward(res.dz2 * dloss, c2)
    grads = encoder_backward(np.concatenate([du1, du2]), c_enc)
    return grads | add_grads(g1, g2)
