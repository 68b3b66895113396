"""Gradient-check cases for the three losses (tinybt/losses/).

Each outputs the scalar loss; its grad is upstream · ∂loss/∂input.
Barlow Twins uses N < P so the fast kernel's Gram-matrix path is the one checked
(tests/test_barlow.py covers the N ≥ P path against the reference).
"""

import numpy as np

from tinybt.gradcheck import Case, case
from tinybt.losses.barlow import barlow_twins_loss
from tinybt.losses.dual import dual_encoder_loss
from tinybt.losses.xent import softmax_cross_entropy

N, P, B, D, C = 6, 8, 5, 4, 3
LAMBD, TAU = 0.2, 0.5


@case("barlow_twins")
def _barlow(rng):
    """Barlow Twins loss of two correlated views z1, z2 (N, P) = (6, 8)."""
    z1 = rng.standard_normal((N, P))
    z2 = z1 + 0.5 * rng.standard_normal((N, P))

    def run(inputs, params, upstream):
        res = barlow_twins_loss(inputs["z1"], inputs["z2"], LAMBD)
        out = {"loss": np.asarray(res.loss)}
        if upstream is None:
            return out, None, None
        g = float(upstream["loss"])
        return out, {"z1": g * res.dz1, "z2": g * res.dz2}, {}

    return Case("barlow_twins", run, {"z1": z1, "z2": z2}, config={"lambd": LAMBD, "eps": 1e-5})


@case("dual_encoder")
def _dual(rng):
    """Dual-encoder loss of u, e (B, D) = (5, 4); rows 0 and 3 share next item 7 (a masked false negative)."""
    def run(inputs, params, upstream):
        loss, du, de = dual_encoder_loss(inputs["u"], inputs["e"], inputs["item_ids"], TAU)
        out = {"loss": np.asarray(loss)}
        if upstream is None:
            return out, None, None
        g = float(upstream["loss"])
        return out, {"u": g * du, "e": g * de}, {}

    inputs = {"u": rng.standard_normal((B, D)), "e": rng.standard_normal((B, D)),
              "item_ids": np.array([7, 2, 9, 7, 4])}
    return Case("dual_encoder", run, inputs, config={"tau": TAU, "norm_eps": 1e-8, "duplicates": "masked"})


def _xent_case(rng, name, weighted):
    def run(inputs, params, upstream):
        loss, dlogits = softmax_cross_entropy(inputs["logits"], inputs["y"], inputs.get("class_weights"))
        out = {"loss": np.asarray(loss)}
        if upstream is None:
            return out, None, None
        return out, {"logits": float(upstream["loss"]) * dlogits}, {}

    inputs = {"logits": rng.standard_normal((B, C)), "y": np.array([0, 2, 1, 2, 2])}
    if weighted:   # data, not a differentiable input: no grad entry (gradcheck skips it)
        inputs["class_weights"] = rng.uniform(0.5, 2.0, C)
    return Case(name, run, inputs, config={"class_weights": weighted})


@case("cross_entropy")
def _xent(rng):
    """Softmax cross-entropy, mean over rows: logits (5, 3), labels y."""
    return _xent_case(rng, "cross_entropy", weighted=False)


@case("cross_entropy_weighted")
def _xent_weighted(rng):
    """Softmax cross-entropy with class weights w (3,): Σ w_{y_i} l_i / Σ w_{y_i}."""
    return _xent_case(rng, "cross_entropy_weighted", weighted=True)
