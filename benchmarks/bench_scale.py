"""How the cost of a Barlow Twins epoch grows: one axis at a time from a default point.

    python benchmarks/bench_scale.py --quick --out docs/scale     # ~10-15 min on the shared 2-core machine
    python benchmarks/bench_scale.py --out docs/scale              # the full sweeps (P = 8192, 1.4 M users)
    python benchmarks/bench_scale.py --sweep items --out /tmp/s    # one sweep
    python benchmarks/bench_scale.py --out docs/scale --redraw     # table and plots again from scale.jsonl

Default point: 10,000 users, 3,706 items (ML-1M's count) with Zipf popularity, max_len 50,
projector P-P-P with P = 256, B = 128, GRU, D = 64 (tinybt train's defaults). Every user
has at least m = max(20, ceil(max_len / 0.8) + 1) interactions (heavy-tailed, mean 2m:
128 at max_len 50), so every history fills the max_len window at every point. Sweeps:
users 10 k -> 1.4 M, items 3.7 k -> 1 M, max_len 50 -> 400, P 256 -> 8192, B 16 -> 2048.

Every point runs in its own subprocess (so its peak RSS is its own): it builds the dataset
in memory (benchmarks/make_shaped_data.py's generators; parsing is measured apart, by
`tinybt data info`, in docs/scaling.md), cuts the sequences, sets up the model as
`tinybt train` does, runs 2 untimed steps (Numba's compiled code loads), then times
--steps steps: views, forward, backward, AdamW. Time per epoch = median step time x
steps per epoch (users // B, every user's history pretrains): an estimate, not a
timed epoch. Peak RSS is ru_maxrss of the child (POSIX only; blank elsewhere).

Writes OUT/scale.jsonl (one line per point), OUT/scale.md (the table and the log-log
slope of epoch time and of peak RSS against each swept axis) and, with matplotlib,
OUT/scale_<sweep>.png.
"""

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

DEFAULT = {"users": 10_000, "items": 3_706, "max_len": 50, "P": 256, "B": 128}
SWEEPS = {"users": [10_000, 100_000, 400_000, 1_400_000], "items": [3_706, 37_000, 200_000, 1_000_000],
          "max_len": [50, 100, 200, 400], "P": [256, 1024, 4096, 8192], "B": [16, 128, 512, 2048]}
QUICK = {"users": [10_000, 100_000, 400_000], "items": [3_706, 37_000, 200_000],
         "max_len": [50, 100, 200], "P": [256, 1024, 4096], "B": [16, 128, 512]}


