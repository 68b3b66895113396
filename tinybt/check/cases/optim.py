"""One Adam and one AdamW step as cases, for the golden files (no gradients to check).

Inputs: a parameter, its gradient and the optimiser state after `step` earlier
steps (exp_avg, exp_avg_sq); outputs: the parameter and state after one more
step. The run copies its inputs, so repeated runs give the same result.
"""

import numpy as np

from tinybt.check.gradcheck import Case, case
from tinybt.optim import Adam

CONFIG = {"lr": 0.01, "betas": [0.9, 0.999], "eps": 1e-8, "step": 3}


def _adam_case(rng, name, weight_decay, decoupled):
    config = {**CONFIG, "weight_decay": weight_decay, "decoupled": decoupled}

    def run(inputs, params, upstream):
        opt = Adam(config["lr"], tuple(config["betas"]), config["eps"], weight_decay, decoupled)
        opt.load_state_dict({"step/param": np.array(config["step"]),
                             "exp_avg/param": inputs["exp_avg"], "exp_avg_sq/param": inputs["exp_avg_sq"]})
        p = {"param": inputs["param"].copy()}
        opt.step(p, {"param": inputs["grad"]})
        state = opt.state_dict()
        out = {"param": p["param"], "exp_avg": state["exp_avg/param"], "exp_avg_sq": state["exp_avg_sq/param"]}
        no_grads = None if upstream is None else {}
        return out, no_grads, no_grads

    g_prev = rng.standard_normal((3, 3, 2))   # three earlier gradients make a consistent state
    b1, b2 = CONFIG["betas"]
    inputs = {"param": rng.standard_normal((3, 2)), "grad": rng.standard_normal((3, 2)),
              "exp_avg": sum((1 - b1) * b1 ** (2 - k) * g_prev[k] for k in range(3)),
              "exp_avg_sq": sum((1 - b2) * b2 ** (2 - k) * g_prev[k] ** 2 for k in range(3))}
    return Case(name, run, inputs, config=config)


@case("adam_step")
def _adam(rng):
    """One torch.optim.Adam step (weight_decay 0.1 added to the gradient) from step 3 to 4."""
    return _adam_case(rng, "adam_step", 0.1, False)


@case("adamw_step")
def _adamw(rng):
    """One torch.optim.AdamW step (p ← p − lr·wd·p first, wd 0.1) from step 3 to 4."""
    return _adam_case(rng, "adamw_step", 0.1, True)
