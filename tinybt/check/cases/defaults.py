"""The model `tinybt train` trains by default, as golden cases: one per (objective, encoder).

Tiny shapes (V = 12 items, D = 8, T <= 5, B = 4, projector 6-6-6), and every other
setting is TrainConfig's default, read from it (tinybt/run/config.py), never restated:
the GRU's pooling (the mean of its states), λ, τ, the dual loss's logQ correction, and
the optimiser, schedule and lr rule of the trainer's own functions (make_optimizer,
learning_rate, optimizer_step in tinybt/train/trainer.py).

    default_<bt|dual>_<gru|transformer>          the loss and every gradient on one batch
    default_<bt|dual>_<gru|transformer>_train10  the first 10 steps of a TOTAL-step run on that
                                                 batch: output/loss[t] before step t, output/lr[t]
                                                 the learning rate step t used

The dual cases carry log_q (B,), the log frequency of each target (data, no gradient).
The BT transformer leaves out final_norm.bias's gradient, exactly 0 (models.py says why).
"""

import numpy as np

from tinybt.check.cases.models import B, D, T, V, WIDTHS, manifest_encoder, padded_ids, random_view
from tinybt.check.gradcheck import Case, case
from tinybt.models.barlow_model import barlow_backward, barlow_forward, barlow_init
from tinybt.models.dual_model import dual_backward, dual_forward, dual_init
from tinybt.models.encoder import EncoderConfig
from tinybt.run.config import TrainConfig
from tinybt.train.trainer import learning_rate, make_optimizer, optimizer_step

F64 = np.float64
STEPS = 10
TOTAL = 60           # the trajectory is the start of a 60-step run: 3 warm-up steps, then the cosine


def default_config():
    """tinybt train's defaults at the golden batch size (the lr rule resolves the peak lr)."""
    return TrainConfig(batch_size=B).validate()


def encoder_of(cfg, kind):
    return EncoderConfig(kind, V, D, cfg.layers, cfg.heads, T, cfg.pooling)


def barlow_default(rng, kind):
    cfg = default_config()
    enc = encoder_of(cfg, kind)
    params, buffers = barlow_init(rng, enc, WIDTHS, F64)
    ids1, len1 = random_view(rng, T)
    ids2, len2 = random_view(rng, T - 1)

    def run(inputs, params, upstream):
        views = ((inputs["ids1"], inputs["lengths1"]), (inputs["ids2"], inputs["lengths2"]))
        res, cache = barlow_forward(params, buffers, views, cfg.lambd, enc)
        out = {"loss": np.asarray(res.loss)}
        if upstream is None:
            return out, None, None
        _, grads = barlow_backward(float(upstream["loss"]), cache)
        grads.pop("final_norm.bias", None)          # exactly 0 by shift invariance (models.py)
        return out, {}, grads

    return Case(f"default_bt_{kind}", run, {"ids1": ids1, "lengths1": len1, "ids2": ids2, "lengths2": len2},
                params, {"encoder": manifest_encoder(enc), "projector": "-".join(map(str, WIDTHS)),
                         "lambd": cfg.lambd, "batchnorm": "training"})


def dual_default(rng, kind):
    cfg = default_config()
    enc = encoder_of(cfg, kind)
    params, _ = dual_init(rng, enc, F64)
    lengths = rng.integers(1, T + 1, size=B)
    lengths[0] = T
    ids = padded_ids(rng, lengths, T, V)
    targets = rng.integers(1, V + 1, size=B)
    targets[3] = targets[1]                         # a repeated next item in one batch
    inputs = {"ids": ids, "lengths": lengths, "targets": targets}
    if cfg.sampling_correction == "logq":           # log q of each target, as the trainer looks it up
        inputs["log_q"] = np.log(rng.dirichlet(np.ones(V + 2)))[targets]

    def run(inputs, params, upstream):
        loss, cache = dual_forward(params, inputs["ids"], inputs["lengths"], inputs["targets"], cfg.tau, enc,
                                   inputs.get("log_q"))
        out = {"loss": np.asarray(loss)}
        if upstream is None:
            return out, None, None
        return out, {}, dual_backward(float(upstream["loss"]), cache)[1]

    return Case(f"default_dual_{kind}", run, inputs, params,
                {"encoder": manifest_encoder(enc), "tau": cfg.tau, "sampling_correction": cfg.sampling_correction})


def training_trajectory(base: Case, steps=STEPS, total=TOTAL):
    """`steps` optimiser steps of the trainer from the base case's parameters, on its batch."""
    cfg = default_config()

    def run(inputs, params, upstream):
        p = {k: np.array(v, copy=True) for k, v in params.items()}
        opt = make_optimizer(cfg)
        losses, lrs = [], []
        for t in range(steps):
            out, _, grads = base.run(inputs, p, {"loss": np.float64(1.0)})
            lr = learning_rate(cfg, t, total)
            optimizer_step(cfg, opt, p, grads, lr)
            losses.append(float(out["loss"]))
            lrs.append(lr)
        none = upstream is None
        return {"loss": np.array(losses), "lr": np.array(lrs)}, (None if none else {}), (None if none else {})

    schedule = {"name": "warmup_cosine", "total_steps": total, "warmup_steps": int(cfg.warmup * total),
                "peak_lr": cfg.lr, "min_lr": cfg.min_lr}
    opt = make_optimizer(cfg)
    optimizer = {"name": "adamw", "betas": list(opt.betas), "eps": opt.eps, "weight_decay": cfg.weight_decay}
    return Case(f"{base.name}_train{steps}", run, base.inputs, base.params,
                {**base.config, "steps": steps, "optimizer": optimizer, "schedule": schedule,
                 "grad_clip": cfg.grad_clip}, upstream={})


# one loss-and-grads case and one trajectory per (objective, encoder); the docs go into the manifest
CASES = {
    "default_bt_gru": (barlow_default, "gru", "Barlow Twins, GRU encoder, at tinybt train's defaults "
                                              "(mean of the GRU states): loss and grads."),
    "default_bt_transformer": (barlow_default, "transformer",
                               "Barlow Twins, transformer encoder, at tinybt train's defaults: loss and grads."),
    "default_dual_gru": (dual_default, "gru", "Dual encoder, GRU encoder (mean pooling), logQ correction: "
                                              "tinybt train's defaults; loss and grads."),
    "default_dual_transformer": (dual_default, "transformer", "Dual encoder, transformer encoder, logQ "
                                                              "correction: tinybt train's defaults; loss and grads."),
}
TRAJECTORY_DOC = ("The trainer's first 10 steps (AdamW, warm-up + cosine at the √B peak lr) of a 60-step run on "
                  "the default case's batch: output/loss[t] before step t, output/lr[t] its learning rate.")


def _register(name, build, kind, doc):
    def make(rng):
        return build(rng, kind)

    def trajectory(rng):
        return training_trajectory(make(rng))

    make.__doc__, trajectory.__doc__ = doc, TRAJECTORY_DOC
    case(name)(make)
    case(f"{name}_train{STEPS}")(trajectory)


for _name, (_build, _kind, _doc) in CASES.items():
    _register(_name, _build, _kind, _doc)
