"""Barlow Twins loss + gradient: the Numba kernel (fast path) vs the NumPy reference vs PyTorch autograd.

    python benchmarks/bench_barlow.py            # full table, float32
    python benchmarks/bench_barlow.py --quick    # small sizes, few repeats
    python benchmarks/bench_barlow.py --one-thread   # OpenBLAS, Numba and torch on one thread each

Median wall time per call (forward + both gradients) over repeated runs in one
process, after a warm-up call (Numba compilation, allocator, thread pools). The
implementations take turns within each repeat, so load from other processes hits
them alike. Speed-ups are reference time / that time (> 1: faster than the NumPy reference);
"kernel vs torch" is torch time / kernel time (> 1: the kernel is faster).
"""

import argparse
import contextlib
import os
import time

import numba
import numpy as np
from threadpoolctl import threadpool_limits

from tinybt.backend import use_backend
from tinybt.losses.barlow import barlow_twins_backward, barlow_twins_forward

SIZES = [(64, 256), (256, 1024), (512, 2048), (1024, 8192)]
LAMBD = 5e-3


def median_times(fns, repeats):
    """{name: median seconds}, the functions interleaved within each repeat."""
    for fn in fns.values():
        fn()                                 # warm-up
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    return {name: float(np.median(ts)) for name, ts in times.items()}


def tinybt_fn(z1, z2, backend):
    """BT loss forward + backward on one path of tinybt/backend.py."""
    def run():
        with use_backend(backend):
            _, cache = barlow_twins_forward(z1, z2, LAMBD)
            return barlow_twins_backward(1.0, cache)
    return run


def torch_fn(z1, z2):
    """BT loss + grads by autograd, as a PyTorch user would write it; None without torch."""
    try:
        import torch
    except ImportError:
        return None
    t1, t2 = torch.from_numpy(z1), torch.from_numpy(z2)

    def bn(x):                               # BatchNorm1d(affine=False), training mode, no running stats
        return torch.nn.functional.batch_norm(x, None, None, training=True, eps=1e-5)

    def run():
        a, b = t1.clone().requires_grad_(), t2.clone().requires_grad_()
        c = bn(a).T @ bn(b) / a.shape[0]
        on = (torch.diagonal(c) - 1).pow(2).sum()
        off = c.pow(2).sum() - torch.diagonal(c).pow(2).sum()
        (on + LAMBD * off).backward()
        return a.grad, b.grad
    return run


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="two small sizes, 3 repeats")
    ap.add_argument("--repeats", type=int, default=None, help="timed runs per size (default 3 quick / 7)")
    ap.add_argument("--one-thread", action="store_true",
                    help="one thread for every library (steadier on a busy machine; how tinybt trains)")
    args = ap.parse_args()
    if args.one_thread:
        numba.set_num_threads(1)
        with contextlib.suppress(ImportError):
            import torch
            torch.set_num_threads(1)
    with threadpool_limits(1, user_api="blas") if args.one_thread else contextlib.nullcontext():
        run(args)


def run(args):
    sizes = SIZES[:2] if args.quick else SIZES
    repeats = args.repeats or (3 if args.quick else 7)

    rng = np.random.default_rng(0)
    rows = []
    for n, p in sizes:
        z1 = rng.standard_normal((n, p), dtype=np.float32)
        z2 = (z1 + 0.5 * rng.standard_normal((n, p), dtype=np.float32)).astype(np.float32)
        fns = {"ref": tinybt_fn(z1, z2, "reference"), "kernel": tinybt_fn(z1, z2, "fast")}
        if (tf := torch_fn(z1, z2)) is not None:
            fns["torch"] = tf
        t = median_times(fns, repeats)
        rows.append((n, p, t["ref"], t["kernel"], t.get("torch")))

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    threads = "one thread" if args.one_thread else f"{os.cpu_count()} CPUs"
    print(f"float32, λ = {LAMBD}, median of {repeats} runs, {threads}, load average {load}; "
          "speed-up = reference time / time\n")
    print("| N | P | NumPy reference ms | Numba kernel ms | kernel speed-up | PyTorch autograd ms "
          "| torch speed-up | kernel vs torch |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n, p, ref, ker, tor in rows:
        t = f"{tor * 1e3:.2f} | {ref / tor:.2f}x | {tor / ker:.2f}x" if tor else "n/a | n/a | n/a"
        print(f"| {n} | {p} | {ref * 1e3:.2f} | {ker * 1e3:.2f} | {ref / ker:.2f}x | {t} |")

if __name__ == "__main__":
    main()
