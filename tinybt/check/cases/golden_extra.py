"""Cases the golden files need beyond the gradient checks.

projector:   the BT projector on its own (Linear -> BatchNorm1d -> ReLU -> ... -> Linear),
             in training mode, with its BatchNorm buffers in the state_dict.
<model>_adam10: a 10-step Adam loss trajectory for each whole-model case: the same
             inputs (views stored explicitly) and initial parameters; output/loss[t]
             is the loss before step t; every step uses the full-batch gradient.
             Outputs only (no upstream, no grads): a port runs its own optimiser.
"""

import numpy as np

from tinybt.check.cases.models import WIDTHS, model_bt_gru, model_bt_transformer, model_dual
from tinybt.check.gradcheck import Case, case
from tinybt.models.projector import projector_backward, projector_forward, projector_init
from tinybt.optim import Adam

STEPS = 10
ADAM = {"optimizer": "adam", "lr": 0.01, "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0.0}


@case("projector")
def projector_case(rng, B=5, D=4):
    """BT projector D=4 -> 6-6-6 on u (5, 4), training-mode BatchNorm; buffers travel in params."""
    params, buffers = projector_init(rng, D, WIDTHS, np.float64)
    # non-trivial affine BatchNorm parameters, so a swapped or ignored one shows
    params = {k: v + 0.1 * rng.standard_normal(v.shape) if ".1." in k or ".4." in k else v
              for k, v in params.items()}

    def run(inputs, params, upstream):
        weights = {k: v for k, v in params.items() if k not in buffers}
        z, caches = projector_forward(inputs["x"], weights, {k: params[k].copy() for k in buffers})
        if upstream is None:
            return {"out": z}, None, None
        dx, grads = projector_backward(upstream["out"], caches)
        return {"out": z}, {"x": dx}, grads

    return Case("projector", run, {"x": rng.standard_normal((B, D))}, params | buffers,
                {"projector": "-".join(map(str, WIDTHS)), "batchnorm": "training"})


def adam_trajectory(base: Case, steps=STEPS, opt=ADAM):
    """Wrap a case whose output is a scalar "loss" into `steps` Adam steps from its parameters."""
    def run(inputs, params, upstream):
        p = {k: np.array(v, copy=True) for k, v in params.items()}
        adam = Adam(opt["lr"], tuple(opt["betas"]), opt["eps"], opt["weight_decay"])
        losses = []
        for _ in range(steps):
            out, _, grads = base.run(inputs, p, {"loss": np.float64(1.0)})
            losses.append(float(out["loss"]))
            adam.step(p, grads)
        none = upstream is None
        return {"loss": np.array(losses)}, (None if none else {}), (None if none else {})

    return Case(f"{base.name}_adam{steps}", run, base.inputs, base.params,
                {**base.config, "steps": steps, "adam": opt}, upstream={})


for _make in (model_bt_gru, model_bt_transformer, model_dual):
    def _trajectory(rng, _make=_make):
        """Adam (lr 0.01) for 10 full-batch steps from the whole-model case's inputs and parameters;
        output/loss[t] is the loss before step t."""
        return adam_trajectory(_make(rng))

    case(f"{_make.__name__}_adam{STEPS}")(_trajectory)
