"""The paper's comparison: Barlow Twins vs the dual encoder across batch sizes (`tinybt compare`).

For one dataset and encoder, both objectives train at each batch size for the same
number of epochs, so every run sees the same training examples (one per train user
per epoch, less the dropped last partial batch) and a batch of 16 takes 16× the
optimiser steps of a batch of 256. Peak learning rate: the same for every batch size
by default (Adam's step size does not grow with the batch; the schedule's warm-up and
cosine are fractions of each run's own steps); `--lr-scaling sqrt` uses lr·√(B/128).

Then every run and the shared reference rows are probed (the random encoder is the
same for all runs: both objectives draw the encoder first from the config's seed).
OUT/compare.json, OUT/compare.md and, when matplotlib is importable,
OUT/accuracy_vs_batch.png and OUT/accuracy_vs_labels.png (with --split val: the same
names ending in -val, so tuning never overwrites the test results). Each run keeps its folder
OUT/<objective>-b<B>; a folder holding a finished run of the same config is reused and
an unfinished one resumed, so an interrupted comparison continues where it stopped.
"""

import json
import math
import time
from dataclasses import asdict, replace
from pathlib import Path

from tinybt.atomic import atomic_open, write_text
from tinybt.errors import TinyBTError
from tinybt.evaluate import BAG, OBJECTIVE_ROW, RANDOM, check_fractions, check_options, check_tasks, \
    probe_rows, reference_features
from tinybt.probe import LABEL_FRACTIONS, format_markdown

BATCH_SIZES = (16, 32, 64, 128, 256)
OBJECTIVES = ("barlow", "dual")
LR_BASE_BATCH = 128
PLOTS = ("accuracy_vs_batch", "accuracy_vs_labels")


def output_name(stem, split, ext):
    """compare.json (test) / compare-val.json (val)."""
    return f"{stem}{'' if split == 'test' else '-' + split}.{ext}"


def scaled_lr(lr, batch_size, scaling):
    if scaling == "none":
        return lr
    if scaling == "sqrt":
        return lr * math.sqrt(batch_size / LR_BASE_BATCH)
    raise TinyBTError(f"--lr-scaling: expected none or sqrt, got {scaling!r}")


def row_name(objective, batch_size):
    return f"{OBJECTIVE_ROW[objective]} B={batch_size}"


def _same_recipe(a, b):
    ignore = {"version": "", "threads": None}
    return asdict(a) | ignore == asdict(b) | ignore


def train_or_reuse(cfg, path, echo):
    """Train cfg into path, or reuse/resume a run already there; -> its metrics rows (one per epoch)."""
    from tinybt.train import run_dir
    from tinybt.train.trainer import train

    if not (path / run_dir.CONFIG).exists():
        echo(f"train {path.name} ...")
        train(cfg, out=path, progress=False)
    elif not _same_recipe(run_dir.load_config(path), cfg):
        raise TinyBTError(f"--out: {path} holds a run with another config; pick a fresh --out")
    elif len(run_dir.read_metrics(path)) >= cfg.epochs:
        echo(f"reuse {path}")
    else:
        echo(f"resume {path}")
        train(resume=path, threads=cfg.threads, progress=False)
    return run_dir.read_metrics(path)


def compare(settings, batch_sizes=BATCH_SIZES, out=None, lr_scaling="none", tasks=None,
            label_fractions=LABEL_FRACTIONS, seeds=5, split="test", echo=print):
    """settings: TrainConfig fields shared by every run. Returns the markdown file written."""
    from tinybt.train import checkpoint, run_dir
    from tinybt.train.config import TrainConfig
    from tinybt.train.embed import encode_users
    from tinybt.train.trainer import encoder_config, load_sequences

    check_options(seeds, split)
    fractions = check_fractions(label_fractions)
    if not batch_sizes or min(batch_sizes) < 2:
        raise TinyBTError(f"--batch-sizes: expected batch sizes >= 2 like 16,32,64, got {batch_sizes}")
    batch_sizes = sorted(set(batch_sizes))
    base = TrainConfig(**settings).validate()
    scaled_lr(base.lr, 2, lr_scaling)          # a bad --lr-scaling fails now, not after training
    ds, seqs = load_sequences(base)
    tasks = check_tasks(tasks, ds)
    out = Path(out or f"runs/compare-{base.dataset}-{base.encoder}")
    out.mkdir(parents=True, exist_ok=True)

    runs = []
    for objective in OBJECTIVES:
        for B in batch_sizes:
            cfg = replace(base, objective=objective, batch_size=B, lr=scaled_lr(base.lr, B, lr_scaling))
            path = out / f"{objective}-b{B}"
            metrics = train_or_reuse(cfg, path, echo)
            seconds = sum(r["seconds"] for r in metrics)
            runs.append({"objective": objective, "batch_size": B, "lr": cfg.lr, "run_dir": str(path),
                         "steps": sum(r["steps"] for r in metrics), "train_seconds": round(seconds, 1),
                         "final_loss": metrics[-1]["loss"]})
            echo(f"  {objective} B={B}: {runs[-1]['steps']} steps, {seconds:.0f} s")

    t0 = time.perf_counter()
    enc = encoder_config(base, seqs)
    features = {row_name(r["objective"], r["batch_size"]):
                encode_users(checkpoint.load(Path(r["run_dir"]) / run_dir.CHECKPOINT)[0], enc, seqs)
                for r in runs}
    features |= reference_features(base, seqs, enc)
    results = probe_rows(features, ds, seqs, tasks, fractions, seeds, split, echo=echo)
    meta = {"settings": asdict(base), "batch_sizes": batch_sizes, "lr_scaling": lr_scaling,
            "tasks": tasks, "label_fractions": list(fractions), "seeds": seeds, "split": split,
            "runs": runs, "probe_seconds": round(time.perf_counter() - t0, 1)}
    write_text(out / output_name("compare", split, "json"), json.dumps({"meta": meta, "results": results}, indent=1) + "\n")
    plotted = plot(results, meta, out)
    md = out / output_name("compare", split, "md")
    write_text(md, format_compare(results, meta, plotted))
    return md


