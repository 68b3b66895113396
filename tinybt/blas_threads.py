"""Run a block of code with single-threaded OpenBLAS.

A probe is thousands of tiny BLAS calls (a (48, 64) @ (64, 20) matmul, L-BFGS's
vector updates). OpenBLAS hands each to its thread pool, and the hand-off costs more
than the work — on a busy 2-core machine the threads spin against other processes
(benchmarks/bench_probe.py: 12.8 s multi-threaded vs 0.9 s single-threaded).
threadpoolctl does this in general; this is its small Linux/OpenBLAS part. Where no
OpenBLAS is found (other OS or BLAS) it does nothing.
"""

import contextlib
import ctypes

_NAMES = [(f"{p}_get_num_threads{s}", f"{p}_set_num_threads{s}")
          for p in ("scipy_openblas", "openblas") for s in ("64_", "")]


def _openblas_controls():
    """[(get, set)] for every OpenBLAS loaded in this process (numpy's and scipy's own copies)."""
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "openblas" in line.rsplit("/", 1)[-1].lower()}
    except OSError:
        return []
    controls = []
    for path in sorted(paths):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for get, set_ in _NAMES:
            if hasattr(lib, get) and hasattr(lib, set_):
                controls.append((getattr(lib, get), getattr(lib, set_)))
                break
    return controls


@contextlib.contextmanager
def single_threaded_blas():
    controls = _openblas_controls()
    before = [get() for get, _ in controls]
    for _, set_ in controls:
        set_(1)
    try:
        yield
    finally:
        for (_, set_), n in zip(controls, before):
            set_(n)
