"""A run folder is reused safely: the data it was trained on, the machine it runs on, one writer."""

import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest
from click.testing import CliRunner

from tinybt.cli import cli
from tinybt.errors import TinyBTError
from tinybt.run import lock, run_dir
from tinybt.run.config import TrainConfig
from tinybt.train.embed import embed
from tinybt.train.trainer import train

from train_helpers import tiny_config
from wait_helpers import wait_until


@pytest.fixture
def own_data(data_dir, tmp_path):
    """A private copy of the tiny dataset, free to edit or move."""
    return shutil.copytree(data_dir, tmp_path / "data")


@pytest.fixture
def run(own_data, tmp_path):
    return train(tiny_config(own_data, epochs=1), out=tmp_path / "run", progress=False)


def invoke(*args):
    r = CliRunner().invoke(cli, [str(a) for a in args])
    return r.exit_code, r.stdout, r.stderr


# ---- 1: the data a run was trained on -------------------------------------------

def drop_user(folder, user):
    f = folder / "ratings.dat"
    lines = f.read_text().splitlines(keepends=True)
    f.write_text("".join(x for x in lines if not x.startswith(f"{user}::")))
    return sum(x.startswith(f"{user}::") for x in lines)


def test_embed_probe_and_resume_refuse_changed_data_and_say_what_changed(run, own_data, tmp_path):
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    n = drop_user(own_data, 1)
    ratings = json.loads((run / "data.json").read_text())["counts"]["interactions"]
    expect = f"interactions {ratings:,} -> {ratings - n:,}"
    for args in (["embed", run, "--out", tmp_path / "u.npy"], ["probe", run, "--seeds", "1"]):
        code, _, err = invoke(*args)
        assert code == 2 and err.count("\n") == 1 and "data.json" in err and expect in err, err
    with pytest.raises(TinyBTError, match=expect):
        train(resume=run, progress=False)
    assert not (tmp_path / "u.npy").exists()
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before


def test_compare_refuses_to_reuse_runs_trained_on_other_data(own_data, tmp_path):
    args = ["compare", "--dataset", "ml-1m", "--data-dir", own_data, "--epochs", "1", "--batch-sizes", "32",
            "--seeds-pretrain", "1", "--dim", "8", "--max-len", "10", "--projector", "16-16",
            "--tasks", "gender", "--label-fractions", "1", "--seeds", "1", "--folds", "2", "--jobs", "1",
            "--out", tmp_path / "cmp"]
    assert invoke(*args)[0] == 0
    drop_user(own_data, 1)
    code, _, err = invoke(*args)
    assert code == 2 and "data.json: the data differs" in err and "interactions" in err, err


def test_new_items_are_a_named_change_not_a_crash(run, own_data, tmp_path):
    with open(own_data / "ratings.dat", "a") as f:
        f.write("1::99999::4::978300000\n")
    with pytest.raises(TinyBTError, match=r"items 60 -> 61"):
        embed(run, tmp_path / "u.npy")


def test_same_data_in_another_folder_matches(run, own_data, tmp_path):
    moved = own_data.rename(tmp_path / "moved")
    code, _, err = invoke("embed", run, "--out", tmp_path / "u.npy")
    assert code == 2 and "config.json" in err and "pass --data-dir" in err
    code, out, err = invoke("embed", run, "--out", tmp_path / "u.npy", "--data-dir", moved)
    assert code == 0, err
    drop_user(moved, 2)                    # the fingerprint still guards the moved data
    code, _, err = invoke("embed", run, "--out", tmp_path / "v.npy", "--data-dir", moved)
    assert code == 2 and "interactions" in err


def test_resume_and_probe_take_data_dir(own_data, tmp_path, monkeypatch):
    cut = train(tiny_config(own_data, epochs=1), out=tmp_path / "cut", progress=False)
    cfg = json.loads((cut / "config.json").read_text())
    cfg["epochs"] = 2
    (cut / "config.json").write_text(json.dumps(cfg))
    moved = own_data.rename(tmp_path / "moved")
    code, _, err = invoke("train", "--resume", cut, "--data-dir", moved, "--no-probe")
    assert code == 0, err
    assert len(run_dir.read_metrics(cut)) == 2
    code, out, err = invoke("probe", cut, "--data-dir", moved, "--seeds", "1", "--tasks", "gender")
    assert code == 0, err


# ---- 2: threads belong to the machine -----------------------------------------------

