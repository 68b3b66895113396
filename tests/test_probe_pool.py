"""The probe pool (spawned workers, memory-mapped arrays), a worker that dies, and the progress line
(including the probes' bar of estimated seconds, computed or read from the memo)."""

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse

from tinybt.errors import TinyBTError
from tinybt.probe import evaluate
from tinybt.probe.pool import load_shared, run_tasks, save_shared, shared_folder
from tinybt.progress import Progress
from wait_helpers import GENEROUS, wait_until


def _row_sum(shared, task, tick):
    """A top-level task (spawn pickles it by name): the sum of one row of each shared array."""
    tick(1)
    return float(np.asarray(shared["dense"][task]).sum() + shared["sparse"][task].sum())


def _die_on_2(shared, task, tick):
    if task == 2:
        os.kill(os.getpid(), signal.SIGKILL)      # what the OOM killer does
    time.sleep(0.2)
    return task


def _fail_on_1(shared, task, tick):
    if task == 1:
        raise TinyBTError("task 1 went wrong")
    return task


def _shared():
    rng = np.random.default_rng(0)
    return {"dense": rng.standard_normal((6, 3)).astype(np.float32),
            "sparse": scipy.sparse.random(6, 40, density=0.2, format="csr", random_state=1)}


def test_shared_arrays_round_trip_through_memory_mapped_files(tmp_path):
    shared = _shared()
    save_shared(tmp_path, shared)
    back = load_shared(tmp_path)
    assert isinstance(back["dense"], np.memmap) and back["dense"].dtype == np.float32
    assert np.array_equal(back["dense"], shared["dense"])
    assert scipy.sparse.issparse(back["sparse"]) and (back["sparse"] != shared["sparse"]).nnz == 0


def test_a_shared_folder_takes_the_arrays_out_of_the_callers_hands_and_is_removed_after():
    arrays = _shared()
    with shared_folder(arrays) as folder:
        assert arrays == {}, "the caller's copies must go: the workers read the files"
        back = load_shared(folder)
        assert np.array_equal(back["dense"], _shared()["dense"]) and (back["sparse"] != _shared()["sparse"]).nnz == 0
        del back
    assert not Path(folder).exists()


@pytest.mark.parametrize("jobs", [1, 2])
def test_spawned_workers_give_the_in_process_results_in_task_order(jobs):
    ticks, done = [], []
    with shared_folder(_shared()) as folder:
        got = run_tasks(_row_sum, folder, list(range(6)), [f"row {i}" for i in range(6)], jobs,
                        lambda i, n: ticks.append(n), lambda i, r: done.append(i))
    shared = _shared()
    assert got == [float(shared["dense"][i].sum() + shared["sparse"][i].sum()) for i in range(6)]
    assert sum(ticks) == 6 and sorted(done) == list(range(6))


def test_a_worker_error_reaches_the_caller():
    with pytest.raises(TinyBTError, match="task 1 went wrong"), shared_folder({}) as folder:
        run_tasks(_fail_on_1, folder, [0, 1, 2], ["a", "b", "c"], 2, lambda *a: None, lambda *a: None)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="no SIGKILL on this platform")
def test_a_killed_worker_ends_the_run_within_seconds_naming_task_cause_and_flag():
    t0 = time.monotonic()
    with pytest.raises(TinyBTError) as e, shared_folder({}) as folder:
        run_tasks(_die_on_2, folder, list(range(6)), [f"(arm, run 1, task {i})" for i in range(6)], 2,
                  lambda *a: None, lambda *a: None)
    assert time.monotonic() - t0 < 30, "a dead worker must not leave the parent waiting"
    msg = str(e.value)
    assert "(arm, run 1, task 2)" in msg and "SIGKILL" in msg and "memory" in msg and "--jobs 1" in msg
    assert "\n" not in msg


def _sleep_long(shared, task, tick):
    """A task that outlasts any test: it says it has started (its pid in file `task`), then sleeps."""
    Path(task).write_text(str(os.getpid()), encoding="utf-8")
    time.sleep(3 * GENEROUS)


