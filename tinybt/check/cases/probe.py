"""Gradient-check case for the linear probe's objective (tinybt/probe/logreg.py).

Parameters carry torch.nn.Linear names; the loss is
cross_entropy(linear(x), y) + l2/2 · ||weight||² (no penalty on the bias).
x is data (frozen user vectors), so only the parameters get gradients.
"""

import numpy as np

from tinybt.check.gradcheck import Case, case
from tinybt.probe.logreg import logreg_loss


def logreg_case(rng, N=7, D=4, C=3, l2=0.3):
    def run(inputs, params, upstream):
        loss, dW, db = logreg_loss(params["weight"], params["bias"], inputs["x"], inputs["y"], l2)
        if upstream is None:
            return {"loss": np.array(loss)}, None, None
        g = float(upstream["loss"])
        return {"loss": np.array(loss)}, {}, {"weight": g * dW, "bias": g * db}

    inputs = {"x": rng.standard_normal((N, D)), "y": rng.integers(0, C, size=N)}
    params = {"weight": rng.standard_normal((C, D)), "bias": rng.standard_normal(C)}
    return Case("probe_logreg", run, inputs, params, {"l2": l2})


@case("probe_logreg")
def _logreg(rng):
    return logreg_case(rng)