def test_saved_threads_above_this_machine_are_lowered_not_refused(run, tmp_path):
    cfg = json.loads((run / "config.json").read_text())
    cfg["threads"] = 4096
    (run / "config.json").write_text(json.dumps(cfg))
    code, _, err = invoke("embed", run, "--out", tmp_path / "u.npy")
    assert code == 0 and "warning: the run used 4096 threads" in err
    code, _, err = invoke("train", "--resume", run, "--threads", "1", "--no-probe")
    assert code == 0, err
    for cmd in (["embed", run, "--out", tmp_path / "v.npy"], ["probe", run]):
        code, _, err = invoke(*cmd, "--threads", "0")
        assert code == 2 and err.startswith("error: --threads: must lie in [1, ")


# ---- 3: a relative --data-dir is stored absolute -----------------------------------

def test_relative_data_dir_is_saved_absolute(own_data, tmp_path, monkeypatch):
    monkeypatch.chdir(own_data.parent)
    run = train(tiny_config("data", epochs=1), out=tmp_path / "run", progress=False)
    assert json.loads((run / "config.json").read_text())["data_dir"] == str(own_data)
    monkeypatch.chdir(tmp_path / "run")
    n, _ = embed(run, tmp_path / "u.npy")
    assert n > 0


# ---- 4: one writer per run folder ---------------------------------------------------

def test_a_second_writer_is_refused_while_the_first_holds_the_folder(run, tmp_path):
    held = lock.acquire(run, "--resume")
    try:
        with pytest.raises(TinyBTError, match="in use by another tinybt process"):
            train(resume=run, progress=False)
        code, _, err = invoke("probe", run, "--seeds", "1")
        assert code == 2 and "in use" in err
        with pytest.raises(TinyBTError, match="--out: .* in use"):
            train(tiny_config(run.parent / "data"), out=run, progress=False)
    finally:
        held.release()
    train(resume=run, progress=False)                    # free again


def test_the_lock_dies_with_its_process(run):
    # the child holds the lock until it is killed (it waits on stdin, not on a clock)
    code = (f"import sys; sys.path.insert(0, {os.getcwd()!r}); from tinybt.run import lock; "
            f"lock.acquire({str(run)!r}, 'x'); print('held', flush=True); sys.stdin.read()")
    p = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "held"
        with pytest.raises(TinyBTError, match="in use"):
            lock.acquire(run, "--resume")
    finally:
        p.kill()            # a hard kill everywhere (SIGKILL on POSIX, TerminateProcess on Windows)
        p.wait()
    lock.acquire(run, "--resume").release()


def test_default_folder_names_never_collide(tmp_path, monkeypatch):
    cfg = TrainConfig()
    clock = iter([5_000, 5_000, 6_000])                # two runs in the same microsecond
    monkeypatch.setattr(time, "time_ns", lambda: next(clock))
    a = run_dir.make_folder(None, cfg, root=tmp_path)
    b = run_dir.make_folder(None, cfg, root=tmp_path)
    assert a != b and a.is_dir() and b.is_dir()


# ---- 7: a run folder's files are checked, not trusted ------------------------------

@pytest.mark.parametrize("field, value, expect", [
    ("epochs", "3", '"epochs" must be an integer, got "3"'),
    ("epochs", 3.5, '"epochs" must be an integer, got 3.5'),
    ("lr", "0.01", '"lr" must be a number or null, got "0.01"'),
    ("batch_size", 64.0, '"batch_size" must be an integer, got 64.0'),
    ("seed", "abc", '"seed" must be an integer, got "abc"'),
    ("data_dir", 5, '"data_dir" must be a string or null, got 5'),
    ("epochs", True, '"epochs" must be an integer, got true'),
    ("seed", -1, "--seed: must be >= 0"),
])
def test_config_json_is_type_checked_field_by_field(run, field, value, expect):
    f = run / "config.json"
    f.write_text(json.dumps(json.loads(f.read_text()) | {field: value}))
    with pytest.raises(TinyBTError) as e:
        train(resume=run, progress=False)
    assert str(e.value).startswith(str(f)) and expect in str(e.value)


@pytest.mark.parametrize("line", ["42", "[1]", '{"loss": 1.0}', '{"epoch": 3}'])
def test_bad_metrics_lines_are_named(run, line):
    with open(run / "metrics.jsonl", "a") as f:
        f.write(line + "\n")
    with pytest.raises(TinyBTError, match=r"metrics.jsonl:2: expected a JSON object with \"epoch\": 2"):
        train(resume=run, progress=False)


