"""Windows, emulated: the default `tinybt train` (probes included, --jobs 2) where fork does not exist.

The launcher makes spawn the default start method and makes every way to ask for fork
fail (get_context("fork"), set_start_method("fork"), os.fork), as on Windows; then it
runs the CLI. The run's results.json must hold the numbers of a normal run.
"""

import json
import subprocess
import sys
import textwrap

import pytest

LAUNCHER = textwrap.dedent("""
    import multiprocessing, os, sys
    multiprocessing.set_start_method("spawn", force=True)
    _get_context, _set = multiprocessing.get_context, multiprocessing.set_start_method

    def get_context(method=None):
        if method == "fork":
            raise ValueError("cannot find context for 'fork'")
        return _get_context(method)

    def set_start_method(method, force=False):
        if method == "fork":
            raise ValueError("cannot find context for 'fork'")
        return _set(method, force)

    multiprocessing.get_context, multiprocessing.set_start_method = get_context, set_start_method
    if hasattr(os, "fork"):
        del os.fork
    if __name__ == "__main__":          # spawned children import this file too: patch, don't run
        from tinybt.cli import main
        sys.argv = ["tinybt"] + sys.argv[1:]
        main()
""")

ARGS = ["train", "--dataset", "synthetic", "--epochs", "1", "--batch-size", "64", "--dim", "16", "--max-len", "12",
        "--projector", "32-32"]


def _train(tmp_path, name, launcher=None):
    out = tmp_path / name
    cmd = [sys.executable, str(launcher)] if launcher else [sys.executable, "-m", "tinybt"]
    p = subprocess.run(cmd + ARGS + ["--out", str(out)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr[-3000:]
    return json.loads((out / "results.json").read_text(encoding="utf-8")), p.stderr


@pytest.mark.slow
def test_train_and_probe_without_fork_give_the_normal_results(tmp_path):
    launcher = tmp_path / "windows_like.py"
    launcher.write_text(LAUNCHER, encoding="utf-8")
    check = subprocess.run([sys.executable, str(launcher), "--version"], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    emulated, err = _train(tmp_path, "spawn", launcher)
    normal, _ = _train(tmp_path, "normal")
    assert "probes (" in err and "ETA" in err
    assert emulated["results"] == normal["results"]
    # the default probe: the encoder output and the reference rows (the projector output is opt-in)
    assert set(normal["results"]["probe"]["mainstream"]["rows"]) == \
        {"Barlow Twins (gru)", "untrained encoder", "bag of items", "bag of items (last max_len)", "majority"}
