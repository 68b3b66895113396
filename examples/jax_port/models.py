"""Whole models as functions of a flat params dict keyed by tinybt's state_dict names
(item_emb.weight, gru.weight_ih_l0, pos_emb.weight, layers.0.self_attn.in_proj_weight,
final_norm.weight, projector.0.weight, ...): the encoder, Barlow Twins (encoder + projector +
BT loss), the dual encoder, and their Adam trajectories with jax.value_and_grad."""

import math

import jax
import jax.numpy as jnp
from jax import lax

from . import losses
from .layers import batchnorm_train, embedding, last_step, layernorm, linear, valid_mean
from .optim import adam_init, adam_step
from .registry import port, sub
from .sequence import block, gru


def encoder(p, ids, lengths, enc):
    """ids (B, T), lengths (B,) -> user vector (B, D).
    gru: item_emb -> GRU -> the mean over valid steps (pooling "mean") or h at the last valid
    step ("last", and cases without a pooling setting, which predate it: manifest convention gru).
    transformer: item_emb + pos_emb -> pre-LN blocks (key padding) -> final LayerNorm -> valid mean."""
    x = embedding(ids, p["item_emb.weight"])
    if enc["kind"] == "gru":
        h = gru(x, lengths, sub(p, "gru"))
        return valid_mean(h, lengths) if enc.get("pooling", "last") == "mean" else last_step(h, lengths)
    x = x + p["pos_emb.weight"][:ids.shape[1]]
    pad = jnp.arange(ids.shape[1])[None, :] >= lengths[:, None]              # True = padding key
    for i in range(enc["n_layers"]):
        x = block(x, sub(p, f"layers.{i}"), enc["n_heads"], pad)
    return valid_mean(layernorm(x, sub(p, "final_norm")), lengths)


def projector(p, x, spec):
    """spec "6-6-6": Linear(bias=False) -> BatchNorm1d (batch statistics) -> ReLU between widths,
    a last Linear(bias=False); names projector.0.weight, projector.1.weight/bias, projector.3...."""
    n = len(spec.split("-"))
    for j in range(n):
        x = linear(x, sub(p, f"projector.{3 * j}"))
        if j < n - 1:
            x = jax.nn.relu(batchnorm_train(x, sub(p, f"projector.{3 * j + 1}"))[0])
    return x


def barlow_loss(p, inputs, config):
    """Each view on its own: the projector's BatchNorm uses that view's batch statistics."""
    z1, z2 = (projector(p, encoder(p, inputs[f"ids{v}"], inputs[f"lengths{v}"], config["encoder"]),
                        config["projector"]) for v in (1, 2))
    return losses.barlow_twins_loss(z1, z2, config["lambd"])


def dual_loss(p, inputs, config):
    """The item side reads the encoder's own item table; inputs["log_q"]: the logQ correction."""
    u = encoder(p, inputs["ids"], inputs["lengths"], config["encoder"])
    return losses.dual_encoder_loss(u, embedding(inputs["targets"], p["item_emb.weight"]), inputs["targets"],
                                    config["tau"], inputs.get("log_q"))


def model_loss(p, inputs, config):
    return (barlow_loss if "lambd" in config else dual_loss)(p, inputs, config)


def trainable(params):
    """BatchNorm buffers are data, not parameters."""
    return {k: v for k, v in params.items() if not k.endswith(("running_mean", "running_var", "num_batches_tracked"))}


DEFAULTS = ("default_bt_gru", "default_bt_transformer", "default_dual_gru", "default_dual_transformer")


@port("model_bt_gru", "model_bt_transformer", "model_dual", *DEFAULTS)
def model_case(inputs, params, config):
    return {"loss": model_loss(trainable(params), inputs, config)}


@port("model_bt_gru_adam10", "model_bt_transformer_adam10", "model_dual_adam10")
def trajectory_case(inputs, params, config):
    """Adam (torch.optim.Adam semantics) on the full batch; the loss before each step.
    The steps are a lax.scan, so a jit compiles one step, not ten."""
    a = config["adam"]
    value_and_grad = jax.value_and_grad(lambda p: model_loss(p, inputs, config))

    def step(carry, _):
        params, state = carry
        loss, grads = value_and_grad(params)
        return adam_step(params, grads, state, a["lr"], a["betas"], a["eps"], a["weight_decay"]), loss

    params = trainable(params)
    _, trace = lax.scan(step, (params, adam_init(params)), length=config["steps"])
    return {"loss": trace}


def warmup_cosine(step, s):
    """The lr of step `step` (0-based) under manifest convention "training"."""
    W, T = s["warmup_steps"], s["total_steps"]
    if step < W:
        return s["peak_lr"] * (step + 1) / W
    return s["min_lr"] + (s["peak_lr"] - s["min_lr"]) * 0.5 * (1 + math.cos(math.pi * (step - W) / (T - W)))


def clip(grads, max_norm):
    """torch.nn.utils.clip_grad_norm_: scale by max_norm / (total + 1e-6) when that is below 1."""
    total = jnp.sqrt(sum(jnp.sum(g * g) for g in jax.tree.leaves(grads)))
    coef = jnp.minimum(1.0, max_norm / (total + 1e-6))
    return jax.tree.map(lambda g: g * coef, grads)


@port(*(f"{name}_train10" for name in DEFAULTS))
def training_case(inputs, params, config):
    """tinybt train's steps: optional clipping, then AdamW at the warm-up + cosine lr (one
    lax.scan over the precomputed learning rates)."""
    o = config["optimizer"]
    value_and_grad = jax.value_and_grad(lambda p: model_loss(p, inputs, config))
    lrs = jnp.array([warmup_cosine(s, config["schedule"]) for s in range(config["steps"])])

    def step(carry, lr):
        params, state = carry
        loss, grads = value_and_grad(params)
        if config["grad_clip"] > 0:
            grads = clip(grads, config["grad_clip"])
        return adam_step(params, grads, state, lr, o["betas"], o["eps"], o["weight_decay"], decoupled=True), loss

    params = trainable(params)
    _, trace = lax.scan(step, (params, adam_init(params)), lrs)
    return {"loss": trace, "lr": lrs}


@port("projector")
def projector_case(inputs, params, config):
    return {"out": projector(params, inputs["x"], config["projector"])}
