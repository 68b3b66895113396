"""The item table's backward + AdamW step: dense gradient vs row-sparse gradient + lazy update.

    python benchmarks/bench_sparse.py            # 3,706 / 27,278 / 150,000 / 1,000,000 items, 9 repeats
    python benchmarks/bench_sparse.py --quick    # the two smaller tables, 3 repeats

What is timed is the part of a training step that grows with the vocabulary V: the
embedding backward (tinybt/nn/embedding.py, fast path: dense = a zeroed (V+2, D) dW and
the scatter-add; sparse = the batch's unique ids and their summed rows) followed by
AdamW on item_emb.weight (tinybt/optim/adam.py: all V+2 rows, or the touched ones). One
Barlow Twins batch: B = 128 users, both views through the encoder at once (2B = 256
rows), T = 50 ids per row, D = 64, float32, ids drawn with Zipf(1) item popularity (a
few items in most histories, a long tail), no padding. Dense and sparse take turns in
each repeat (bench_step.py's median_times), BLAS on one thread as in training;
ratio = dense / sparse median.

Measured on the shared 2-core machine (load average about 2.3, other engineers' jobs
running), `python benchmarks/bench_sparse.py`:

    | items | unique ids per batch | dense ms | sparse ms | dense / sparse |
    |---:|---:|---:|---:|---:|
    | 3,706 | 2,254 | 0.92 | 1.95 | 0.5 |
    | 27,278 | 4,273 | 5.23 | 3.76 | 1.4 |
    | 150,000 | 5,542 | 39.64 | 4.81 | 8.2 |
    | 1,000,000 | 6,685 | 246.03 | 5.64 | 43.6 |

The dense cost grows with V (zeroing dW, then ten passes of AdamW over every row); the
sparse one with the batch's unique ids (np.unique's sort, gathering and scattering the
rows). They cross near 15 k items (between the first two rows); the dense path stays the default.
"""

import argparse

import numpy as np
from threadpoolctl import threadpool_limits

from bench_step import median_times
from tinybt.nn.embedding import embedding_backward, embedding_forward, embedding_grad, embedding_init
from tinybt.optim import AdamW

B, T, D = 128, 50, 64
SIZES = [3_706, 27_278, 150_000, 1_000_000]


def zipf_ids(rng, n_items, shape):
    """Item ids 1..n_items with P(rank k) ∝ 1/k, in a random item order."""
    p = 1.0 / np.arange(1, n_items + 1)
    return rng.permutation(n_items)[rng.choice(n_items, size=shape, p=p / p.sum())] + 1


def step_fn(mode, ids, dout, n_items, rng):
    """Backward + AdamW step on a fresh table and optimiser of its own (state warmed by one step)."""
    params = {"weight": embedding_init(rng, n_items + 2, D)["weight"]}
    opt = AdamW(lr=1e-3, weight_decay=0.0)

    _, cache = embedding_forward(ids, params)          # the cache holds the ids and W's shape only

    def run():
        with embedding_grad(mode):
            _, grads = embedding_backward(dout, cache)
        opt.step(params, grads)
    run()
    return run


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    sizes, repeats = (SIZES[:2], 3) if args.quick else (SIZES, 9)
    rng = np.random.default_rng(0)
    print(f"B = {B} (2B = {2 * B} rows), T = {T}, D = {D}, float32, median of {repeats}\n")
    print("| items | unique ids per batch | dense ms | sparse ms | dense / sparse |")
    print("|---:|---:|---:|---:|---:|")
    with threadpool_limits(1, user_api="blas"):
        for v in sizes:
            ids = zipf_ids(rng, v, (2 * B, T))
            dout = rng.standard_normal((2 * B, T, D)).astype(np.float32)
            t = median_times({m: step_fn(m, ids, dout, v, rng) for m in ("dense", "sparse")}, repeats)
            print(f"| {v:,} | {len(np.unique(ids)):,} | {1e3 * t['dense']:.2f} | {1e3 * t['sparse']:.2f} | "
                  f"{t['dense'] / t['sparse']:.1f} |", flush=True)


if __name__ == "__main__":
    main()
