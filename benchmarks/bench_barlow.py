"""Barlow Twins loss + gradient: Numba kernel vs NumPy reference vs PyTorch autograd.

    python benchmarks/bench_barlow.py            # full table, float32
    python benchmarks/bench_barlow.py --quick    # small sizes, few repeats

Median wall time per call (forward + both gradients) over repeated runs in one
process, after a warm-up call (Numba compilation, allocator, thread pools).
Ratios are reference time / that time: > 1 means faster than the reference.
"""

import argparse
import time

import numpy as np

from tinybt.losses.barlow import barlow_twins_loss, barlow_twins_loss_reference

SIZES = [(64, 256), (256, 1024), (512, 2048), (1024, 8192)]
LAMBD = 5e-3


def median_time(fn, repeats):
    fn()                                     # warm-up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def torch_fn(z1, z2):
    """BT loss + grads by autograd, as a PyTorch user would write it; None without torch."""
    try:
        import torch
    except ImportError:
        return None
    t1, t2 = torch.from_numpy(z1), torch.from_numpy(z2)
    bn = torch.nn.BatchNorm1d(z1.shape[1], affine=False, eps=1e-5)

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
    args = ap.parse_args()
    sizes = SIZES[:2] if args.quick else SIZES
    repeats = args.repeats or (3 if args.quick else 7)

    rng = np.random.default_rng(0)
    rows = []
    for n, p in sizes:
        z1 = rng.standard_normal((n, p), dtype=np.float32)
        z2 = (z1 + 0.5 * rng.standard_normal((n, p), dtype=np.float32)).astype(np.float32)
        ref = median_time(lambda: barlow_twins_loss_reference(z1, z2, LAMBD), repeats)
        ker = median_time(lambda: barlow_twins_loss(z1, z2, LAMBD), repeats)
        tf = torch_fn(z1, z2)
        tor = median_time(tf, repeats) if tf else None
        rows.append((n, p, ref, ker, tor))

    print(f"float32, λ = {LAMBD}, median of {repeats} runs; ratio = NumPy reference time / time\n")
    print("| N | P | NumPy reference ms | Numba kernel ms | ratio | PyTorch autograd ms | ratio | kernel vs torch |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n, p, ref, ker, tor in rows:
        t = f"{tor * 1e3:.2f} | {ref / tor:.2f} | {tor / ker:.2f}x" if tor else "n/a | n/a | n/a"
        print(f"| {n} | {p} | {ref * 1e3:.2f} | {ker * 1e3:.2f} | {ref / ker:.2f} | {t} |")


if __name__ == "__main__":
    main()
