"""Dual-encoder (next-item, in-batch negatives) loss: the paper's baseline.

Shapes: u (B, D) user vectors, e (B, D) embeddings of each user's next item,
item_ids int (B,) those next items.

    û = u / max(‖u‖, eps),  ê = e / max(‖e‖, eps)     (row-wise; F.normalize(x, dim=1, eps=eps))
    S = û êᵀ / τ                                      (B, B): cosine similarity / temperature
    loss = mean_i −log softmax(S_i)_i                 row i's positive is column i

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


def dual_encoder_forward(u, e, item_ids, tau):
    """u, e (B, D), item_ids int (B,) -> loss (scalar of u's dtype), cache."""
    u, e, item_ids = np.asarray(u), np.asarray(e), np.asarray(item_ids)
    if u.ndim != 2 or u.shape != e.shape or item_ids.shape != u.shape[:1]:
        raise ValueError(f"dual_encoder_loss: need u, e (B, D) and item_ids (B,), got {u.shape}, {e.shape}, {item_ids.shape}")
    if not tau > 0:
        raise ValueError(f"dual_encoder_loss: tau must be > 0, got {tau}")
    uh, un = _normalize_forward(u)
    eh, en = _normalize_forward(e)
    logits = uh @ eh.T / tau
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
