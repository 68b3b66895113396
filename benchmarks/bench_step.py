"""One training step on the batches training really sees, tinybt vs the PyTorch port, same process.

    python benchmarks/bench_step.py                      # all tables (minutes when quiet, far longer under load)
    python benchmarks/bench_step.py --quick              # ML-1M pairs, max_len 50, 1 thread, 5 repeats
    python benchmarks/bench_step.py --data ml-1m --max-lens 200 --threads 2
    python benchmarks/bench_step.py --backend reference  # the plain NumPy path instead

A step is what `tinybt train` does per batch after drawing it: Barlow Twins = two
views through encoder + projector, the BT loss, backward, AdamW; dual encoder =
history prefixes through the encoder, the in-batch softmax (logQ-corrected) against
the next items, backward, AdamW. The training defaults (TrainConfig): B = 128,
D = 64, projector 256-256-256, 2 transformer blocks with 2 heads, GRU mean pooling,
float32.

Batches. Table 1 draws the trainer's own batches (tinybt/data/views.py: an epoch's
shuffle, crop / mask / reorder views, next-item cut points) from ML-1M pairs (file
order, no ratings) (`$TINYBT_DATA/ml-1m-pairs`; 3,706 items) and from the
synthetic set (500 items). Table 2 keeps the old synthetic shapes: 3,706 items,
lengths uniform in 1..max_len, one row full. Each repeat r times batch r in both
frameworks, interleaved (the order alternating), so load from other processes hits
them alike; ratio = tinybt time / PyTorch time per repeat, reported as the median
and its interquartile range over the repeats (< 1: tinybt faster).

PyTorch. The golden-checked port (examples/torch_port) with tinybt's initial weights
and the same number of threads (torch.set_num_threads = numba.set_num_threads =
--threads). For the GRU both of PyTorch's ordinary forms run: the port's
pack_padded_sequence, and nn.GRU on the padded batch (the padded steps' outputs
are then masked out of the mean, as the port's pooling does); the ratio is against
the faster one, named in the table.

GFLOP/s. The step's model arithmetic on the valid tokens (`step_flops`: every
matrix product, backward = 2x forward; elementwise work not counted), divided by
the step time, for both frameworks. "Of peak" is against a float32 sgemm through
numpy's BLAS on the same number of threads, timed inside the interleaving (a
1024² product, once per repeat between the steps, `sgemm_probe`): repeat r's
GFLOP/s over repeat r's sgemm GFLOP/s, the median over the repeats. On a shared
machine the load moves both alike, where a peak taken once at the start (the
2048² figure in the first line, kept for reference) can be far off by the time a
row runs.

BLAS threads. tinybt runs BLAS on one thread, as `tinybt train` does; its second
core comes from Numba threads over row blocks and sequence blocks
(tinybt/kernels/linear.py, gru.py). `--blas-threads 2` times the alternative.

OpenMP waiting. Numba's threads (the omp layer) and torch's are both OpenMP pools, and
by default each pool's idle threads spin after a parallel region: interleaved on 2
cores, torch's 2-thread steps waited on Numba's spinning threads and took 1.5-3.7 s
instead of 50-90 ms (ML-1M pairs, GRU, max_len 50). So this script sets
OMP_WAIT_POLICY=PASSIVE (idle threads sleep) before either library loads.
"""

import argparse
import contextlib
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")   # before numba and torch load OpenMP

import numba  # noqa: E402
import numpy as np  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from tinybt.backend import BACKENDS, use_backend  # noqa: E402
from tinybt.data.batching import epoch_batches  # noqa: E402
from tinybt.data.views import barlow_views, next_item_pairs  # noqa: E402
from tinybt.models.barlow_model import barlow_backward, barlow_forward, barlow_init  # noqa: E402
from tinybt.models.dual_model import dual_backward, dual_forward, dual_init  # noqa: E402
from tinybt.optim import AdamW  # noqa: E402
from tinybt.run.config import TrainConfig  # noqa: E402
from tinybt.train.trainer import encoder_config, load_sequences, training_log_q, training_rows  # noqa: E402