def test_workers_do_not_outlive_a_parent_killed_before_it_could_stop_them(tmp_path):
    """Popen.kill (SIGKILL, TerminateProcess) gives the parent no chance to stop its workers.
    They hold its stdout open, so the pipe ends only when they have exited too."""
    files = [str(tmp_path / f"worker{i}") for i in range(2)]
    code = (f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
            "from tinybt.probe.pool import run_tasks, shared_folder\nfrom test_probe_pool import _sleep_long\n"
            "with shared_folder({}) as folder:\n"
            f"    run_tasks(_sleep_long, folder, {files!r}, ['a', 'b'], 2, lambda *a: None, lambda *a: None)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wait_until(lambda: all(Path(f).is_file() and Path(f).read_text(encoding="utf-8") for f in files), proc,
               "both workers running a task")
    proc.kill()
    try:
        proc.communicate(timeout=GENEROUS)
    except subprocess.TimeoutExpired:
        for f in files:
            os.kill(int(Path(f).read_text(encoding="utf-8")), signal.SIGTERM)
        pytest.fail("the workers of a killed parent were still running after the bound")


class _Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def test_progress_prints_plain_lines_off_a_terminal_with_an_eta():
    out, clock = io.StringIO(), _Clock()
    with Progress(100, "probes", file=out, clock=clock) as bar:
        bar.update(10, "a")             # first line at once
        clock.t = 5.0
        bar.update(40, "b")             # within PLAIN_EVERY: no line
        clock.t = 20.0
        bar.update(25, "c")             # 75 % in 20 s: 0:07 left
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue() and len(lines) == 3
    assert lines[0].startswith("probes [##") and "10%" in lines[0] and lines[0].endswith("a")
    assert "75%" in lines[1] and "ETA 0:07" in lines[1]
    assert "100%" in lines[2] and "ETA 0:00" in lines[2]


def test_progress_redraws_one_line_on_a_terminal():
    class Tty(io.StringIO):
        def isatty(self):
            return True
    out, clock = Tty(), _Clock()
    bar = Progress(4, "retrieval", file=out, clock=clock)
    for _ in range(4):
        clock.t += 1.0
        bar.update(1)
    bar.close()
    text = out.getvalue()
    assert text.count("\r") == 5 and text.count("\n") == 1 and text.endswith("\n")


class _Bar:
    """Records what evaluate._probes asks of its progress bar."""
    made = []

    def __init__(self, total, label, show=True):
        self.total, self.done = total, 0.0
        _Bar.made.append(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass

    def update(self, n, status=""):
        self.done += n


def test_the_probe_bar_ends_full_computed_or_from_the_memo_and_the_costliest_probe_goes_first(monkeypatch, tmp_path):
    """The bar counts estimated seconds: the ticks of every part add up to its total, whether
    the fits ran (a tick per fit) or came from the memo (one tick for all); the sparse bag of
    items over many items is estimated costliest and handed out first."""
    monkeypatch.setenv("TINYBT_PROBE_CACHE", "1")
    monkeypatch.setenv("TINYBT_HOME", str(tmp_path))
    monkeypatch.setattr(evaluate, "Progress", _Bar)
    order = []
    monkeypatch.setattr(evaluate, "run_tasks", lambda fn, folder, work, names, *a: order.append(names) or
                        run_tasks(fn, folder, work, names, *a))
    rng = np.random.default_rng(0)
    U, y = 200, rng.integers(0, 3, size=200)
    arms = {"dense": [{"features": rng.standard_normal((U, 4)) + y[:, None]}],
            "bag": [{"features": scipy.sparse.random(U, 5000, density=0.1, format="csr", random_state=2)}]}
    kw = dict(pool="test", folds=3, label_fractions=(0.1, 1.0), seeds=2, seed=0)
    split = rng.choice(3, size=U, p=[0.6, 0.2, 0.2])
    _Bar.made.clear()
    arrays = evaluate.probe_arrays(arms, {"t": y}, split)
    for _ in range(2):                                 # computed, then every part from the memo
        with shared_folder(dict(arrays)) as folder:
            evaluate._probes(folder, {"dense": 1, "bag": 1}, ["t"], kw, 1, echo=None)
    assert len(list((tmp_path / "probes").glob("*.npz"))) == 4
    for bar in _Bar.made:
        assert bar.done == pytest.approx(bar.total, rel=1e-12) and bar.total > 0
    assert order[0][:2] == ["(bag, run 1, t, 100% labels)", "(bag, run 1, t, 10% labels)"]
