"""The basic layers, each from its torch.nn module."""

import torch
from torch import nn

from .registry import loaded, port


@port("linear", "linear_nobias")
def linear(inputs, params, config):
    w = params["weight"]
    m = loaded(nn.Linear(w.shape[1], w.shape[0], bias=config["bias"]), params)
    return {"out": m(inputs["x"])}, m


@port("embedding")
def embedding(inputs, params, config):
    m = loaded(nn.Embedding(*params["weight"].shape, padding_idx=config["padding_idx"]), params)
    return {"out": m(inputs["ids"])}, m


def add_positions(x, pos):
    """x (B, T, D) + rows 0..T-1 of the learned table pos (nn.Embedding(max_len, D))."""
    return x + pos(torch.arange(x.shape[1]))


@port("positional")
def positional(inputs, params, config):
    m = loaded(nn.Embedding(*params["weight"].shape), params)
    return {"out": add_positions(inputs["x"], m)}, m


@port("layernorm")
def layernorm(inputs, params, config):
    m = loaded(nn.LayerNorm(params["weight"].shape[0], eps=config["eps"]), params)
    return {"out": m(inputs["x"])}, m


@port("batchnorm_train", "batchnorm_train_noaffine")
def batchnorm(inputs, params, config):
    """Training mode (a new module's default): batch statistics, running stats updated in place."""
    m = loaded(nn.BatchNorm1d(params["running_mean"].shape[0], eps=config["eps"],
                              momentum=config["momentum"], affine=config["affine"]), params)
    return {"out": m(inputs["x"]), "running_mean": m.running_mean, "running_var": m.running_var}, m


ACTIVATIONS = {"relu": nn.ReLU(), "gelu": nn.GELU(approximate="none")}
for _name, _act in ACTIVATIONS.items():
    port(_name)(lambda inputs, params, config, _act=_act: ({"out": _act(inputs["x"])}, None))


def last_step(h, lengths):
    """h (B, T, H), lengths (B,) -> h[b, lengths[b] - 1] (B, H)."""
    return h[torch.arange(h.shape[0]), lengths - 1]


def valid_mean(h, lengths):
    """h (B, T, H), lengths (B,) -> mean over the valid prefix (B, H)."""
    valid = (torch.arange(h.shape[1]) < lengths[:, None]).to(h.dtype)[:, :, None]
    return (h * valid).sum(1) / lengths[:, None].to(h.dtype)


port("last_pool")(lambda inputs, params, config: ({"out": last_step(inputs["h"], inputs["lengths"])}, None))
port("mean_pool")(lambda inputs, params, config: ({"out": valid_mean(inputs["h"], inputs["lengths"])}, None))
