"""Adam / AdamW as torch.optim computes them, on one array or a whole dict of params
(no optax: five lines, and the golden pins down every detail of them)."""

import jax
import jax.numpy as jnp

from .registry import port


def adam_update(p, g, m, v, t, lr, betas, eps, weight_decay=0.0, decoupled=False):
    """One step, t = this step's number (1-based) -> (p, m, v). Bias-corrected moments, eps
    OUTSIDE the sqrt; Adam adds wd·p to the gradient, AdamW first scales p by 1 − lr·wd."""
    b1, b2 = betas
    if decoupled:
        p = p * (1 - lr * weight_decay)
    else:
        g = g + weight_decay * p
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g * g
    # torch's order of operations: (lr / bc1) · m / (sqrt(v) / sqrt(bc2) + eps)
    p = p - lr / (1 - b1 ** t) * m / (jnp.sqrt(v) / jnp.sqrt(1 - b2 ** t) + eps)
    return p, m, v


def adam_init(params):
    zeros = jax.tree.map(jnp.zeros_like, params)
    return {"step": jnp.zeros((), jnp.int64), "exp_avg": zeros, "exp_avg_sq": zeros}


def adam_step(params, grads, state, lr, betas, eps, weight_decay=0.0, decoupled=False):
    """Every entry of the params dict at once -> (params, state)."""
    t = state["step"] + 1
    new = jax.tree.map(lambda p, g, m, v: adam_update(p, g, m, v, t, lr, betas, eps, weight_decay, decoupled),
                       params, grads, state["exp_avg"], state["exp_avg_sq"])
    pick = lambda i: {k: triple[i] for k, triple in new.items()}       # noqa: E731
    return pick(0), {"step": t, "exp_avg": pick(1), "exp_avg_sq": pick(2)}


@port("adam_step", "adamw_step")
def adam_step_case(inputs, params, config):
    """Resume from exp_avg / exp_avg_sq after config["step"] earlier steps, take one more."""
    p, m, v = adam_update(inputs["param"], inputs["grad"], inputs["exp_avg"], inputs["exp_avg_sq"],
                          config["step"] + 1, config["lr"], config["betas"], config["eps"],
                          config["weight_decay"], config["decoupled"])
    return {"param": p, "exp_avg": m, "exp_avg_sq": v}
