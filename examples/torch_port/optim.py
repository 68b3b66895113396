"""One optimiser step: torch.optim.Adam / AdamW resumed from a given state."""

import torch

from .registry import port


@port("adam_step", "adamw_step")
def adam_step(inputs, params, config):
    """Inputs: param, its grad, exp_avg and exp_avg_sq after config["step"] earlier steps."""
    p = inputs["param"].detach().clone().requires_grad_()
    p.grad = inputs["grad"].detach().clone()
    cls = torch.optim.AdamW if config["decoupled"] else torch.optim.Adam
    opt = cls([p], lr=config["lr"], betas=tuple(config["betas"]), eps=config["eps"],
              weight_decay=config["weight_decay"])
    opt.state[p] = {"step": torch.tensor(float(config["step"])),
                    "exp_avg": inputs["exp_avg"].detach().clone(),
                    "exp_avg_sq": inputs["exp_avg_sq"].detach().clone()}
    opt.step()
    state = opt.state[p]
    return {"param": p.detach(), "exp_avg": state["exp_avg"], "exp_avg_sq": state["exp_avg_sq"]}, None
