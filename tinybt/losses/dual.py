"""Dual-encoder (next-item, in-batch negatives) loss: the paper's baseline.

Shapes: u (B, D) user vectors, e (B, D) embeddings of each user's next item,
item_ids int (B,) those next items, log_q (B,) optional.

    û = u / max(‖u‖, eps),  ê = e / max(‖e‖, eps)     (row-wise; F.normalize(x, dim=1, eps=eps))
    S = û êᵀ / τ − log q                              (B, B): cosine / temperature, column j shifted by −log q_j
    loss = mean_i −log softmax(S_i)_i                 row i's positive is column i

logQ correction (Yi et al., RecSys 2019): the batch's other next items are the negatives,
and they are drawn with the item's frequency q among training targets, so popular items
are negatives far more often than rare ones. The plain in-batch softmax then learns
log p(item | user) − log q(item): it ranks popular items down, the opposite of what
next-item retrieval needs. Subtracting log q_j from every column during training
(positive included) cancels that, so the learned cosine / τ estimates log p(item | user)
up to a constant. The shift is a constant of the inputs: it changes no derivative below.

Duplicate next items: if users i and j (i ≠ j) in one batch share the next item,
column j holds row i's own positive item again, so treating it as a negative
would push u_i away from its target. Such columns are masked out of row i's
softmax (logit −inf, zero gradient); row i keeps its own column as the positive.
Each row still contributes one term to the mean.

Zero vectors: eps = 1e-8 keeps û finite (û = 0 for u = 0); below eps the norm
is the constant eps, so the backward there is just dû / eps.
"""

from typing import NamedTuple

import numpy as np

from tinybt.losses.xent import cross_entropy_backward, cross_entropy_forward

NORM_EPS = 1e-8


class DualCache(NamedTuple):
    uh: np.ndarray        # (B, D) unit user vectors
    un: np.ndarray        # (B, 1) their clamped norms
    eh: np.ndarray        # (B, D) unit item vectors
    en: np.ndarray
    tau: float
    xent: tuple           # the cross-entropy's cache


def _normalize_forward(x):
    norm = np.maximum(np.linalg.norm(x, axis=1, keepdims=True), NORM_EPS)
    return x / norm, norm


def _normalize_backward(dxh, xh, norm):
    # x̂ = x/‖x‖ → dx = (dx̂ − x̂ (x̂·dx̂)) / ‖x‖ ; where the norm was clamped to eps it is a constant.
    radial = np.where(norm > NORM_EPS, np.sum(xh * dxh, axis=1, keepdims=True), 0)
    return (dxh - xh * radial) / norm


def duplicate_mask(item_ids):
    """(B, B) bool: True at (i, j), i ≠ j, when row i's next item is also column j's."""
    same = item_ids[:, None] == item_ids[None, :]
    np.fill_diagonal(same, False)
    return same


def dual_encoder_forward(u, e, item_ids, tau, log_q=None):
    """u, e (B, D), item_ids int (B,), log_q (B,) or None -> loss (scalar of u's dtype), cache."""
    u, e, item_ids = np.asarray(u), np.asarray(e), np.asarray(item_ids)
    if u.ndim != 2 or u.shape != e.shape or item_ids.shape != u.shape[:1]:
        raise ValueError(f"dual_encoder_loss: need u, e (B, D) and item_ids (B,), got {u.shape}, {e.shape}, {item_ids.shape}")
    if not tau > 0:
        raise ValueError(f"dual_encoder_loss: tau must be > 0, got {tau}")
    if log_q is not None and np.shape(log_q) != item_ids.shape:
        raise ValueError(f"dual_encoder_loss: need log_q (B,) like item_ids, got {np.shape(log_q)}")
    uh, un = _normalize_forward(u)
    eh, en = _normalize_forward(e)
    logits = uh @ eh.T / tau
    if log_q is not None:
        logits -= np.asarray(log_q, logits.dtype)[None, :]      # logQ correction of column j
    logits[duplicate_mask(item_ids)] = -np.inf
    loss, c_xent = cross_entropy_forward(logits, np.arange(len(u)))   # row i's positive is column i
    return loss, DualCache(uh, un, eh, en, tau, c_xent)


def dual_encoder_backward(dloss, cache):
    """dloss (scalar) -> (du, de) (B, D) each, {} (no parameters)."""
    uh, un, eh, en, tau, c_xent = cache
    dlogits, _ = cross_entropy_backward(dloss, c_xent)
    dlogits /= tau                                   # logits = û êᵀ / τ
    du = _normalize_backward(dlogits @ eh, uh, un)
    de = _normalize_backward(dlogits.T @ uh, eh, en)
    return (du, de), {}
