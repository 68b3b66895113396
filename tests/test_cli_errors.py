"""Every bad input ends in one line on stderr naming the file or flag: no traceback, no file changed.

The sweep runs `tinybt` in-process (click's CliRunner) over a table of bad commands in a
scratch world (a finished tiny run, its data, a plain file), snapshots the world before
and after each command and asserts a non-zero exit, exactly one stderr line starting
with `error:` and naming what is wrong, and identical files. A few checks run as real
subprocesses: exit codes, --debug / TINYBT_DEBUG, Ctrl-C.
"""

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tinybt.cli import cli
from tinybt.train.trainer import train

from train_helpers import tiny_config, tiny_flags
from wait_helpers import finish, wait_until

RO = Path("/sys")        # not writable, not even by root
ro_only = pytest.mark.skipif(not RO.is_dir() or os.access(RO / "tinybt-nope", os.F_OK),
                             reason="needs Linux's read-only /sys")


@pytest.fixture(scope="module")
def world(tmp_path_factory, data_dir):
    """A scratch folder: data/ (a copy of the tiny dataset), run/ (one finished epoch), a.txt."""
    root = tmp_path_factory.mktemp("world")
    shutil.copytree(data_dir, root / "data")
    train(tiny_config(root / "data", epochs=1), out=root / "run", progress=False)
    (root / "a.txt").write_text("a plain file\n")
    golden = root / "golden"
    golden.mkdir()
    (golden / "linear.npz").write_bytes(b"")
    return root


def snapshot(root):
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(root.rglob("*"))}


def manifest(cases):
    return json.dumps({"format": "tinybt-golden", "format_version": 1, "cases": cases})


def edit_json(path, **changes):
    path.write_text(json.dumps(json.loads(path.read_text()) | changes))


# (id, args with {w} = the world folder, what the error line must contain, how to spoil a copy of run/)
CASES = [
    ("seed", ["train", "--seed", "-1", "--out", "{w}/new"], "--seed: must be >= 0", None),
    ("split-seed", ["train", "--split-seed", "-1", "--out", "{w}/new"], "--split-seed: must be >= 0", None),
    ("compare-seed", ["compare", "--seed", "-1", "--out", "{w}/cmp"], "--seed: must be >= 0", None),
    ("augment-empty-rate", ["train", "--augment", "mask:", "--out", "{w}/new"], "--augment: ", None),
    ("heads-gru", ["train", "--heads", "4", "--out", "{w}/new"], "--heads: only the transformer", None),
    ("layers-gru", ["train", "--layers", "3", "--out", "{w}/new"], "--layers: only the transformer", None),
    ("compare-heads-gru", ["compare", "--heads", "4", "--out", "{w}/cmp"], "--heads: only the transformer", None),
    ("synthetic-data-dir", ["train", "--data-dir", "{w}/data", "--out", "{w}/new"], "--data-dir: the synthetic",
     None),
    ("huge-dim", ["train", *tiny_flags("{w}/data", dim=100_000_000), "--out", "{w}/new"], "--dim: training would",
     None),
    ("huge-projector", ["train", *tiny_flags("{w}/data", projector="8-100000000"), "--out", "{w}/new"],
     "--projector: training would", None),
    ("epochs-type", ["train", "--epochs", "abc"], "'--epochs'", None),
    ("out-is-file", ["train", "--out", "{w}/a.txt"], "--out: {w}/a.txt is a file", None),
    ("out-under-file", ["train", "--out", "{w}/a.txt/run"], "--out: {w}/a.txt is a file", None),
    ("resume-flag", ["train", "--resume", "{w}/run", "--lr", "0.1"], "--lr: --resume continues", None),
    ("resume-missing", ["train", "--resume", "{w}/nowhere"], "--resume: {w}/nowhere is not a run folder", None),
    ("embed-missing-folder", ["embed", "{w}/run", "--out", "{w}/nowhere/u.npy"],
     "--out: cannot write {w}/nowhere/u.npy", None),
    ("embed-suffix", ["embed", "{w}/run", "--out", "{w}/u.txt"], "--out: expected a file ending in .npy", None),
    ("embed-threads", ["embed", "{w}/run", "--out", "{w}/u.npy", "--threads", "0"], "--threads: must lie", None),
    ("embed-run-dir", ["embed", "{w}/nowhere", "--out", "{w}/u.npy"], "RUN_DIR: ", None),
    ("probe-threads", ["probe", "{w}/run", "--threads", "0"], "--threads: must lie", None),
    ("synth-out-file", ["data", "synthesize", "--format", "ml-1m", "--out", "{w}/a.txt"], "'--out'", None),
    ("synth-seed", ["data", "synthesize", "--format", "ml-1m", "--seed", "-1", "--out", "{w}/s"], "--seed: ", None),
    ("download-synthetic", ["data", "download", "synthetic"], "synthetic is generated", None),
    ("info-min", ["data", "info", "ml-1m", "--data-dir", "{w}/data", "--min-interactions", "1"],
     "--min-interactions: must be at least 2", None),
    ("info-name", ["data", "info", "netflix"], "unknown dataset 'netflix'", None),
    ("golden-export-file", ["golden", "export", "{w}/a.txt"], "'DIR': Directory '{w}/a.txt' is a file", None),
    ("golden-check-empty-npz", ["golden", "check", "{w}/golden"], "{w}/golden/linear.npz: cannot read", "golden"),
    ("golden-file-not-str", ["golden", "check", "{w}/golden"], "\"file\" must be a file name", "golden-file"),
    ("gradcheck-typo", ["gradcheck", "--only", "typo"], "--only: no case name contains 'typo'", None),
    # a spoilt copy of the run folder
    ("config-str", ["train", "--resume", "{w}/bad"], '{w}/bad/config.json: "epochs" must be an integer', "epochs"),
    ("config-float", ["embed", "{w}/bad", "--out", "{w}/u.npy"], '"batch_size" must be an integer, got 64.0',
     "batch"),
    ("metrics-line", ["train", "--resume", "{w}/bad"], "{w}/bad/metrics.jsonl:1: expected a JSON object", "metrics"),
    ("deleted-checkpoint", ["train", "--resume", "{w}/bad"], "{w}/bad/checkpoint.npz: missing, but", "checkpoint"),
    ("changed-data", ["embed", "{w}/bad", "--out", "{w}/u.npy"], "{w}/bad/data.json: the data differs", "data"),
    ("moved-data", ["probe", "{w}/bad"], "{w}/bad/config.json: the run's data folder", "moved"),
]


