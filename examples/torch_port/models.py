"""Whole models: the sequence encoder, Barlow Twins (encoder + projector + BT loss), the dual encoder.

Module attribute names reproduce tinybt's state_dict names (item_emb.weight,
gru.weight_ih_l0, pos_emb.weight, layers.0.self_attn.in_proj_weight, final_norm.weight,
projector.0.weight, ...), so the golden params load with load_state_dict.
"""

import math

import torch
from torch import nn

from . import losses, sequence
from .layers import add_positions, last_step, valid_mean
from .registry import loaded, port


class Encoder(nn.Module):
    """ids (B, T), lengths (B,) -> user vector (B, D).
    gru: item_emb -> GRU -> the mean over valid steps (pooling "mean") or h at the last valid step ("last").
    transformer: item_emb + pos_emb -> pre-LN blocks (key padding) -> final LayerNorm -> valid mean.
    No defaults: every setting comes from the golden case's config (or a tinybt config.json)."""

    def __init__(self, kind, n_items, dim, n_layers, n_heads, max_len, pooling):
        super().__init__()
        self.kind, self.pooling = kind, pooling
        self.item_emb = nn.Embedding(n_items + 2, dim, padding_idx=0)    # 0 padding, V+1 [MASK]
        if kind == "gru":
            self.gru = sequence.GRU(dim, dim, batch_first=True)
        else:
            self.pos_emb = nn.Embedding(max_len, dim)
            self.layers = nn.ModuleList(sequence.encoder_layer(dim, n_heads) for _ in range(n_layers))
            self.final_norm = nn.LayerNorm(dim)

    def forward(self, ids, lengths):
        x = self.item_emb(ids)
        if self.kind == "gru":
            h = self.gru(x, lengths)
            return valid_mean(h, lengths) if self.pooling == "mean" else last_step(h, lengths)
        x = add_positions(x, self.pos_emb)
        pad = torch.arange(ids.shape[1]) >= lengths[:, None]              # True = padding key
        for layer in self.layers:
            x = layer(x, src_key_padding_mask=pad)
        return valid_mean(self.final_norm(x), lengths)


def projector(d, spec):
    """spec "6-6-6": Linear(bias=False) -> BatchNorm1d -> ReLU between widths, a last Linear(bias=False)."""
    widths = [int(w) for w in spec.split("-")]
    dims, mods = [d] + widths, []
    for j in range(len(widths)):
        mods.append(nn.Linear(dims[j], dims[j + 1], bias=False))
        if j < len(widths) - 1:
            mods += [nn.BatchNorm1d(dims[j + 1]), nn.ReLU()]
    return nn.Sequential(*mods)


class BarlowTwins(Encoder):
    def __init__(self, encoder, spec, lambd):
        super().__init__(**encoder)
        self.projector = projector(encoder["dim"], spec)
        self.lambd = lambd

    def forward(self, ids1, lengths1, ids2, lengths2):
        """Each view on its own: the projector's BatchNorm uses that view's batch statistics."""
        z1 = self.projector(super().forward(ids1, lengths1))
        z2 = self.projector(super().forward(ids2, lengths2))
        return losses.barlow_twins_loss(z1, z2, self.lambd)[0]


class DualEncoder(Encoder):
    def __init__(self, encoder, tau):
        super().__init__(**encoder)
        self.tau = tau

    def forward(self, ids, lengths, targets, log_q=None):
        """The item side reads the encoder's own item table; log_q (B,): the logQ correction."""
        u = super().forward(ids, lengths)
        return losses.dual_encoder_loss(u, self.item_emb(targets), targets, self.tau, log_q=log_q)


def build(config):
    """The model a whole-model case describes, in float64, training mode. A case without
    encoder.pooling predates the setting and pools the GRU's last state (manifest: gru)."""
    encoder = {"pooling": "last"} | config["encoder"]
    if "lambd" in config:
        return BarlowTwins(encoder, config["projector"], config["lambd"]).double()
    return DualEncoder(encoder, config["tau"]).double()


def load_params(model, params):
    """Strict, except that BatchNorm running stats may be absent (training mode never reads them)."""
    missing, unexpected = model.load_state_dict(params, strict=False)
    buffers = {k for k, _ in model.named_buffers()}
    if unexpected or set(missing) - buffers:
        raise KeyError(f"state_dict mismatch: missing {sorted(set(missing) - buffers)}, unexpected {unexpected}")
    return model


def loss_of(model, inputs):
    if isinstance(model, BarlowTwins):
        return model(inputs["ids1"], inputs["lengths1"], inputs["ids2"], inputs["lengths2"])
    return model(inputs["ids"], inputs["lengths"], inputs["targets"], inputs.get("log_q"))


DEFAULTS = ("default_bt_gru", "default_bt_transformer", "default_dual_gru", "default_dual_transformer")


@port("model_bt_gru", "model_bt_transformer", "model_dual", *DEFAULTS)
def model_loss(inputs, params, config):
    model = load_params(build(config), params)
    return {"loss": loss_of(model, inputs)}, model


@port("model_bt_gru_adam10", "model_bt_transformer_adam10", "model_dual_adam10")
def adam_trajectory(inputs, params, config):
    """torch.optim.Adam on the full batch; the loss before each step."""
    model = load_params(build(config), params)
    a = config["adam"]
    opt = torch.optim.Adam(model.parameters(), lr=a["lr"], betas=tuple(a["betas"]), eps=a["eps"],
                           weight_decay=a["weight_decay"])
    losses = []
    for _ in range(config["steps"]):
        opt.zero_grad()
        loss = loss_of(model, inputs)
        loss.backward()
        opt.step()
        losses.append(loss.detach())
    return {"loss": torch.stack(losses)}, None


def warmup_cosine(step, s):
    """The lr of step `step` (0-based) under manifest convention "training"."""
    W, T = s["warmup_steps"], s["total_steps"]
    if step < W:
        return s["peak_lr"] * (step + 1) / W
    return s["min_lr"] + (s["peak_lr"] - s["min_lr"]) * 0.5 * (1 + math.cos(math.pi * (step - W) / (T - W)))


@port(*(f"{name}_train10" for name in DEFAULTS))
def training_trajectory(inputs, params, config):
    """tinybt train's steps: optional clipping, then torch.optim.AdamW at the warm-up + cosine lr."""
    model = load_params(build(config), params)
    o = config["optimizer"]
    opt = torch.optim.AdamW(model.parameters(), lr=0.0, betas=tuple(o["betas"]), eps=o["eps"],
                            weight_decay=o["weight_decay"])
    losses, lrs = [], []
    for step in range(config["steps"]):
        opt.zero_grad()
        loss = loss_of(model, inputs)
        loss.backward()
        if config["grad_clip"] > 0:
            nn.utils.clip_grad_norm_(model.parameters(), config["grad_clip"])
        lrs.append(warmup_cosine(step, config["schedule"]))
        opt.param_groups[0]["lr"] = lrs[-1]
        opt.step()
        losses.append(loss.detach())
    return {"loss": torch.stack(losses), "lr": torch.tensor(lrs)}, None


@port("projector")
def projector_case(inputs, params, config):
    m = loaded(nn.ModuleDict({"projector": projector(inputs["x"].shape[1], config["projector"])}), params)
    return {"out": m["projector"](inputs["x"])}, m
