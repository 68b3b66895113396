"""The losses: Barlow Twins and dual encoder, a few lines of torch each from their definitions;
the probe's cross-entropy is F.cross_entropy."""

import torch
import torch.nn.functional as F
from torch import nn

from .registry import loaded, port


def standardize(z, eps=1e-5):
    """Per feature over the batch, biased variance, no affine: BatchNorm1d(affine=False) in training mode."""
    return F.batch_norm(z, None, None, training=True, eps=eps)


def barlow_twins_loss(z1, z2, lambd, eps=1e-5):
    """z1, z2 (N, P) -> (loss, on_diag, off_diag); L = Σ (1 − C_ii)² + λ Σ_{i≠j} C_ij², C = ẑ1ᵀẑ2 / N.
    `standardize` is looked up at call time so a test can swap in a broken one."""
    n = z1.shape[0]
    return barlow_twins_terms(standardize(z1, eps).T @ standardize(z2, eps) / n, lambd)


def barlow_twins_terms(c, lambd):
    """The cross-correlation C (P, P) -> (loss, on_diag, off_diag). On its own so that
    train_ddp.py can feed it the C summed over processes."""
    on = ((1 - c.diagonal()) ** 2).sum()
    off = (c ** 2).sum() - (c.diagonal() ** 2).sum()
    return on + lambd * off, on, off


def dual_encoder_loss(u, e, item_ids, tau, pos=None, reduction="mean", log_q=None):
    """u (n, D) user rows, e (B, D) next-item columns, item_ids (B,) -> in-batch softmax
    cross-entropy over cosine / τ − log_q (logQ correction, if given (B,)), row i's positive
    in column pos[i] (default i: n = B).
    Column j ≠ pos[i] holding row i's own next item again is not a negative: logit −inf.
    train_ddp.py passes a process's own rows against every process's columns."""
    logits = F.normalize(u, dim=1, eps=1e-8) @ F.normalize(e, dim=1, eps=1e-8).T / tau
    if log_q is not None:
        logits = logits - log_q[None, :]
    if pos is None:
        pos = torch.arange(len(u))
    dup = (item_ids[pos][:, None] == item_ids[None, :]) & (torch.arange(len(e))[None, :] != pos[:, None])
    return F.cross_entropy(logits.masked_fill(dup, float("-inf")), pos, reduction=reduction)


port("barlow_twins")(lambda inputs, params, config: (
    {"loss": barlow_twins_loss(inputs["z1"], inputs["z2"], config["lambd"], config["eps"])[0]}, None))
port("dual_encoder", "dual_encoder_logq")(lambda inputs, params, config: (
    {"loss": dual_encoder_loss(inputs["u"], inputs["e"], inputs["item_ids"], config["tau"],
                               log_q=inputs.get("log_q"))}, None))


@port("cross_entropy", "cross_entropy_weighted")
def cross_entropy(inputs, params, config):
    """Mean over rows; with class weights Σ w_{y_i} l_i / Σ w_{y_i}, as F.cross_entropy."""
    return {"loss": F.cross_entropy(inputs["logits"], inputs["y"], weight=inputs.get("class_weights"))}, None


@port("probe_logreg")
def probe_logreg(inputs, params, config):
    """The linear probe's objective: cross_entropy(Linear(x), y) + l2/2 ‖weight‖² (bias not penalised)."""
    w = params["weight"]
    m = loaded(nn.Linear(w.shape[1], w.shape[0]), params)
    loss = F.cross_entropy(m(inputs["x"]), inputs["y"]) + config["l2"] / 2 * (m.weight ** 2).sum()
    return {"loss": loss}, m