def spoil(world, how):
    """Make the spoilt copy `bad` (of run/, data/ or golden/) a case needs; returns what to snapshot."""
    if how is None:
        return world
    if how.startswith("golden"):
        if how == "golden-file":
            (world / "golden" / "manifest.json").write_text(manifest({"linear": {"file": 5, "config": {},
                                                                                 "tolerances": {}}}))
        else:
            (world / "golden" / "manifest.json").write_text(manifest({"linear": {"file": "linear.npz",
                                                                                 "config": {}, "tolerances": {}}}))
        return world
    bad = world / "bad"
    shutil.rmtree(bad, ignore_errors=True)
    shutil.copytree(world / "run", bad)
    shutil.rmtree(world / "baddata", ignore_errors=True)
    shutil.copytree(world / "data", world / "baddata")
    edit_json(bad / "config.json", data_dir=str(world / "baddata"))
    if how == "epochs":
        edit_json(bad / "config.json", epochs="3")
    elif how == "batch":
        edit_json(bad / "config.json", batch_size=64.0)
    elif how == "metrics":
        (bad / "metrics.jsonl").write_text("42\n")
    elif how == "checkpoint":
        (bad / "checkpoint.npz").unlink()
    elif how == "data":
        f = world / "baddata" / "ratings.dat"
        f.write_text("".join(x for x in f.read_text().splitlines(keepends=True) if not x.startswith("1::")))
    elif how == "moved":
        shutil.rmtree(world / "baddata")
    return world


