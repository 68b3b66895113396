"""One source of defaults: `tinybt train`'s flags, the encoder, the golden cases of the default
model and the ports all take TrainConfig's (tinybt/run/config.py); none restates them."""

import dataclasses
import inspect
import sys

import click
import pytest

from port_helpers import GOLDEN, ROOT
from tinybt import cli
from tinybt.check.cases import defaults
from tinybt.check.golden import load
from tinybt.models.encoder import EncoderConfig
from tinybt.run.config import TrainConfig, default_lr
from tinybt.train.trainer import make_optimizer

DEFAULT_CASES = [f"default_{o}_{k}{s}" for o in ("bt", "dual") for k in ("gru", "transformer") for s in ("", "_train10")]


def test_train_flags_default_to_the_config():
    fields = {f.name: f.default for f in dataclasses.fields(TrainConfig)}
    options = {p.name: p.default for p in cli.train.params if isinstance(p, click.Option) and p.name in fields}
    assert len(options) >= 25
    assert {k: v for k, v in options.items() if v != fields[k]} == {}


def test_the_encoder_has_no_defaults_of_its_own():
    assert all(f.default is dataclasses.MISSING for f in dataclasses.fields(EncoderConfig))


def test_the_default_golden_cases_are_tinybt_trains_defaults():
    manifest, _ = load(GOLDEN)
    cfg, opt = TrainConfig(), make_optimizer(TrainConfig().validate())
    for name in DEFAULT_CASES:
        c = manifest["cases"][name]["config"]
        enc = c["encoder"]
        assert (enc["kind"], enc["pooling"], enc["n_layers"], enc["n_heads"]) == \
            (name.split("_")[2], cfg.pooling, cfg.layers, cfg.heads), name
        if "_bt_" in name:
            assert c["lambd"] == cfg.lambd
        else:
            assert (c["tau"], c["sampling_correction"]) == (cfg.tau, cfg.sampling_correction)
        if name.endswith("_train10"):
            s, o = c["schedule"], c["optimizer"]
            assert s == {"name": "warmup_cosine", "total_steps": defaults.TOTAL,
                         "warmup_steps": int(cfg.warmup * defaults.TOTAL), "min_lr": cfg.min_lr,
                         "peak_lr": default_lr(defaults.B)}
            assert o == {"name": "adamw", "betas": list(opt.betas), "eps": opt.eps,
                         "weight_decay": cfg.weight_decay}
            assert c["grad_clip"] == cfg.grad_clip


def test_the_ports_take_every_model_setting_from_the_config():
    sys.path.insert(0, str(ROOT / "examples"))
    torch_models = pytest.importorskip("torch_port.models")
    assert all(p.default is inspect.Parameter.empty
               for p in inspect.signature(torch_models.Encoder).parameters.values())
    # the torchrun trainer implements every setting, and takes its schedule from the trainer itself
    sys.path.insert(0, str(ROOT / "examples" / "torch_port"))
    import train_ddp
    from tinybt.train import trainer

    assert set(train_ddp.HONOURED) == {f.name for f in dataclasses.fields(TrainConfig)}
    assert train_ddp.learning_rate is trainer.learning_rate and train_ddp.TrainConfig is TrainConfig