def test_a_deleted_checkpoint_with_metric_lines_is_refused(run):
    (run / "checkpoint.npz").unlink()
    with pytest.raises(TinyBTError, match=r"checkpoint.npz: missing, but .*metrics.jsonl records 1 finished"):
        train(resume=run, progress=False)
    assert len(run_dir.read_metrics(run)) == 1


# ---- 8: numbers that cannot train ---------------------------------------------------

@pytest.mark.parametrize("over, flag", [(dict(dim=100_000_000), "--dim"),
                                        (dict(projector="16-100000000"), "--projector")])
def test_huge_models_are_refused_before_allocating(own_data, tmp_path, over, flag):
    with pytest.raises(TinyBTError, match=f"^{flag}: training would need about .* GiB"):
        train(tiny_config(own_data, **over), out=tmp_path / "r", progress=False)
    assert not (tmp_path / "r").exists()


@pytest.mark.filterwarnings("ignore:overflow")
@pytest.mark.parametrize("over", [dict(lambd=1e30), dict(objective="dual", tau=1e-30)])
def test_non_finite_optimiser_state_stops_the_run(own_data, tmp_path, over):
    # the loss stays finite: Adam's second moment overflows first (g² > float32's max)
    with pytest.raises(TinyBTError, match="optimiser state .* became non-finite"):
        train(tiny_config(own_data, **over), out=tmp_path / "r", progress=False)
    if (tmp_path / "r" / "checkpoint.npz").exists():      # whatever was saved is finite
        with np.load(tmp_path / "r" / "checkpoint.npz") as z:
            assert all(np.isfinite(z[k]).all() for k in z.files if z[k].dtype.kind == "f")


def test_non_finite_gradients_stop_the_run_at_that_step(own_data, tmp_path, monkeypatch):
    from tinybt.train import trainer

    real = trainer.barlow_backward

    def bad_backward(dloss, cache):            # a finite loss whose gradient holds an inf
        dx, grads = real(dloss, cache)
        grads["item_emb.weight"][1, 0] = np.inf
        return dx, grads

    monkeypatch.setattr(trainer, "barlow_backward", bad_backward)
    with pytest.raises(TinyBTError, match="gradients became non-finite at epoch 1 step 1"):
        train(tiny_config(own_data), out=tmp_path / "r", progress=False)


def test_resume_while_the_run_trains_in_another_process_is_refused(tmp_path):
    env = dict(os.environ)
    first = subprocess.Popen([sys.executable, "-m", "tinybt", "train", "--dataset", "synthetic", "--epochs", "50",
                              "--out", tmp_path / "r", "--no-probe"], stderr=subprocess.DEVNULL, env=env)
    try:
        wait_until((tmp_path / "r" / "config.json").exists, first, "the first run's config.json")
        second = subprocess.run([sys.executable, "-m", "tinybt", "train", "--resume", tmp_path / "r"],
                                capture_output=True, text=True, env=env)
        assert first.poll() is None, "the first run ended before the second started"
        assert second.returncode == 2
        assert second.stderr.splitlines() == [f"error: --resume: {tmp_path / 'r'} is in use by another tinybt "
                                              "process (training, resuming or probing it); wait until it ends"]
    finally:
        first.kill()
        first.wait()


@pytest.mark.parametrize("args, flag", [(["probe", "{run}"], "RUN_DIR"), (["train", "--resume", "{run}"], "--resume")])
def test_unwritable_run_folder_is_one_line_before_any_work(run, monkeypatch, args, flag):
    import tempfile

    real = tempfile.mkstemp

    def read_only(*a, dir=None, **k):          # what a read-only folder does, even to root
        if dir is not None and os.path.samefile(dir, run):
            raise PermissionError(13, "Permission denied", str(run / "x.tmp"))
        return real(*a, dir=dir, **k)

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    code, _, err = invoke(*[a.replace("{run}", str(run)) for a in args])
    assert code == 2 and err == f"error: {flag}: cannot write {run / '.lock'} (Permission denied)\n"


def test_data_info_takes_min_interactions(own_data):
    code, out, err = invoke("data", "info", "ml-1m", "--data-dir", own_data, "--min-interactions", "20")
    assert code == 0, err
    assert "after the min-20 filter" in out