@pytest.mark.parametrize("name, args, expect, how", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_and_changes_nothing(world, name, args, expect, how, monkeypatch):
    monkeypatch.chdir(world)
    spoil(world, how)
    before = snapshot(world)
    r = CliRunner().invoke(cli, [a.replace("{w}", str(world)) for a in args])
    assert r.exit_code not in (0, None), r.stderr
    assert "Traceback" not in r.output
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    assert expect.replace("{w}", str(world)) in lines[0]
    assert snapshot(world) == before


@ro_only
@pytest.mark.parametrize("args, expect", [
    (["embed", "{w}/run", "--out", f"{RO}/u.npy"], f"--out: cannot write {RO}/u.npy (Permission denied)"),
    (["train", "--out", f"{RO}/run"], "--out: cannot write"),
    (["data", "synthesize", "--format", "yelp", "--out", f"{RO}/d"], "--out: cannot write"),
    (["golden", "export", f"{RO}/g"], "golden export: cannot write"),
    (["data", "download", "ml-100k"], "download: cannot write"),
])
def test_read_only_places_are_one_line(world, args, expect, monkeypatch):
    monkeypatch.setenv("TINYBT_HOME", str(RO / "tinybt"))
    before = snapshot(world)
    r = CliRunner().invoke(cli, [a.replace("{w}", str(world)) for a in args])
    assert r.exit_code == 2 and r.stderr.count("\n") == 1 and expect in r.stderr, r.stderr
    assert snapshot(world) == before


@pytest.mark.parametrize("args", [["probe", "{w}/ro"], ["train", "--resume", "{w}/ro"]])
def test_read_only_run_folder_is_one_line(world, args):
    # asked when the test runs, not at import: os.geteuid exists on POSIX only
    if not hasattr(os, "geteuid"):
        pytest.skip("no os.geteuid: not POSIX, where chmod 0o555 does not make a folder read-only")
    if os.geteuid() == 0:
        pytest.skip("root writes into read-only folders")
    ro = world / "ro"
    shutil.copytree(world / "run", ro, dirs_exist_ok=True)
    ro.chmod(0o555)
    try:
        r = CliRunner().invoke(cli, [a.replace("{w}", str(world)) for a in args])
    finally:
        ro.chmod(0o755)
    assert r.exit_code == 2 and r.stderr.count("\n") == 1 and "cannot write" in r.stderr, r.stderr


def test_golden_export_refuses_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "keep.txt").write_text("mine")
    for target in (".", str(tmp_path), ".."):
        r = CliRunner().invoke(cli, ["golden", "export", target, "--force"])
        assert r.exit_code == 2 and "current folder" in r.stderr, r.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


# ---- the top of the CLI ------------------------------------------------------------

def boom(*a, **k):
    raise ZeroDivisionError("division by zero")


def test_a_bug_is_one_line_unless_debug(monkeypatch):
    monkeypatch.setattr("tinybt.check.gradcheck.run_all", boom)
    r = CliRunner().invoke(cli, ["gradcheck"])
    assert r.exit_code == 1
    assert r.stderr == ("error: internal error: ZeroDivisionError: division by zero; "
                        "rerun with --debug for the traceback\n")
    r = CliRunner().invoke(cli, ["--debug", "gradcheck"])
    assert isinstance(r.exception, ZeroDivisionError)
    monkeypatch.setenv("TINYBT_DEBUG", "1")
    assert isinstance(CliRunner().invoke(cli, ["gradcheck"]).exception, ZeroDivisionError)


def test_os_errors_name_the_path(monkeypatch, tmp_path):
    def deny(*a, **k):
        raise PermissionError(13, "Permission denied", str(tmp_path / "x"))

    monkeypatch.setattr("tinybt.check.gradcheck.run_all", deny)
    r = CliRunner().invoke(cli, ["gradcheck"])
    assert r.exit_code == 2 and r.stderr == f"error: {tmp_path / 'x'}: Permission denied\n"


def tinybt(*args, **env):
    return subprocess.run([sys.executable, "-m", "tinybt", *map(str, args)], capture_output=True, text=True,
                          env=dict(os.environ, **env))


def test_debug_shows_the_traceback_in_a_real_process(tmp_path):
    p = tinybt("golden", "check", tmp_path)
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "Traceback" not in p.stderr
    for p in (tinybt("--debug", "golden", "check", tmp_path), tinybt("golden", "check", tmp_path, TINYBT_DEBUG="1")):
        assert p.returncode == 1 and "Traceback (most recent call last)" in p.stderr and "TinyBTError" in p.stderr