ML1M = Path(os.environ.get("TINYBT_DATA", "data")) / "ml-1m-pairs"     # a local copy, never committed
LABELS = {"ml-1m": "ML-1M pairs (file order, no ratings)", "synthetic": "synthetic", "shapes": "uniform 1..T"}
SHAPES_ITEMS = 3706


def train_config(data, T, objective, kind):
    ds, data_dir = ("synthetic", None) if data in ("synthetic", "shapes") else ("ml-1m", str(ML1M))
    return TrainConfig(dataset=ds, data_dir=data_dir, max_len=T, objective=objective, encoder=kind).validate()


class Batches:
    """n batches a training epoch would draw: [(inputs, log_q or None)], inputs as the step takes them."""

    def __init__(self, data, cfg, n, rng):
        self.cfg = cfg
        if data == "shapes":
            self.enc = encoder_config(cfg, _Items(SHAPES_ITEMS))
            self.items = [(self._uniform(rng), None) for _ in range(n)]
            return
        _, seqs = load_sequences(cfg)
        self.enc = encoder_config(cfg, seqs)
        rows = training_rows(cfg, seqs)
        log_q = training_log_q(cfg, seqs, rows)
        draw = []
        while len(draw) < n:
            draw += epoch_batches(len(rows), cfg.batch_size, rng, drop_last=True)
        self.items = []
        for batch in draw[:n]:
            r = rows[batch]
            if cfg.objective == "barlow":
                self.items.append((barlow_views(seqs, r, rng, cfg.augment_config(), cfg.max_len), None))
            else:
                ids, lengths, targets = next_item_pairs(seqs, r, rng, cfg.max_len)
                self.items.append(((ids, lengths, targets), None if log_q is None else log_q[targets]))

    def _uniform(self, rng):
        B, T = self.cfg.batch_size, self.cfg.max_len

        def one():
            lengths = rng.integers(1, T + 1, size=B)
            lengths[0] = T
            ids = rng.integers(1, SHAPES_ITEMS + 1, size=(B, T))
            return np.where(np.arange(T) < lengths[:, None], ids, 0), lengths
        if self.cfg.objective == "barlow":
            return one(), one()
        return (*one(), rng.integers(1, SHAPES_ITEMS + 1, size=B))

    def lengths(self, i):
        inputs = self.items[i][0]
        return np.concatenate([inputs[0][1], inputs[1][1]]) if self.cfg.objective == "barlow" else inputs[1]


class _Items:
    def __init__(self, n_items):
        self.n_items = n_items


def step_flops(cfg, lengths):
    """Multiply-adds x 2 of one step on the valid tokens: encoder + projector and loss, backward = 2x forward."""
    D, B, lengths = cfg.dim, cfg.batch_size, np.asarray(lengths, np.float64)
    N = lengths.sum()
    if cfg.encoder == "gru":
        enc = 2 * N * (D * 3 * D + D * 3 * D)                        # x W_ihᵀ, h W_hhᵀ per cell
    else:
        per_block = 2 * N * (3 * D * D + D * D + 2 * 4 * D * D)      # QKV, out, FFN up and down
        per_block += 2 * 2 * (lengths ** 2).sum() * D                # q kᵀ and A v, all heads
        enc = cfg.layers * per_block
    if cfg.objective == "barlow":
        dims = [D] + cfg.projector_dims()
        head = 2 * 2 * B * sum(a * b for a, b in zip(dims, dims[1:]))   # both views
        head += 2 * B * dims[-1] ** 2                                    # C = z1ᵀ z2 / B
    else:
        head = 2 * B * B * D                                             # in-batch logits
    return 3 * (enc + head)


def tinybt_step(cfg, enc, params, buffers, batches):
    opt = AdamW(lr=cfg.lr, weight_decay=cfg.weight_decay)

    def step(i):
        inputs, log_q = batches.items[i]
        if cfg.objective == "barlow":
            _, cache = barlow_forward(params, buffers, inputs, cfg.lambd, enc)
            _, grads = barlow_backward(1.0, cache)
        else:
            _, cache = dual_forward(params, *inputs, cfg.tau, enc, log_q)
            _, grads = dual_backward(1.0, cache)
        opt.step(params, grads)
    return step


