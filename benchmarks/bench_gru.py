"""GRU forward + backward: the fast path (packed, Numba time loop) vs the NumPy reference (masked loop) vs torch.nn.GRU.

    python benchmarks/bench_gru.py            # B=128 and 256 (training), T=50, D=H=64, a smaller size; float32
    python benchmarks/bench_gru.py --quick    # the small size only, few repeats

Median wall time per forward + backward over repeated runs in one process, after a
warm-up call (Numba compilation, allocator, thread pools). Ragged lengths, seeded.
Ratios are NumPy-reference time / that time: > 1 means faster than the reference.
PyTorch runs the same maths (pack_padded_sequence -> nn.GRU -> pad_packed_sequence, autograd).

Everything runs single-threaded (OPENBLAS_NUM_THREADS=1 unless set, torch.set_num_threads(1)):
the per-step matmuls are tiny, and OpenBLAS threads spinning on a shared 2-core
machine made them up to 100x slower than one thread.
"""

import argparse
import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")   # before numpy loads OpenBLAS

import numpy as np  # noqa: E402

from tinybt.backend import use_backend  # noqa: E402
from tinybt.nn.gru import gru_backward, gru_forward, gru_init  # noqa: E402

SIZES = [(32, 20, 32, 32), (128, 50, 64, 64), (256, 50, 64, 64)]   # (B, T, D, H); the last = training


def median_time(fn, repeats):
    fn()                                     # warm-up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def tinybt_fn(x, lengths, params, dout, backend):
    def run():
        with use_backend(backend):
            _, cache = gru_forward(x, lengths, params)
            return gru_backward(dout, cache)
    return run


def torch_fn(x, lengths, params, dout):
    """The same forward + backward with torch autograd; None without torch."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    B, T, D = x.shape
    gru = torch.nn.GRU(D, params["weight_hh_l0"].shape[1], batch_first=True)
    gru.load_state_dict({k: torch.from_numpy(v) for k, v in params.items()})
    xt, lt, dt = torch.from_numpy(x), torch.from_numpy(lengths), torch.from_numpy(dout)

    def run():
        xg = xt.clone().requires_grad_()
        gru.zero_grad()
        packed = torch.nn.utils.rnn.pack_padded_sequence(xg, lt, batch_first=True, enforce_sorted=False)
        out, _ = torch.nn.utils.rnn.pad_packed_sequence(gru(packed)[0], batch_first=True, total_length=T)
        (out * dt).sum().backward()
        return xg.grad
    return run


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="the small size only, 3 repeats")
    ap.add_argument("--repeats", type=int, default=None, help="timed runs per size (default 3 quick / 9)")
    args = ap.parse_args()
    sizes = SIZES[:1] if args.quick else SIZES
    repeats = args.repeats or (3 if args.quick else 9)

    rng = np.random.default_rng(0)
    rows = []
    for B, T, D, H in sizes:
        x = rng.standard_normal((B, T, D), dtype=np.float32)
        lengths = rng.integers(1, T + 1, size=B)
        params = gru_init(rng, D, H, np.float32)
        dout = rng.standard_normal((B, T, H), dtype=np.float32)
        ref = median_time(tinybt_fn(x, lengths, params, dout, "reference"), repeats)
        ker = median_time(tinybt_fn(x, lengths, params, dout, "fast"), repeats)
        tf = torch_fn(x, lengths, params, dout)
        tor = median_time(tf, repeats) if tf else None
        rows.append((B, T, D, H, ref, ker, tor))

    print(f"GRU forward + backward, float32, ragged lengths, median of {repeats} runs; "
          "ratio = NumPy reference time / time\n")
    print("| B | T | D | H | NumPy reference ms | fast path ms | ratio | torch.nn.GRU ms | ratio |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for B, T, D, H, ref, ker, tor in rows:
        t = f"{tor * 1e3:.2f} | {ref / tor:.2f}" if tor else "n/a | n/a"
        print(f"| {B} | {T} | {D} | {H} | {ref * 1e3:.2f} | {ker * 1e3:.2f} | {ref / ker:.2f} | {t} |")


if __name__ == "__main__":
    main()
