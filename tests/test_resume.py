"""--resume ends bit-identical to an uninterrupted run, also after a hard kill in mid-epoch."""

import subprocess
import sys

import pytest

from tinybt.errors import TinyBTError
from tinybt.run import checkpoint, run_dir
from tinybt.train import trainer
from tinybt.train.trainer import train

from train_helpers import assert_same_checkpoint, metrics, tiny_config, tiny_flags
from wait_helpers import finish, wait_until


class Interrupt(Exception):
    pass


@pytest.mark.parametrize("objective, encoder", [("barlow", "gru"), ("dual", "transformer")])
def test_resume_after_crash_in_mid_epoch_is_bit_identical(data_dir, tmp_path, monkeypatch, objective, encoder):
    cfg = dict(objective=objective, encoder=encoder)
    full = train(tiny_config(data_dir, **cfg), out=tmp_path / "full", progress=False)

    step = {"barlow": "barlow_step", "dual": "dual_step"}[objective]
    real, calls = getattr(trainer, step), []

    def crashing(run, rows):                 # dies in the middle of epoch 2
        calls.append(1)
        if len(calls) == 11:
            raise Interrupt
        return real(run, rows)

    monkeypatch.setattr(trainer, step, crashing)
    with pytest.raises(Interrupt):
        train(tiny_config(data_dir, **cfg), out=tmp_path / "cut", progress=False)
    monkeypatch.setattr(trainer, step, real)
    assert len(metrics(tmp_path / "cut")) == 1
    train(resume=tmp_path / "cut", progress=False)
    assert metrics(tmp_path / "cut") == metrics(full)
    assert_same_checkpoint(tmp_path / "cut", full)


@pytest.mark.slow
def test_resume_after_a_hard_kill(data_dir, tmp_path):
    """A real crash: the test kills the trainer process (Popen.kill: SIGKILL on POSIX,
    TerminateProcess on Windows) as soon as its first epoch is logged, so it dies somewhere
    later in the run (mid-epoch or mid-checkpoint alike)."""
    epochs = 30                              # long enough that the kill lands before the end
    full = train(tiny_config(data_dir, epochs=epochs), out=tmp_path / "full", progress=False)
    log = tmp_path / "cut" / "metrics.jsonl"
    cmd = [sys.executable, "-m", "tinybt", "train", *tiny_flags(data_dir, epochs=epochs),
           "--out", str(tmp_path / "cut"), "--no-probe"]
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_until(lambda: log.exists() and log.read_text(encoding="utf-8").strip(), p, "the first logged epoch")
    p.kill()
    assert finish(p, "exit after the kill") and p.returncode != 0
    assert 1 <= len(metrics(tmp_path / "cut")) < epochs
    r = subprocess.run([sys.executable, "-m", "tinybt", "train", "--resume", str(tmp_path / "cut"), "--no-probe"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert metrics(tmp_path / "cut") == metrics(full)
    assert_same_checkpoint(tmp_path / "cut", full)


def test_resume_before_the_first_checkpoint_starts_over(data_dir, tmp_path, monkeypatch):
    full = train(tiny_config(data_dir, epochs=2), out=tmp_path / "full", progress=False)
    real = trainer.barlow_step

    def crash(run, rows):
        raise Interrupt

    monkeypatch.setattr(trainer, "barlow_step", crash)
    with pytest.raises(Interrupt):
        train(tiny_config(data_dir, epochs=2), out=tmp_path / "cut", progress=False)
    monkeypatch.setattr(trainer, "barlow_step", real)
    train(resume=tmp_path / "cut", progress=False)
    assert metrics(tmp_path / "cut") == metrics(full)
    assert_same_checkpoint(tmp_path / "cut", full)


@pytest.mark.parametrize("module, name, epochs_done", [
    (run_dir, "append_metrics", 1), (run_dir, "append_metrics", 2),     # after the checkpoint, before its line
    (checkpoint, "save", 1), (checkpoint, "save", 2),                   # while the checkpoint is written
])
def test_a_crash_around_the_end_of_an_epoch_loses_nothing(data_dir, tmp_path, monkeypatch, module, name,
                                                          epochs_done):
    full = train(tiny_config(data_dir, epochs=3), out=tmp_path / "full", progress=False)
    real, calls = getattr(module, name), []

    def dies(*args):                            # the process dies in the write of epoch `epochs_done`
        calls.append(1)
        if len(calls) == epochs_done:
            raise Interrupt
        real(*args)

    monkeypatch.setattr(module, name, dies)
    with pytest.raises(Interrupt):
        train(tiny_config(data_dir, epochs=3), out=tmp_path / "cut", progress=False)
    monkeypatch.setattr(module, name, real)
    train(resume=tmp_path / "cut", progress=False)
    assert metrics(tmp_path / "cut") == metrics(full)
    assert_same_checkpoint(tmp_path / "cut", full)


def test_resume_of_a_finished_run_changes_nothing(data_dir, tmp_path):
    run = train(tiny_config(data_dir, epochs=1), out=tmp_path / "r", progress=False)
    before = (run / "checkpoint.npz").read_bytes(), (run / "metrics.jsonl").read_text()
    train(resume=run, progress=False)
    assert ((run / "checkpoint.npz").read_bytes(), (run / "metrics.jsonl").read_text()) == before


def test_resume_errors(data_dir, tmp_path):
    with pytest.raises(TinyBTError, match="--resume: .* is not a run folder"):
        train(resume=tmp_path / "nowhere", progress=False)
    run = train(tiny_config(data_dir, epochs=1), out=tmp_path / "r", progress=False)
    (run / "checkpoint.npz").write_bytes(b"PK\x03\x04 broken")
    with pytest.raises(TinyBTError, match="corrupt or incomplete checkpoint"):
        train(resume=run, progress=False)
    (run / "config.json").write_text("{not json")
    with pytest.raises(TinyBTError, match="config.json: not valid JSON"):
        train(resume=run, progress=False)
