"""The losses from their definitions: Barlow Twins, dual encoder, cross-entropy, the probe."""

import jax
import jax.numpy as jnp

from .layers import linear
from .registry import port


def standardize(z, eps=1e-5):
    """Per feature over the batch, BIASED variance (jnp.var's default ddof=0), no affine."""
    return (z - z.mean(0)) / jnp.sqrt(z.var(0) + eps)


def barlow_twins_loss(z1, z2, lambd, eps=1e-5):
    """z1, z2 (N, P) -> L = Σ (1 − C_ii)² + λ Σ_{i≠j} C_ij², C = ẑ1ᵀẑ2 / N.
    `standardize` is looked up at call time so a test can swap in a broken one."""
    c = standardize(z1, eps).T @ standardize(z2, eps) / z1.shape[0]
    d = jnp.diagonal(c)
    return ((1 - d) ** 2).sum() + lambd * ((c ** 2).sum() - (d ** 2).sum())


def unit_rows(x, eps=1e-8):
    """x / max(‖x‖, eps) per row (F.normalize)."""
    return x / jnp.maximum(jnp.sqrt((x * x).sum(1, keepdims=True)), eps)


def dual_encoder_loss(u, e, item_ids, tau, log_q=None):
    """u, e (B, D), item_ids (B,) -> mean in-batch softmax cross-entropy over cosine / τ
    − log_q (the logQ correction, if given (B,)).
    Column j ≠ i holding row i's own next item again is not a negative: logit −inf."""
    logits = unit_rows(u) @ unit_rows(e).T / tau
    if log_q is not None:
        logits = logits - log_q[None, :]
    dup = (item_ids[:, None] == item_ids[None, :]) & ~jnp.eye(len(item_ids), dtype=bool)
    logp = jax.nn.log_softmax(jnp.where(dup, -jnp.inf, logits), axis=1)
    return -jnp.diagonal(logp).mean()


def cross_entropy(logits, y, class_weights=None):
    """Mean over rows of −log softmax(logits)[y]; with class weights Σ w_{y_i} l_i / Σ w_{y_i}."""
    nll = -jnp.take_along_axis(jax.nn.log_softmax(logits, -1), y[:, None], 1)[:, 0]
    w = jnp.ones_like(nll) if class_weights is None else class_weights[y]
    return (w * nll).sum() / w.sum()


port("barlow_twins")(lambda inputs, params, config: {
    "loss": barlow_twins_loss(inputs["z1"], inputs["z2"], config["lambd"], config["eps"])})
port("dual_encoder", "dual_encoder_logq")(lambda inputs, params, config: {
    "loss": dual_encoder_loss(inputs["u"], inputs["e"], inputs["item_ids"], config["tau"], inputs.get("log_q"))})
port("cross_entropy", "cross_entropy_weighted")(lambda inputs, params, config: {
    "loss": cross_entropy(inputs["logits"], inputs["y"], inputs.get("class_weights"))})


@port("probe_logreg")
def probe_logreg_case(inputs, params, config):
    """cross_entropy(Linear(x), y) + l2/2 ‖weight‖² (bias not penalised)."""
    loss = cross_entropy(linear(inputs["x"], params), inputs["y"]) + config["l2"] / 2 * (params["weight"] ** 2).sum()
    return {"loss": loss}