def torch_steps(cfg, enc, params, buffers, batches):
    """{form: step(i)} for the examples/torch_port model with the same weights ({} without torch)."""
    try:
        import torch
    except ImportError:
        return {}
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
    from torch_port import losses
    from torch_port.models import BarlowTwins, DualEncoder

    spec = dict(kind=enc.kind, n_items=enc.n_items, dim=enc.dim, n_layers=enc.n_layers,
                n_heads=enc.n_heads, max_len=enc.max_len, pooling=enc.pooling)
    tensors = [([torch.from_numpy(np.asarray(a)) for a in
                 ((*inputs[0], *inputs[1]) if cfg.objective == "barlow" else inputs)],
                None if log_q is None else torch.from_numpy(log_q)) for inputs, log_q in batches.items]

    def make(padded):
        if cfg.objective == "barlow":
            model = BarlowTwins(spec, cfg.projector, cfg.lambd)
            loss = model
        else:
            model = DualEncoder(spec, cfg.tau)

            def loss(ids, lengths, targets, log_q):
                return losses.dual_encoder_loss(model.encode(ids, lengths), model.item_emb(targets), targets,
                                                cfg.tau, log_q=log_q)
        model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in (params | buffers).items()})
        model.encode = super(type(model), model).forward
        if padded:                               # nn.GRU over every step; pooling masks the padding
            model.gru.forward = lambda x, lengths: torch.nn.GRU.forward(model.gru, x)[0]
        opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)

        def step(i):
            args, log_q = tensors[i]
            opt.zero_grad()
            (loss(*args) if cfg.objective == "barlow" else loss(*args, log_q)).backward()
            opt.step()
        return step

    forms = {"torch packed": make(False)}
    if enc.kind == "gru":
        forms["torch padded"] = make(True)
    return forms


def interleaved(fns, repeats):
    """{name: (repeats,) seconds}: fns[name](r) for r in range(repeats), interleaved, order alternating."""
    for fn in fns.values():
        fn(0)
        fn(1)                                    # warm-up: Numba compilation, allocator, thread pools
    times = {name: [] for name in fns}
    names = list(fns)
    for r in range(repeats):
        for name in (names if r % 2 == 0 else names[::-1]):
            t = time.perf_counter()
            fns[name](r)
            times[name].append(time.perf_counter() - t)
    return {name: np.array(ts) for name, ts in times.items()}


def gemm_peak(threads, n=2048, repeats=5):
    """Best GFLOP/s of an n x n float32 sgemm through numpy's BLAS on `threads` threads."""
    a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
    with threadpool_limits(threads, user_api="blas"):
        a @ a
        best = min(_timed(lambda: a @ a) for _ in range(repeats))
    return 2 * n ** 3 / best / 1e9


def sgemm_probe(threads, n=1024):
    """fn(r) running one n x n float32 sgemm on `threads` BLAS threads; its GFLOP/s = 2n³ / its time."""
    a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)

    def fn(r):
        with threadpool_limits(threads, user_api="blas"):
            a @ a
    return fn, 2 * n ** 3


def _timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def set_threads(k):
    numba.set_num_threads(k)
    with contextlib.suppress(ImportError):
        import torch
        torch.set_num_threads(k)


