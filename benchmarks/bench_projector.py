"""One Barlow Twins training step against the projector width P, at ML-1M scale.

    python benchmarks/bench_projector.py                 # P = 256, 1024, 4096, 8192 at B = 128 and 256
    python benchmarks/bench_projector.py --quick         # P = 256, 1024 at B = 128

A step is what `tinybt train` does per batch (minus drawing it): both views through the
GRU encoder (3,706 items, D = 64, T = 50, ragged lengths), the projector P-P-P on each
view, the Barlow Twins loss and its gradient, the backward pass and AdamW, float32, BLAS
on one thread as in training. With B < P the loss kernel (tinybt/kernels/barlow.py)
works through the B×B Gram matrices and never forms the P×P cross-correlation; the
P×P weights of the projector's two hidden Linear layers, their gradients and Adam's two
moments are what grow as P². Columns: median wall time per step and the part of it in
AdamW (all parameters); peak = the most NumPy memory allocated during one step
(tracemalloc) on top of the parameters and Adam state, which stay resident.

Measured on the shared 2-core machine (load average about 2 at the start, other jobs
running; wall times are noisy, ±30 % between runs), `python benchmarks/bench_projector.py`:

    | B | P | ms per step | of it AdamW | params + Adam state MiB | peak during a step MiB |
    |---:|---:|---:|---:|---:|---:|
    | 128 | 256 | 62 | 1 | 5 | 31 |
    | 128 | 1,024 | 140 | 7 | 28 | 52 |
    | 128 | 4,096 | 956 | 128 | 390 | 425 |
    | 128 | 8,192 | 5547 | 667 | 1,545 | 1,606 |
    | 256 | 256 | 108 | 1 | 5 | 64 |
    | 256 | 1,024 | 241 | 9 | 28 | 88 |
    | 256 | 4,096 | 1592 | 139 | 390 | 461 |
    | 256 | 8,192 | 7634 | 552 | 1,545 | 1,669 |

The peak during a step is mostly the projector's weight gradients: each view's P×P
gradient of each hidden Linear and their sum (tinybt/params.py add_grads), 3·P² floats
per layer. The loss itself adds 2·B² (the Gram matrices) where the P×P path needs C and
G (2·P²: 512 MiB at P = 8192). At P ≥ 4096 the step is the projector's GEMMs on one BLAS
thread (training keeps BLAS on one thread; tinybt/kernels/linear.py only splits GEMMs
of ≥ 1024 rows over the Numba threads, and a projector GEMM has B rows), so the second
core is idle there.

The whole run at that width fits: on ML-1M pairs (file order, no ratings), 6,040 users,

    /usr/bin/time -v tinybt train --dataset ml-1m --data-dir $TINYBT_DATA/ml-1m-pairs \
        --projector 8192-8192-8192 --batch-size 256 --epochs 1 --no-probe --out RUN

trained its 23 steps (loss and diagnostics finite) with a maximum resident set of
4.3 GB (4,340,780 kB), the 1.6 GB checkpoint included; 622 s for the epoch on a machine
loaded to 13 (the process got 33 % of one CPU), so that time says nothing of the speed.
"""

import argparse
import os
import time
import tracemalloc

import numpy as np
from threadpoolctl import threadpool_limits

from bench_step import median_times
from tinybt.models.barlow_model import barlow_backward, barlow_forward, barlow_init
from tinybt.models.encoder import EncoderConfig
from tinybt.optim import AdamW
from tinybt.run.config import TrainConfig

D, T, N_ITEMS = 64, 50, 3706
WIDTHS = [256, 1024, 4096, 8192]


def view(rng, b):
    """ids (b, T) in 1..V right-padded with 0, lengths (b,) in 1..T."""
    lengths = rng.integers(1, T + 1, size=b)
    ids = rng.integers(1, N_ITEMS + 1, size=(b, T))
    return np.where(np.arange(T) < lengths[:, None], ids, 0), lengths


def make_step(b, p, rng):
    """-> (step function that records its AdamW time in `adam`, bytes of parameters + Adam state)."""
    cfg = TrainConfig(batch_size=b, projector=f"{p}-{p}-{p}").validate()
    enc = EncoderConfig("gru", N_ITEMS, D, cfg.layers, cfg.heads, T, cfg.pooling)
    params, buffers = barlow_init(rng, enc, cfg.projector_dims())
    views = (view(rng, b), view(rng, b))
    opt, adam = AdamW(lr=cfg.lr, weight_decay=cfg.weight_decay), []

    def step():
        _, cache = barlow_forward(params, buffers, views, cfg.lambd, enc)
        _, grads = barlow_backward(1.0, cache)
        t = time.perf_counter()
        opt.step(params, grads)
        adam.append(time.perf_counter() - t)

    return step, adam, 3 * sum(a.nbytes for a in params.values())


def peak_bytes(step):
    tracemalloc.start()
    step()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    batches, widths = ([128], WIDTHS[:2]) if args.quick else ([128, 256], WIDTHS)
    print(f"GRU, {N_ITEMS} items, D = {D}, T = {T}, projector P-P-P, float32, median of {args.repeats} "
          f"steps after 2 warm-up steps; load average at start {', '.join(f'{x:.1f}' for x in os.getloadavg())}\n")
    print("| B | P | ms per step | of it AdamW | params + Adam state MiB | peak during a step MiB |")
    print("|---:|---:|---:|---:|---:|---:|", flush=True)
    with threadpool_limits(1, user_api="blas"):
        for b in batches:
            for p in widths:
                step, adam, state = make_step(b, p, np.random.default_rng(0))
                t = median_times({"step": step}, args.repeats)["step"]
                adam_t = float(np.median(adam[2:]))
                print(f"| {b} | {p:,} | {1e3 * t:.0f} | {1e3 * adam_t:.0f} | {state / 2**20:,.0f} | "
                      f"{peak_bytes(step) / 2**20:,.0f} |", flush=True)


if __name__ == "__main__":
    main()