# a background job inherits an ignored SIGINT: the child puts Python's handler back itself
# (no preexec_fn: it does not exist on Windows and is unsafe with threads)
WITH_SIGINT = ("import signal, sys, runpy; signal.signal(signal.SIGINT, signal.default_int_handler); "
               "sys.argv = ['tinybt', *sys.argv[1:]]; runpy.run_module('tinybt', run_name='__main__')")


def test_ctrl_c_inside_a_compiled_kernel_is_still_ctrl_c(monkeypatch, capsys):
    """A Ctrl-C that lands while a Numba kernel runs comes back as SystemError ("returned a
    result with an exception set") caused by the KeyboardInterrupt: still "aborted", exit 130
    (test_ctrl_c_exits_130 hit this now and then, as an internal error)."""
    import tinybt.check.gradcheck
    from tinybt import cli as cli_module

    def interrupted(*args, **kwargs):
        raise SystemError("CPUDispatcher(<function k>) returned a result with an exception set") \
            from KeyboardInterrupt()
    monkeypatch.setattr(tinybt.check.gradcheck, "run_all", interrupted)
    monkeypatch.setattr(sys, "argv", ["tinybt", "gradcheck"])
    with pytest.raises(SystemExit) as exit_:
        cli_module.main()
    assert exit_.value.code == 130 and capsys.readouterr().err.rstrip().endswith("aborted")


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="Windows delivers no SIGINT to a child (only CTRL_C_EVENT "
                                                    "to a process group)")
def test_ctrl_c_exits_130(world, tmp_path):
    p = subprocess.Popen([sys.executable, "-c", WITH_SIGINT, "train", "--dataset", "synthetic", "--epochs", "50",
                          "--out", tmp_path / "r", "--no-probe"], stderr=subprocess.PIPE, text=True)
    try:
        wait_until((tmp_path / "r" / "metrics.jsonl").exists, p, "the first epoch of the run to interrupt")
        p.send_signal(signal.SIGINT)
        _, err = finish(p, "exit after Ctrl-C")
    finally:
        p.kill()
    assert p.returncode == 130 and err.rstrip().endswith("aborted"), err[-2000:]


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="Windows has no SIGTERM a process can catch (terminate() "
                                                    "is TerminateProcess)")
def test_sigterm_stops_like_ctrl_c_with_one_line_and_the_run_kept(tmp_path):
    """`kill`, `timeout` or a scheduler's SIGTERM: "terminated by SIGTERM", exit 143, no traceback,
    and the run folder keeps its last finished epoch to resume from."""
    run = tmp_path / "r"
    p = subprocess.Popen([sys.executable, "-m", "tinybt", "train", "--dataset", "synthetic", "--epochs", "50",
                          "--out", run, "--no-probe"], stderr=subprocess.PIPE, text=True)
    try:
        wait_until((run / "metrics.jsonl").exists, p, "the first epoch of the run to terminate")
        p.terminate()
        _, err = finish(p, "exit after SIGTERM")
    finally:
        p.kill()
    assert p.returncode == 128 + signal.SIGTERM and err.rstrip().endswith("terminated by SIGTERM"), err[-2000:]
    assert "Traceback" not in err and (run / "checkpoint.npz").is_file()


def test_main_catches_sigterm_and_sighup_only_where_they_are_not_ignored(monkeypatch):
    """Under `nohup` (SIGHUP ignored) tinybt must keep ignoring SIGHUP; the handlers are
    the process's own again once main() returns."""
    from tinybt import cli as cli_module

    stops = [getattr(signal, n) for n in ("SIGTERM", "SIGHUP") if hasattr(signal, n)]
    before = {s: signal.getsignal(s) for s in stops}
    seen = {}
    monkeypatch.setattr(cli_module, "cli", lambda **kw: seen.update({s: signal.getsignal(s) for s in stops}) or 0)
    try:
        if hasattr(signal, "SIGHUP"):
            signal.signal(signal.SIGHUP, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        with pytest.raises(SystemExit):
            cli_module.main()
        assert seen[signal.SIGTERM] is cli_module._terminate
        if hasattr(signal, "SIGHUP"):
            assert seen[signal.SIGHUP] is signal.SIG_IGN and signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    finally:
        for s, h in before.items():
            signal.signal(s, h)