def run_case(data, T, objective, kind, repeats, backend, blas_threads, threads):
    cfg = train_config(data, T, objective, kind)
    batches = Batches(data, cfg, repeats, np.random.default_rng(0))
    init = barlow_init if objective == "barlow" else dual_init
    args = (np.random.default_rng(1), batches.enc) + ((cfg.projector_dims(),) if objective == "barlow" else ())
    params, buffers = init(*args)
    fns = torch_steps(cfg, batches.enc, params, buffers, batches)
    probe, probe_flops = sgemm_probe(threads)
    fns = {"tinybt": tinybt_step(cfg, batches.enc, params, buffers, batches), "sgemm": probe} | fns
    with use_backend(backend), threadpool_limits(blas_threads, user_api="blas"):
        times = interleaved(fns, repeats)
    flops = np.array([step_flops(cfg, batches.lengths(r)) for r in range(repeats)])
    tokens = np.array([batches.lengths(r).sum() for r in range(repeats)])
    tb = times.pop("tinybt")
    peak = probe_flops / times.pop("sgemm")                     # per repeat
    row = [LABELS[data], "Barlow Twins" if objective == "barlow" else "dual encoder", kind, str(T),
           f"{np.mean(tokens) / np.median(tb) / 1e3:.0f}k", f"{np.median(tb) * 1e3:.1f}",
           f"{np.median(flops / tb) / 1e9:.1f} ({np.median(flops / tb / peak):.0%})", f"{np.median(peak) / 1e9:.1f}"]
    if times:
        form = min(times, key=lambda f: np.median(times[f]))
        ratio = tb / times[form]
        q1, q3 = np.percentile(ratio, [25, 75])
        tt = times[form]
        row += [f"{np.median(tt) * 1e3:.1f} ({form.split()[1]})", f"{np.median(flops / tt) / 1e9:.1f}",
                f"**{np.median(ratio):.2f}** ({q1:.2f}–{q3:.2f})"]
    else:
        row += ["n/a"] * 3
    return row


HEADER = ("| data | step | encoder | max_len | tinybt tokens/s | tinybt ms | tinybt GFLOP/s (of peak) | "
          "sgemm peak GFLOP/s | PyTorch ms (form) | PyTorch GFLOP/s | ratio (IQR) |\n"
          "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="ML-1M pairs, max_len 50, 1 thread, 5 repeats")
    ap.add_argument("--data", nargs="+", choices=("ml-1m", "synthetic", "shapes"), default=None,
                    help="batch sources (default all: ml-1m synthetic for table 1, shapes for table 2)")
    ap.add_argument("--max-lens", nargs="+", type=int, default=None, help="default 50 200")
    ap.add_argument("--threads", nargs="+", type=int, default=None, help="Numba = torch threads (default 1 2)")
    ap.add_argument("--encoders", nargs="+", choices=("gru", "transformer"), default=("gru", "transformer"))
    ap.add_argument("--objectives", nargs="+", choices=("barlow", "dual"), default=("barlow", "dual"))
    ap.add_argument("--repeats", type=int, default=None, help="timed steps per row (default 15, quick 5)")
    ap.add_argument("--backend", choices=BACKENDS, default="fast", help="tinybt's path (default fast)")
    ap.add_argument("--blas-threads", type=int, default=1, help="tinybt's BLAS threads (default 1, as `tinybt train`)")
    args = ap.parse_args()
    q = args.quick
    data = args.data or (("ml-1m",) if q else ("ml-1m", "synthetic", "shapes"))
    max_lens = args.max_lens or ((50,) if q else (50, 200))
    threads = args.threads or ((1,) if q else (1, 2))
    repeats = args.repeats or (5 if q else 15)

    peaks = {k: gemm_peak(k) for k in sorted(set(threads))}
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"one training step, B = 128, D = 64, projector 256-256-256, float32, tinybt backend {args.backend}, "
          f"BLAS threads for tinybt {args.blas_threads}; median of {repeats} interleaved repeats; "
          f"{os.cpu_count()} CPUs (shared), load average at start {load}; float32 sgemm 2048² peak: "
          + ", ".join(f"{v:.1f} GFLOP/s on {k} thread{'s' * (k > 1)}" for k, v in peaks.items()), flush=True)
    for k in threads:
        set_threads(k)
        print(f"\n{k} thread{'s' * (k > 1)} (Numba and torch); of peak = of the 1024² sgemm timed between the "
              f"steps on {k} BLAS thread{'s' * (k > 1)}\n\n{HEADER}",
              flush=True)
        for d in data:
            for T in max_lens:
                for kind in args.encoders:
                    for objective in args.objectives:
                        row = run_case(d, T, objective, kind, repeats, args.backend, args.blas_threads, k)
                        print("| " + " | ".join(row) + " |", flush=True)


if __name__ == "__main__":
    main()