def dataset(users, items, max_len, seed=0):
    """A Dataset of `users` users (>= 20 interactions, and enough to fill max_len) over Zipf items."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from make_shaped_data import activity, zipf_items

    from tinybt.data.dataset import Dataset

    rng = np.random.default_rng(seed)
    minimum = max(20, int(np.ceil(max_len / 0.8)) + 1)
    counts = activity(rng, users, users * 2 * minimum, minimum)
    n = int(counts.sum())
    return Dataset(name="bench", user=np.repeat(np.arange(users, dtype=np.int32), counts),
                   item=zipf_items(rng, n, items, 1.0).astype(np.int32),
                   rating=np.full(n, 3, np.float32), timestamp=rng.integers(0, 10**9, n),
                   user_keys=np.arange(users), item_keys=np.arange(items),
                   genre_offsets=np.zeros(items + 1, np.int64), genre_values=np.zeros(0, np.int32),
                   genre_names=np.zeros(0, "U1"))


def peak_rss_mb():
    try:
        import resource          # POSIX only, and only in this benchmark (not in the package)
    except ImportError:
        return None
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024     # Linux: kB


def point(users, items, max_len, P, B, steps):
    """Run one point in this process -> its measurements."""
    from tinybt.data.sequences import build_sequences
    from tinybt.optim import AdamW
    from tinybt.run.config import TrainConfig, use_threads
    from tinybt.train import trainer

    t0 = time.perf_counter()
    ds = dataset(users, items, max_len)
    t1 = time.perf_counter()
    cfg = TrainConfig(max_len=max_len, projector=f"{P}-{P}-{P}", batch_size=B).validate()
    use_threads(cfg.threads)
    seqs = build_sequences(ds, cfg.max_len, cfg.min_interactions, cfg.split_seed)
    t2 = time.perf_counter()
    rows = trainer.training_rows(cfg, seqs)
    enc = trainer.encoder_config(cfg, seqs)
    rng = np.random.default_rng(cfg.seed)
    params, buffers = trainer.init_model(cfg, enc, rng)
    run = trainer.Run(cfg, None, seqs, enc, rows, params, buffers, AdamW(lr=cfg.lr), rng,
                      cfg.augment_config(), None)
    times = []
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, user_api="blas"):     # as tinybt train
        for k in range(2 + steps):
            batch = rng.choice(len(rows), B, replace=False)
            s = time.perf_counter()
            _, _, cache = trainer._barlow_step(run, rows[batch])
            run.opt.step(run.params, trainer._backward(run, cache), lr=cfg.lr)
            if k >= 2:
                times.append(time.perf_counter() - s)
    step = float(np.median(times))
    return {"interactions": len(ds.user), "users_kept": seqs.n_users, "items_used": seqs.n_items,
            "make_s": round(t1 - t0, 2), "sequences_s": round(t2 - t1, 2), "step_ms": round(1e3 * step, 1),
            "steps_per_epoch": run.steps_per_epoch, "epoch_s": round(step * run.steps_per_epoch, 1),
            "peak_rss_mb": peak_rss_mb()}


def run_point(sweep, value, steps):
    args = dict(DEFAULT, **{sweep: value})
    code = (f"import json, sys; sys.path.insert(0, {str(Path(__file__).resolve().parent)!r}); "
            f"from bench_scale import point; print(json.dumps(point(**{args!r}, steps={steps})))")
    t = time.perf_counter()
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if res.returncode != 0:
        return {"sweep": sweep, "value": value, **args, "error": res.stderr.strip().splitlines()[-1:]}
    out = json.loads(res.stdout.strip().splitlines()[-1])
    return {"sweep": sweep, "value": value, **args, **out, "wall_s": round(time.perf_counter() - t, 1)}


def slope(rows, key):
    good = [(r["value"], r[key]) for r in rows if r.get(key)]
    if len(good) < 2:
        return None
    x, y = np.log([g[0] for g in good]), np.log([g[1] for g in good])
    return float(np.polyfit(x, y, 1)[0])


def table(results):
    lines = ["| sweep | value | interactions | users kept | sequences s | step ms | steps/epoch "
             "| epoch s (est.) | peak RSS MB |", "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        if "error" in r:
            lines.append(f"| {r['sweep']} | {r['value']:,} | failed: {' '.join(r['error'])} |||||||")
            continue
        rss = f"{r['peak_rss_mb']:,.0f}" if r["peak_rss_mb"] else ""
        lines.append(f"| {r['sweep']} | {r['value']:,} | {r['interactions']:,} | {r['users_kept']:,} | "
                     f"{r['sequences_s']} | {r['step_ms']} | {r['steps_per_epoch']:,} | {r['epoch_s']:,} | {rss} |")
    lines += ["", "Log-log slopes, fitted over the whole range (last two points in brackets):", "",
              "| sweep | range | slope of epoch time | slope of step time | slope of peak RSS |",
              "|---|---|---|---|---|"]
    for sweep in dict.fromkeys(r["sweep"] for r in results):
        rows = [r for r in results if r["sweep"] == sweep and "error" not in r]
        fits = [f"{slope(rows, k):.2f} ({slope(rows[-2:], k):.2f})" if slope(rows, k) is not None else None
                for k in ("epoch_s", "step_ms", "peak_rss_mb")]
        if rows:
            lines.append(f"| {sweep} | {rows[0]['value']:,} .. {rows[-1]['value']:,} | "
                         + " | ".join(f or "" for f in fits) + " |")
    return "\n".join(lines) + "\n"


def plot(results, out):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import matplotlib.ticker
    except ImportError:
        return []
    files = []
    for sweep in dict.fromkeys(r["sweep"] for r in results):
        rows = [r for r in results if r["sweep"] == sweep and "error" not in r]
        fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
        for ax, key, label in ((axes[0], "epoch_s", "epoch time, s (estimated)"),
                               (axes[1], "peak_rss_mb", "peak RSS, MB")):
            pts = [(r["value"], r[key]) for r in rows if r.get(key)]
            if pts:
                ax.loglog(*zip(*pts), "o-")
                ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
                ax.set_xticks([v for v, _ in pts], [f"{v:,}" for v, _ in pts], rotation=30)
            s = slope(rows, key)
            ax.set_title(label + ("" if s is None else f" (slope {s:.2f})"))
            ax.set_xlabel(sweep)
            ax.grid(True, which="both", alpha=0.3)
        fig.tight_layout()
        path = out / f"scale_{sweep}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        files.append(path)
    return files


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--quick", action="store_true", help="fewer, smaller points (about 10-15 min)")
    ap.add_argument("--sweep", choices=list(SWEEPS), action="append", help="only these sweeps")
    ap.add_argument("--steps", type=int, default=5, help="timed steps per point")
    ap.add_argument("--redraw", action="store_true", help="only redo the table and plots from OUT/scale.jsonl")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.redraw:
        results = [json.loads(line) for line in (args.out / "scale.jsonl").read_text(encoding="utf-8").splitlines()]
    else:
        results = measure(args)
    (args.out / "scale.md").write_text(table(results), encoding="utf-8")
    for p in plot(results, args.out):
        print(f"wrote {p}")
    print(f"wrote {args.out / 'scale.md'}")
    return 0


def measure(args):
    grid = QUICK if args.quick else SWEEPS
    results = []
    with open(args.out / "scale.jsonl", "w", encoding="utf-8") as f:
        for sweep in args.sweep or list(grid):
            for value in grid[sweep]:
                r = run_point(sweep, value, args.steps)
                results.append(r)
                f.write(json.dumps(r) + "\n")
                f.flush()
                print(json.dumps(r), flush=True)
    return results


if __name__ == "__main__":
    sys.exit(main())
