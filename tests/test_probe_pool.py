"""The probe pool (spawned workers, memory-mapped arrays), a worker that dies, and the progress line."""

import io
import os
import signal
import time

import numpy as np
import pytest
import scipy.sparse

from tinybt.errors import TinyBTError
from tinybt.probe.pool import load_shared, run_tasks, save_shared
from tinybt.progress import Progress


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


@pytest.mark.parametrize("jobs", [1, 2])
def test_spawned_workers_give_the_in_process_results_in_task_order(jobs):
    ticks, done = [], []
    got = run_tasks(_row_sum, _shared(), list(range(6)), [f"row {i}" for i in range(6)], jobs,
                    lambda i, n: ticks.append(n), lambda i, r: done.append(i))
    shared = _shared()
    assert got == [float(shared["dense"][i].sum() + shared["sparse"][i].sum()) for i in range(6)]
    assert sum(ticks) == 6 and sorted(done) == list(range(6))


def test_a_worker_error_reaches_the_caller():
    with pytest.raises(TinyBTError, match="task 1 went wrong"):
        run_tasks(_fail_on_1, {}, [0, 1, 2], ["a", "b", "c"], 2, lambda *a: None, lambda *a: None)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="no SIGKILL on this platform")
def test_a_killed_worker_ends_the_run_within_seconds_naming_task_cause_and_flag():
    t0 = time.monotonic()
    with pytest.raises(TinyBTError) as e:
        run_tasks(_die_on_2, {}, list(range(6)), [f"(arm, run 1, task {i})" for i in range(6)], 2,
                  lambda *a: None, lambda *a: None)
    assert time.monotonic() - t0 < 30, "a dead worker must not leave the parent waiting"
    msg = str(e.value)
    assert "(arm, run 1, task 2)" in msg and "SIGKILL" in msg and "memory" in msg and "--jobs 1" in msg
    assert "\n" not in msg


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
