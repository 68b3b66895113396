"""Where one training epoch goes: the trainer's own run_epoch, its parts timed in place.

    python benchmarks/profile_epoch.py        # BT on ML-1M pairs and synthetic, GRU and transformer
    python benchmarks/profile_epoch.py --objective dual --threads 2
    python benchmarks/profile_epoch.py --data ml-1m --encoders transformer --max-len 200

One epoch of tinybt/train/trainer.run_epoch (after one warm-up epoch: Numba
compilation), with the functions it calls wrapped in wall-clock timers:

    batching + augmentation   epoch_batches, barlow_views / next_item_pairs (tinybt/data)
    encoder                   encoder_forward + encoder_backward
    projector + loss          projector, BT loss / dual loss and its item-side embedding
    optimiser                 AdamW.step (and gradient clipping, if on)
    Python overhead           the rest of the epoch: the loop, finite checks, stacking views, adding grads

The second table splits the encoder's time by kernel (the same epoch): the
position-wise / all-cells GEMMs (kernels/linear.py; for the GRU the input projection
over the batch's distinct items, dW_ih, dW_hh and the item table's gradient), attention
or the GRU's time loops, LayerNorm, GELU; "rest" = embedding, positions, packing,
gathers and scatters (for the GRU: packing, the distinct items, the mean pooling and
the per-item sums of the input-side gradient).

ML-1M pairs = `$TINYBT_DATA/ml-1m-pairs`, labelled "ML-1M pairs (file order, no ratings)".
The run folder is a temporary directory, removed afterwards.
"""

import argparse
import contextlib
import tempfile
import time

import numba
import numpy as np
from threadpoolctl import threadpool_limits

from bench_step import LABELS, ML1M
from tinybt.kernels import activations, gru, layernorm, transformer
from tinybt.models import barlow_model, dual_model
from tinybt.run.config import TrainConfig
from tinybt.train import trainer

PARTS = ("batching + augmentation", "encoder", "projector + loss", "optimiser")
WRAP = {   # (module, attribute) -> part
    (trainer, "epoch_batches"): PARTS[0], (trainer, "barlow_views"): PARTS[0], (trainer, "next_item_pairs"): PARTS[0],
    (barlow_model, "encoder_forward"): PARTS[1], (barlow_model, "encoder_backward"): PARTS[1],
    (dual_model, "encoder_forward"): PARTS[1], (dual_model, "encoder_backward"): PARTS[1],
    (barlow_model, "projector_forward"): PARTS[2], (barlow_model, "projector_backward"): PARTS[2],
    (barlow_model, "barlow_twins_forward"): PARTS[2], (barlow_model, "barlow_twins_backward"): PARTS[2],
    (dual_model, "dual_encoder_forward"): PARTS[2], (dual_model, "dual_encoder_backward"): PARTS[2],
    (dual_model, "embedding_forward"): PARTS[2], (dual_model, "embedding_backward"): PARTS[2],
    (trainer, "clip_grad_norm"): PARTS[3],
}

KERNELS = ("GEMMs", "attention / GRU time loops", "LayerNorm", "GELU")
KERNEL_WRAP = {
    (transformer, "linear_forward"): KERNELS[0], (transformer, "linear_backward"): KERNELS[0],
    (gru, "matmul_rows"): KERNELS[0], (gru, "matmul_tn"): KERNELS[0],
    (transformer, "_attention_fwd"): KERNELS[1], (transformer, "_attention_bwd"): KERNELS[1],
    (gru, "_forward_loop"): KERNELS[1], (gru, "_backward_loop"): KERNELS[1],
    (layernorm, "layernorm_forward"): KERNELS[2], (layernorm, "layernorm_backward"): KERNELS[2],
    (activations, "gelu_forward"): KERNELS[3],
}


def timed(fn, part, spent):
    def wrapper(*args, **kwargs):
        t = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            spent[part] += time.perf_counter() - t
    return wrapper


@contextlib.contextmanager
def wrapped(run, spent):
    """The WRAP functions and run.opt.step timed into spent[part] while inside."""
    wrap = WRAP | KERNEL_WRAP
    saved = [(m, a, getattr(m, a)) for m, a in wrap]
    for (m, a), part in wrap.items():
        setattr(m, a, timed(getattr(m, a), part, spent))
    run.opt.step = timed(run.opt.step, PARTS[3], spent)
    try:
        yield
    finally:
        for m, a, fn in saved:
            setattr(m, a, fn)
        del run.opt.step


def profile(data, encoder, objective, max_len, folder):
    ds, data_dir = ("synthetic", None) if data == "synthetic" else ("ml-1m", str(ML1M))
    cfg = TrainConfig(dataset=ds, data_dir=data_dir, encoder=encoder, objective=objective, max_len=max_len,
                      epochs=2, threads=numba.get_num_threads())
    run = trainer.setup(cfg, f"{folder}/{data}-{encoder}-{objective}")
    with run.lock, threadpool_limits(1, user_api="blas"):      # as trainer.train
        trainer.run_epoch(run, progress=False)                  # warm-up: compilation, pools
        spent = dict.fromkeys(PARTS + KERNELS, 0.0)
        with wrapped(run, spent):
            t = time.perf_counter()
            trainer.run_epoch(run, progress=False)
            total = time.perf_counter() - t
    spent["Python overhead"] = total - sum(spent[p] for p in PARTS)
    spent["rest"] = spent[PARTS[1]] - sum(spent[k] for k in KERNELS)
    return run.steps_per_epoch, total, spent


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", nargs="+", choices=("ml-1m", "synthetic"), default=("ml-1m", "synthetic"))
    ap.add_argument("--encoders", nargs="+", choices=("gru", "transformer"), default=("gru", "transformer"))
    ap.add_argument("--objective", choices=("barlow", "dual"), default="barlow")
    ap.add_argument("--max-len", type=int, default=50)
    ap.add_argument("--threads", type=int, default=1, help="Numba threads (default 1)")
    args = ap.parse_args()
    numba.set_num_threads(args.threads)
    names = (*PARTS, "Python overhead")
    print(f"one epoch of `tinybt train` defaults, objective {args.objective}, max_len {args.max_len}, "
          f"{args.threads} Numba thread(s), 1 BLAS thread; wall-clock seconds (share of the epoch)\n")
    print("| data | encoder | steps | epoch s | " + " | ".join(names) + " | not model arithmetic |")
    print("|---|---|---:|---:|" + "---:|" * (len(names) + 1), flush=True)
    split = []
    with tempfile.TemporaryDirectory() as folder:
        for data in args.data:
            for encoder in args.encoders:
                steps, total, spent = profile(data, encoder, args.objective, args.max_len, folder)
                split.append((data, encoder, spent))
                other = spent[PARTS[0]] + spent["Python overhead"]
                cells = [f"{spent[n]:.2f} ({spent[n] / total:.0%})" for n in names]
                print(f"| {LABELS[data]} | {encoder} | {steps} | {total:.2f} | " + " | ".join(cells)
                      + f" | {other / total:.0%} |", flush=True)
    print("\nthe encoder's seconds by kernel (share of the encoder)\n")
    print("| data | encoder | " + " | ".join((*KERNELS, "rest")) + " |\n|---|---|" + "---:|" * (len(KERNELS) + 1))
    for data, encoder, spent in split:
        enc = spent[PARTS[1]]
        print(f"| {LABELS[data]} | {encoder} | "
              + " | ".join(f"{spent[k]:.2f} ({spent[k] / enc:.0%})" for k in (*KERNELS, "rest")) + " |")


if __name__ == "__main__":
    main()
