"""Shared by the training and CLI tests: a tiny dataset on disk, a tiny fast config, a CLI runner."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from tinybt.cli import main
from tinybt.data.synthetic import generate
from tinybt.data.writers import write_dataset
from tinybt.run.config import TrainConfig
from tinybt.run.run_dir import read_metrics


def tiny_dataset(folder):
    """A small synthetic dataset written in the ML-1M file format (so `--data-dir` works)."""
    return write_dataset(generate(n_users=160, n_items=60, mean_length=16, seed=1), "ml-1m", folder)


def tiny_config(data_dir, **over):
    kw = dict(dataset="ml-1m", data_dir=str(data_dir), epochs=3, batch_size=16, max_len=10, dim=8,
              layers=1, heads=2, projector="16-16", lambd=0.05, lr=3e-3, seed=7)
    return TrainConfig(**(kw | over))


def tiny_flags(data_dir, **over):
    """The same config as `tinybt train` flags."""
    d = tiny_config(data_dir, **over).__dict__
    flags = []
    for k in ("dataset", "data_dir", "objective", "encoder", "epochs", "batch_size", "max_len", "dim",
              "layers", "heads", "projector", "lambd", "lr", "seed"):
        if k not in ("layers", "heads") or d["encoder"] == "transformer":   # the GRU refuses them
            flags += ["--" + k.replace("_", "-"), str(d[k])]
    return flags


WALL_CLOCK = ("seconds", "examples_per_s")


def metrics(run):
    """metrics.jsonl without the wall-clock fields."""
    return [{k: v for k, v in r.items() if k not in WALL_CLOCK} for r in read_metrics(run)]


def saved_params(run):
    with np.load(Path(run) / "checkpoint.npz", allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def assert_same_checkpoint(a, b):
    pa, pb = saved_params(a), saved_params(b)
    assert sorted(pa) == sorted(pb)
    for k in pa:
        if k == "metrics":                              # the epoch's metrics line: equal but for wall-clock time
            a, b = (json.loads(str(p[k])) for p in (pa, pb))
            assert {k: v for k, v in a.items() if k not in WALL_CLOCK} == \
                   {k: v for k, v in b.items() if k not in WALL_CLOCK}
            continue
        assert np.array_equal(pa[k], pb[k]), k          # bit-identical, not merely close


def run_cli(args, monkeypatch, capsys):
    """`tinybt ARGS` through main() -> (exit code, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["tinybt", *map(str, args)])
    with pytest.raises(SystemExit) as e:
        main()
    out = capsys.readouterr()
    return e.value.code, out.out, out.err