def _mean(results, row, task, fraction, key="accuracy"):
    fr = next(f for f in results[row][task]["fractions"] if f["fraction"] == fraction)
    return fr[key]["mean"]


def format_compare(results, meta, plotted):
    """Run table, the BT − dual differences, then report.py's per-task tables."""
    s = meta["settings"]
    lines = [f"# Barlow Twins vs dual encoder: {s['dataset']}, {s['encoder']}", "",
             f"{s['epochs']} epoch(s) per run (same examples for every batch size), peak lr {s['lr']:g} "
             f"(scaling: {meta['lr_scaling']}), D={s['dim']}, max_len={s['max_len']}, projector "
             f"{s['projector']}, λ={s['lambd']:g}, τ={s['tau']:g}, augment {s['augment']}, seed {s['seed']}. "
             f"Probe: {meta['split']} accuracy, {meta['seeds']} seeds; probing took {meta['probe_seconds']:.0f} s.",
             "", "| objective | batch | lr | steps | train s | final loss |", "|---|---:|---:|---:|---:|---:|"]
    for r in meta["runs"]:
        lines.append(f"| {OBJECTIVE_ROW[r['objective']]} | {r['batch_size']} | {r['lr']:.3g} | {r['steps']} | "
                     f"{r['train_seconds']:.0f} | {r['final_loss']:.4g} |")
    fractions = meta["label_fractions"]
    lines += ["", f"## Barlow Twins − dual encoder ({meta['split']} accuracy, points)", "",
              "| task | batch | " + " | ".join(f"{100 * f:g} % labels" for f in fractions) + " |",
              "|---|---:|" + "---:|" * len(fractions)]
    for task in meta["tasks"]:
        for B in meta["batch_sizes"]:
            d = [100 * (_mean(results, row_name("barlow", B), task, f) - _mean(results, row_name("dual", B), task, f))
                 for f in fractions]
            lines.append(f"| {task} | {B} | " + " | ".join(f"{x:+.1f}" for x in d) + " |")
    lines.append("")
    if plotted:
        lines += [f"![{p}]({p})" for p in plotted] + [""]
    else:
        lines += ["(matplotlib is not installed: tables only; `pip install matplotlib` for the plots.)", ""]
    return "\n".join(lines) + "\n" + format_markdown(results, None, meta["split"])


def plot(results, meta, out):
    """The two PNGs, or [] without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    tasks, fractions, sizes = meta["tasks"], meta["label_fractions"], meta["batch_sizes"]
    colors = {"barlow": "tab:blue", "dual": "tab:red"}
    styles = ["-", "--", ":", "-."]
    refs = ((BAG, "tab:green"), (RANDOM, "tab:gray"))

    fig, axes = plt.subplots(1, len(tasks), figsize=(4.5 * len(tasks), 3.6), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        for obj in OBJECTIVES:
            for f, ls in zip(fractions, styles * 4):
                ax.plot(sizes, [100 * _mean(results, row_name(obj, B), task, f) for B in sizes], ls,
                        color=colors[obj], marker="o", ms=3, label=f"{OBJECTIVE_ROW[obj]}, {100 * f:g} % labels")
        for name, c in refs:
            ax.axhline(100 * _mean(results, name, task, fractions[-1]), color=c, lw=0.8,
                       label=f"{name}, {100 * fractions[-1]:g} % labels")
        ax.axhline(100 * _mean(results, BAG, task, fractions[-1], "majority"), color="k", lw=0.6, ls=":",
                   label="majority")
        ax.set(xscale="log", xlabel="batch size", ylabel=f"{meta['split']} accuracy %", title=task)
        ax.minorticks_off()
        ax.set_xticks(sizes, [str(b) for b in sizes])
    names = [output_name(p, meta["split"], "png") for p in PLOTS]
    _save(fig, axes, out / names[0])

    fig, axes = plt.subplots(1, len(tasks), figsize=(4.5 * len(tasks), 3.6), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        for obj in OBJECTIVES:
            for B, ls in zip(sorted({sizes[0], sizes[-1]}), styles):
                ax.plot([100 * f for f in fractions], [100 * _mean(results, row_name(obj, B), task, f) for f in fractions],
                        ls, color=colors[obj], marker="o", ms=3, label=row_name(obj, B))
        for name, c in refs:
            ax.plot([100 * f for f in fractions], [100 * _mean(results, name, task, f) for f in fractions],
                    color=c, lw=0.8, label=name)
        ax.plot([100 * f for f in fractions], [100 * _mean(results, BAG, task, f, "majority") for f in fractions],
                color="k", lw=0.6, ls=":", label="majority")
        ax.set(xscale="log", xlabel="labelled train users %", ylabel=f"{meta['split']} accuracy %", title=task)
        ax.minorticks_off()
        ax.set_xticks([100 * f for f in fractions], [f"{100 * f:g}" for f in fractions])
    _save(fig, axes, out / names[1])
    return names


def _save(fig, axes, path):
    """Legend right of the last panel; written atomically (never half a PNG)."""
    import matplotlib.pyplot as plt

    axes[0][-1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5))
    fig.tight_layout()
    with atomic_open(path) as f:
        fig.savefig(f, dpi=110, bbox_inches="tight", format="png")
    plt.close(fig)
