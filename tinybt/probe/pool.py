"""Run probe tasks on worker processes that work under every start method (spawn everywhere).

Why processes and spawn: a probe is thousands of small L-BFGS fits whose Python overhead
holds the GIL, so threads do not scale (benchmarks/README.md, "Probes"); fork is missing on
Windows and unsafe on macOS once Numba or BLAS have started threads. So workers are spawned,
and `fn` must be a top-level function: fn(shared, task, tick) -> picklable result, where
tick(units) reports progress inside a task.

The shared arrays (dense ndarrays or CSR matrices) are moved once to a temporary folder of
.npy files (`shared_folder`) and every process memory-maps them: one copy in the page cache,
not one per worker nor one left in the parent, and nothing is pickled per task except the
small task tuple and its result.

A worker that dies (the OOM killer's SIGKILL, a crash) is seen at once through its process
sentinel: the command stops with one line naming the task, the likely cause and `--jobs 1`,
instead of waiting forever for a result that will never come. Workers ignore Ctrl-C; the
parent stops them, so an interrupted probe leaves no process behind. A parent that dies
without stopping them (SIGKILL, SIGTERM, a closed terminal) is seen the same way from the
other side: each worker watches its parent's sentinel and exits at once, instead of fitting
on for hours with nobody to report to.
"""

import multiprocessing
import os
import pickle
import signal
import tempfile
import threading
from contextlib import contextmanager
from multiprocessing.connection import wait
from pathlib import Path

import numpy as np
import scipy.sparse

from tinybt.errors import TinyBTError

_CSR = ("data", "indices", "indptr")


def save_shared(folder, shared):
    """{name: ndarray or sparse matrix} -> .npy files in `folder` (CSR as three arrays + shape)."""
    for i, (name, value) in enumerate(shared.items()):
        if scipy.sparse.issparse(value):
            value = scipy.sparse.csr_matrix(value)
            for part in _CSR:
                np.save(Path(folder) / f"{i}.{part}.npy", getattr(value, part))
            np.save(Path(folder) / f"{i}.shape.npy", np.array(value.shape))
        else:
            np.save(Path(folder) / f"{i}.npy", np.asarray(value))
    (Path(folder) / "names.txt").write_text("\n".join(shared), encoding="utf-8")


def load_shared(folder):
    """The inverse of save_shared, memory-mapped (read-only)."""
    folder = Path(folder)
    out = {}
    for i, name in enumerate((folder / "names.txt").read_text(encoding="utf-8").splitlines()):
        if (folder / f"{i}.npy").exists():
            out[name] = np.load(folder / f"{i}.npy", mmap_mode="r")
        else:
            parts = [np.load(folder / f"{i}.{p}.npy", mmap_mode="r") for p in _CSR]
            out[name] = scipy.sparse.csr_matrix(tuple(parts), shape=tuple(np.load(folder / f"{i}.shape.npy")))
    return out


@contextmanager
def shared_folder(arrays):
    """Move `arrays` ({name: ndarray or sparse matrix}) to a temporary folder (save_shared) and
    yield the folder; it is removed on exit. The dict is emptied once the files are written:
    dropping this process's copies is the point (at ML-20M size the features are ~0.3 GB,
    which the parent would otherwise hold beside every worker's maps for the whole probe)."""
    with tempfile.TemporaryDirectory(prefix="tinybt-probe-", ignore_cleanup_errors=True) as folder:
        save_shared(folder, arrays)
        arrays.clear()
        yield folder


def _portable(e):
    """The worker's exception if it survives pickling, else a RuntimeError with its text."""
    try:
        pickle.dumps(e)
        return e
    except Exception:
        return RuntimeError(f"{type(e).__name__}: {e}")


def _exit_with_parent():
    wait([multiprocessing.parent_process().sentinel])
    os._exit(1)             # no cleanup to run: results have nowhere to go


def _worker(folder, conn, fn):
    signal.signal(signal.SIGINT, signal.SIG_IGN)      # Ctrl-C is the parent's to handle
    threading.Thread(target=_exit_with_parent, daemon=True).start()
    shared = load_shared(folder)
    while (msg := conn.recv()) is not None:
        i, task = msg
        try:
            conn.send(("done", i, fn(shared, task, lambda units: conn.send(("tick", i, units)))))
        except Exception as e:
            conn.send(("error", i, _portable(e)))


def _death(process, name):
    process.join(5)
    code = process.exitcode
    how = f"was killed by {signal.Signals(-code).name}" if code is not None and code < 0 and \
        -code in signal.valid_signals() else f"exited with code {code}"
    return TinyBTError(f"probe worker for {name} {how}; the likely cause is running out of memory "
                       f"(the OOM killer): rerun with --jobs 1 to hold one probe in memory at a time")


class _Worker:
    def __init__(self, ctx, folder, fn):
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_worker, args=(folder, child, fn), daemon=True)
        self.process.start()
        child.close()
        self.task = None


def run_tasks(fn, folder, tasks, names, jobs, on_tick, on_done):
    """fn(load_shared(folder), task, tick) for every task, on min(jobs, len(tasks)) spawned
    workers (in this process when jobs == 1). on_tick(i, units) relays progress, on_done(i,
    result) each result as it arrives (any order). Returns the results in task order."""
    results = [None] * len(tasks)
    if jobs == 1 or len(tasks) <= 1:
        shared = load_shared(folder)
        for i, task in enumerate(tasks):
            results[i] = fn(shared, task, lambda units, i=i: on_tick(i, units))
            on_done(i, results[i])
        return results
    ctx = multiprocessing.get_context("spawn")
    workers = [_Worker(ctx, folder, fn) for _ in range(min(jobs, len(tasks)))]
    todo = iter(range(len(tasks)))
    try:
        for w in workers:
            _assign(w, todo, tasks, names)
        while any(w.task is not None for w in workers):
            busy = [w for w in workers if w.task is not None]
            wait([w.conn for w in busy] + [w.process.sentinel for w in busy])
            for w in busy:
                _drain(w, todo, tasks, names, results, on_tick, on_done)
    finally:
        for w in workers:
            if w.process.is_alive() and w.task is not None:
                w.process.terminate()
            w.process.join(5)
            w.conn.close()
    return results


def _assign(w, todo, tasks, names):
    w.task = next(todo, None)
    try:
        w.conn.send(None if w.task is None else (w.task, tasks[w.task]))
    except OSError:                         # the worker is gone (BrokenPipeError, ConnectionResetError)
        if w.task is not None:
            raise _death(w.process, names[w.task]) from None
        w.task = None


def _drain(w, todo, tasks, names, results, on_tick, on_done):
    """Handle everything worker w has sent; a worker gone mid-task is an error naming the task."""
    while w.task is not None and w.conn.poll():
        try:
            kind, i, value = w.conn.recv()
        except EOFError:
            raise _death(w.process, names[w.task]) from None
        if kind == "tick":
            on_tick(i, value)
        elif kind == "error":
            raise value
        else:
            results[i] = value
            on_done(i, value)
            _assign(w, todo, tasks, names)
    if w.task is not None and not w.process.is_alive():
        raise _death(w.process, names[w.task])
