"""One training step, tinybt vs the same model in PyTorch (examples/torch_port), same process, same cores.

    python benchmarks/bench_step.py              # T = 50 and T = 200, 15 repeats
    python benchmarks/bench_step.py --quick      # T = 50 only, 5 repeats
    python benchmarks/bench_step.py --backend reference   # time the plain NumPy path instead
    python benchmarks/bench_step.py --threads 1   # Numba and torch on one thread each (steadier when busy)
    python benchmarks/bench_step.py --blas-threads 2   # tinybt's GEMMs on two BLAS threads

A step is what `tinybt train` does per batch, minus drawing the batch: Barlow Twins
= two views through encoder + projector, the BT loss, backward, AdamW; dual encoder
= history prefixes through the encoder, the in-batch softmax loss against the next
items, backward, AdamW. B = 128, D = 64, projector 256-256-256, 3,706 items (ML-1M),
2 transformer blocks with 2 heads, float32. Ids are random, lengths uniform in 1..T
(ragged, as crop-augmented views are). Both frameworks start from the same weights
(tinybt's init loaded into the torch modules) and run interleaved within each
repeat (the order alternating), so load from other processes hits them alike;
the table shows medians and ratio = tinybt time / torch time (< 1: tinybt faster).

BLAS threads. `tinybt train` runs BLAS on one thread (tinybt/train/trainer.py) and so
does this benchmark by default. Measured on the shared 2-core machine (load average
about 5: other training runs busy), tinybt ms per step at T = 50, median of 5:

    command                                                   BT GRU  BT transformer
    python benchmarks/bench_step.py --quick --threads 1           43.9           132.0
    python benchmarks/bench_step.py --quick --threads 1 --blas-threads 2
                                                                1305.5          1105.7
    python benchmarks/bench_step.py --quick                       86.4           209.2
    python benchmarks/bench_step.py --quick --blas-threads 2    1292.5          1108.7

A big GEMM alone (the FFN's (B·T × D)(D × 4D), the GRU's input projection) can run
faster on two threads when a core is free, but in a step each of the hundreds of GEMMs
waits for a second core that Numba's threads or another process hold: the steps were
8-30x slower. So training keeps one BLAS thread; on a quiet machine, compare the
last two commands again before changing that. The second core is used by Numba instead:
the big position-wise GEMMs split into row blocks, one single-threaded BLAS call per
Numba thread (tinybt/kernels/linear.py), as do the GRU's time loops (blocks of
sequences) and LayerNorm's rows; `--threads 1` shows the one-core time.
"""

import argparse
import contextlib
import os
import sys
import time
from pathlib import Path

import numba
import numpy as np
from threadpoolctl import threadpool_limits

from tinybt.backend import BACKENDS, use_backend
from tinybt.models.barlow_model import barlow_backward, barlow_forward, barlow_init
from tinybt.models.dual_model import dual_backward, dual_forward, dual_init
from tinybt.models.encoder import EncoderConfig
from tinybt.optim import AdamW
from tinybt.run.config import TrainConfig

B, D, N_ITEMS, PROJECTOR = 128, 64, 3706, "256-256-256"
CFG = TrainConfig(batch_size=B).validate()   # λ, τ, lr at this B, weight decay, layers, heads: the training defaults


def batch(rng, T):
    """ids (B, T) in 1..V right-padded with 0, lengths (B,) in 1..T (one row full, so T is real)."""
    lengths = rng.integers(1, T + 1, size=B)
    lengths[0] = T
    ids = rng.integers(1, N_ITEMS + 1, size=(B, T))
    return np.where(np.arange(T) < lengths[:, None], ids, 0), lengths


def tinybt_step(objective, enc, rng, T):
    """-> (step function, initial params and buffers)."""
    if objective == "barlow":
        params, buffers = barlow_init(rng, enc, [int(w) for w in PROJECTOR.split("-")])
        views = (batch(rng, T), batch(rng, T))
    else:
        params, buffers = dual_init(rng, enc)
        ids, lengths = batch(rng, T)
        targets = rng.integers(1, N_ITEMS + 1, size=B)
    init = ({k: v.copy() for k, v in params.items()}, {k: v.copy() for k, v in buffers.items()})
    opt = AdamW(lr=CFG.lr, weight_decay=CFG.weight_decay)

    def step():
        if objective == "barlow":
            _, cache = barlow_forward(params, buffers, views, CFG.lambd, enc)
            _, grads = barlow_backward(1.0, cache)
        else:
            _, cache = dual_forward(params, ids, lengths, targets, CFG.tau, enc)
            _, grads = dual_backward(1.0, cache)
        opt.step(params, grads)

    inputs = views if objective == "barlow" else (ids, lengths, targets)
    return step, init, inputs


