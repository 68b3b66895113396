"""Gradient-check cases for the three losses (tinybt/losses/).

Each outputs the scalar loss; its grad is upstream · ∂loss/∂input. Barlow Twins
uses N < P, so on the fast path the kernel's Gram-matrix branch is the one checked
(tests/test_kernels_barlow.py covers the N ≥ P branch against the reference).
"""

import numpy as np

from tinybt.check.gradcheck import Case, case
from tinybt.losses.barlow import barlow_twins_backward, barlow_twins_forward
from tinybt.losses.dual import dual_encoder_backward, dual_encoder_forward
from tinybt.losses.xent import cross_entropy_backward, cross_entropy_forward

N, P, B, D, C = 6, 8, 5, 4, 3
LAMBD, TAU = 0.2, 0.5


@case("barlow_twins")
def _barlow(rng):
    """Barlow Twins loss of two correlated views z1, z2 (N, P) = (6, 8)."""
    z1 = rng.standard_normal((N, P))
    z2 = z1 + 0.5 * rng.standard_normal((N, P))

    def run(inputs, params, upstream):
        res, cache = barlow_twins_forward(inputs["z1"], inputs["z2"], LAMBD)
        out = {"loss": np.asarray(res.loss)}
        if upstream is None:
            return out, None, None
        (dz1, dz2), _ = barlow_twins_backward(float(upstream["loss"]), cache)
        return out, {"z1": dz1, "z2": dz2}, {}

    return Case("barlow_twins", run, {"z1": z1, "z2": z2}, config={"lambd": LAMBD, "eps": 1e-5})


def _dual_case(rng, name, logq):
    def run(inputs, params, upstream):
        loss, cache = dual_encoder_forward(inputs["u"], inputs["e"], inputs["item_ids"], TAU, inputs.get("log_q"))
        out = {"loss": np.asarray(loss)}
        if upstream is None:
            return out, None, None
        (du, de), _ = dual_encoder_backward(float(upstream["loss"]), cache)
        return out, {"u": du, "e": de}, {}

    inputs = {"u": rng.standard_normal((B, D)), "e": rng.standard_normal((B, D)),
              "item_ids": np.array([7, 2, 9, 7, 4])}
    config = {"tau": TAU, "norm_eps": 1e-8, "duplicates": "masked"}
    if logq:   # data, not a differentiable input: no grad entry; rows 0 and 3 share item 7's log q
        inputs["log_q"] = np.log(np.array([0.3, 0.1, 0.05, 0.3, 0.2]))
        config["logq_correction"] = True
    return Case(name, run, inputs, config=config)


@case("dual_encoder")
def _dual(rng):
    """Dual-encoder loss of u, e (B, D) = (5, 4); rows 0 and 3 share next item 7 (a masked false negative)."""
    return _dual_case(rng, "dual_encoder", logq=False)


@case("dual_encoder_logq")
def _dual_logq(rng):
    """The same with the logQ correction: column j's logit shifted by −log_q[j]."""
    return _dual_case(rng, "dual_encoder_logq", logq=True)


def _xent_case(rng, name, weighted):
    def run(inputs, params, upstream):
        loss, cache = cross_entropy_forward(inputs["logits"], inputs["y"], inputs.get("class_weights"))
        out = {"loss": np.asarray(loss)}
        if upstream is None:
            return out, None, None
        dlogits, _ = cross_entropy_backward(float(upstream["loss"]), cache)
        return out, {"logits": dlogits}, {}

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
