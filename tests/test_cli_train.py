"""`tinybt train` / `tinybt embed` on the command line: flag errors and end-to-end runs."""

import json
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from tinybt.cli import cli
from tinybt.errors import TinyBTError

from train_helpers import tiny_flags


def error_of(args):
    """The one-line error of `tinybt ARGS` (exit 2), without its "error: " prefix."""
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2 and result.stderr.count("\n") == 1, result.output
    assert result.stderr.startswith("error: ")
    return result.stderr[len("error: "):].rstrip("\n")


@pytest.mark.parametrize("args, flag", [
    (["--encoder", "transformer", "--dim", "10", "--heads", "4"], "--heads"),
    (["--projector", "256x256"], "--projector"),
    (["--batch-size", "1"], "--batch-size"),
    (["--augment", "crop:0.6,flip:0.1"], "--augment"),
    (["--threads", "999"], "--threads"),
    (["--dataset", "movielens"], "--dataset"),
])
def test_bad_flags_name_the_flag(args, flag, tmp_path):
    assert error_of(["train", *args, "--out", str(tmp_path / "r")]).startswith(flag)
    assert not (tmp_path / "r").exists()                 # nothing written for a bad command


@pytest.mark.parametrize("args, message", [(["--users", "0"], "--users: must be at least 1, got 0"),
                                           (["--items", "1"], "--items: must be at least 2, got 1")])
def test_synthesize_size_errors_name_the_flag(args, message, tmp_path):
    # the dataset generator's CLI; the writers themselves are tested in test_writers.py
    assert error_of(["data", "synthesize", "--format", "ml-100k", *args, "--out", str(tmp_path / "d")]) == message
    assert not (tmp_path / "d").exists()


def test_resume_errors_name_the_flag(tmp_path):
    assert error_of(["train", "--resume", str(tmp_path / "missing")]).startswith("--resume")
    assert error_of(["train", "--resume", str(tmp_path), "--lr", "0.1"]).startswith("--lr: --resume")


def test_cli_exit_code_and_one_line_message(tmp_path):
    p = subprocess.run([sys.executable, "-m", "tinybt", "train", "--projector", "a-b", "--out", str(tmp_path)],
                       capture_output=True, text=True)
    assert p.returncode == 2
    assert p.stderr.strip().splitlines() == ["error: --projector: expected widths like 256-256-256, got 'a-b'"]


def test_train_then_embed(data_dir, tmp_path):
    run = tmp_path / "r"
    result = CliRunner().invoke(cli, ["train", *tiny_flags(data_dir, epochs=1), "--out", str(run), "--no-probe"])
    assert result.exit_code == 0, result.output
    assert (run / "checkpoint.npz").exists()
    result = CliRunner().invoke(cli, ["embed", str(run), "--out", str(tmp_path / "u.npy")])
    assert result.exit_code == 0, result.output
    assert np.load(tmp_path / "u.npy").shape[1] == 8
    assert error_of(["embed", str(tmp_path / "nowhere"), "--out", str(tmp_path / "v.npy")]).startswith("RUN_DIR")


@pytest.mark.slow
@pytest.mark.parametrize("objective", ["barlow", "dual"])
@pytest.mark.parametrize("encoder", ["gru", "transformer"])
def test_synthetic_training_loss_falls(objective, encoder, tmp_path):
    """The README's `tinybt train --dataset synthetic`, shortened: the loss falls from first to last epoch."""
    run = tmp_path / "r"
    args = ["train", "--dataset", "synthetic", "--objective", objective, "--encoder", encoder, "--epochs", "4",
            "--batch-size", "64", "--dim", "32", "--max-len", "20", "--projector", "64-64", "--lr", "3e-3",
            "--no-probe", "--out", str(run)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    losses = [json.loads(line)["loss"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert len(losses) == 4 and all(np.isfinite(losses))
    assert losses[-1] < losses[0]


def test_every_setting_has_its_flag():
    """config.py promises one flag per TrainConfig field (errors name them)."""
    from dataclasses import fields

    from tinybt.cli import train as train_cmd
    from tinybt.run.config import TrainConfig

    flags = {p.name for p in train_cmd.params}
    assert {f.name for f in fields(TrainConfig)} - {"version"} <= flags
