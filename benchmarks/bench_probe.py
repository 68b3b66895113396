"""Linear probe wall time: the probe that ends every training run must take seconds.

    python benchmarks/bench_probe.py            # U = 1000 and 6000 users
    python benchmarks/bench_probe.py --quick    # U = 1000 only

One "probe" = 3 tasks (20, 2 and 2 classes) × fractions (1 %, 10 %, 100 %) × 5 label
seeds × 5 folds × (3 inner folds × 5 L2 values + 1) fits on the report pool of U users
× 64 dims (80/10/10 split; docs/protocol.md), plus the bag-of-items row on a sparse
U × 1700 history matrix. The reference for the dense rows is the same probe with BLAS
left multi-threaded (the probe limits it to one thread with threadpoolctl: thousands of
tiny matmuls, where thread hand-offs cost more than they save); ratio = reference / probe.
"""

import argparse
import contextlib
import time

import numpy as np

from tinybt.probe import bag_of_items, linear_probe, probe

D, V, TASKS = 64, 1700, (20, 2, 2)


def synthetic(U, rng):
    split = rng.choice(3, size=U, p=[0.8, 0.1, 0.1]).astype(np.int8)
    tasks = []
    for K in TASKS:
        y = rng.integers(0, K, size=U)
        X = (0.3 * rng.standard_normal((K, D))[y] + rng.standard_normal((U, D))).astype(np.float32)
        tasks.append((X, y))
    lengths = rng.integers(5, 200, size=U)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    items = rng.integers(1, V + 1, size=offsets[-1]).astype(np.int32)
    return split, tasks, bag_of_items(items, offsets, V)


def dense_probes(split, tasks):
    t = time.perf_counter()
    for X, y in tasks:
        probe(X, y, split)
    return time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    sizes = (1000,) if ap.parse_args().quick else (1000, 6000)
    print(f"{'users':>6} {'rows':<22} {'probe s':>8} {'multi-thread BLAS s':>20} {'ratio':>6}")
    for U in sizes:
        split, tasks, bag = synthetic(U, np.random.default_rng(0))
        fast = dense_probes(split, tasks)
        limiter = linear_probe.threadpool_limits
        linear_probe.threadpool_limits = lambda n: contextlib.nullcontext()
        try:
            ref = dense_probes(split, tasks)
        finally:
            linear_probe.threadpool_limits = limiter
        print(f"{U:>6} {f'3 tasks x {D} dims':<22} {fast:8.2f} {ref:20.2f} {ref / fast:6.1f}")
        t = time.perf_counter()
        for _, y in tasks:
            probe(bag, y, split)
        print(f"{U:>6} {f'bag of items ({V})':<22} {time.perf_counter() - t:8.2f}")


if __name__ == "__main__":
    main()