def torch_step(objective, enc, init, inputs):
    """The examples/torch_port model with tinybt's initial weights; None without torch."""
    try:
        import torch
    except ImportError:
        return None
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
    from torch_port.models import BarlowTwins, DualEncoder

    spec = dict(kind=enc.kind, n_items=enc.n_items, dim=enc.dim, n_layers=enc.n_layers,
                n_heads=enc.n_heads, max_len=enc.max_len)
    model = BarlowTwins(spec, PROJECTOR, CFG.lambd) if objective == "barlow" else DualEncoder(spec, CFG.tau)
    params, buffers = init
    model.load_state_dict({k: torch.from_numpy(v) for k, v in (params | buffers).items()})
    opt = torch.optim.AdamW(model.parameters(), lr=CFG.lr, weight_decay=CFG.weight_decay)
    args = [torch.from_numpy(np.asarray(a)) for a in
            ((*inputs[0], *inputs[1]) if objective == "barlow" else inputs)]

    def step():
        opt.zero_grad()
        model(*args).backward()
        opt.step()
    return step


def torch_threads():
    try:
        import torch
    except ImportError:
        return "no"
    return torch.get_num_threads()


def median_times(fns, repeats):
    """{name: median seconds}: the functions interleaved within each repeat, order alternating."""
    for fn in fns.values():
        fn()
        fn()                                  # warm-up: Numba compilation, allocator, thread pools
    times = {name: [] for name in fns}
    names = list(fns)
    for r in range(repeats):
        for name in (names if r % 2 == 0 else names[::-1]):
            t = time.perf_counter()
            fns[name]()
            times[name].append(time.perf_counter() - t)
    return {name: float(np.median(ts)) for name, ts in times.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="T = 50 only, 5 repeats")
    ap.add_argument("--repeats", type=int, default=None, help="timed steps per row (default 5 quick / 15)")
    ap.add_argument("--backend", choices=BACKENDS, default="fast", help="tinybt's path (default fast)")
    ap.add_argument("--threads", type=int, default=None, help="Numba and torch threads (default: all cores)")
    ap.add_argument("--blas-threads", type=int, default=1,
                    help="tinybt's BLAS threads (default 1, as `tinybt train`; see the docstring)")
    args = ap.parse_args()
    if args.threads:
        numba.set_num_threads(args.threads)
        with contextlib.suppress(ImportError):
            import torch
            torch.set_num_threads(args.threads)
    lengths = (50,) if args.quick else (50, 200)
    repeats = args.repeats or (5 if args.quick else 15)

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"one training step, B = {B}, D = {D}, projector {PROJECTOR}, {N_ITEMS} items, float32, "
          f"tinybt backend {args.backend}; median of {repeats} interleaved repeats; {os.cpu_count()} CPUs, "
          f"{numba.get_num_threads()} Numba / {torch_threads()} torch threads, BLAS threads for tinybt {args.blas_threads}, "
          f"load average at start {load}\n")
    print("| step | encoder | T | tinybt ms | PyTorch ms | tinybt / PyTorch |")
    print("|---|---|---:|---:|---:|---:|", flush=True)
    for T in lengths:
        for kind in ("gru", "transformer"):
            enc = EncoderConfig(kind, N_ITEMS, D, CFG.layers, CFG.heads, T, CFG.pooling)
            for objective in ("barlow", "dual"):
                step, init, inputs = tinybt_step(objective, enc, np.random.default_rng(0), T)
                fns = {"tinybt": step}
                if (ts := torch_step(objective, enc, init, inputs)) is not None:
                    fns["torch"] = ts
                with use_backend(args.backend), threadpool_limits(args.blas_threads, user_api="blas"):
                    t = median_times(fns, repeats)
                tb, tt = t["tinybt"], t.get("torch")
                torch_cols = f"{tt * 1e3:.1f} | {tb / tt:.2f}" if tt else "n/a | n/a"
                print(f"| {'Barlow Twins' if objective == 'barlow' else 'dual encoder'} | {kind} | {T} | "
                      f"{tb * 1e3:.1f} | {torch_cols} |", flush=True)


if __name__ == "__main__":
    main()
