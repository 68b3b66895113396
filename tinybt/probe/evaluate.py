"""Evaluate user vectors (docs/protocol.md): `tinybt probe RUN_DIR`, also the end of `tinybt train`.

An ARM is a row of the tables: one or more runs (pretraining seeds), each giving user
vectors (and, for encoders, the item embedding table used for retrieval):
  <objective> (<encoder>)  the trained run(s): the encoder output (the default user vector)
  ... projector output     Barlow Twins runs, on request: the encoder output through the projector in
                           evaluation mode (models/encode_projector.py; no retrieval: P ≠ D)
  untrained encoder        the same architecture with the parameters a run started from
  bag of items             log1p counts of the whole history's items (no retrieval: no item vectors)
  bag of items (last max_len)  the same over the window the encoder sees: equal information
  majority                 most frequent class of each labelled subset (from the probes)
  most popular             retrieval only: items ranked by their count in all histories
Every arm is probed on the same folds and label subsets (linear_probe.py), so any two
arms can be compared user by user (stats.py). compare.py uses the same functions.
-> results.json + results.md in the run folder (atomically) and the tables as text.
"""

import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import scipy.sparse

from tinybt.data.labels import DEMOGRAPHIC_TASKS, TASKS, check_ratings, default_tasks, make_labels
from tinybt.errors import TinyBTError
from tinybt.probe import FOLDS, LABEL_FRACTIONS, bag_of_items, memo
from tinybt.probe.folds import POOLS, pool_mask
from tinybt.probe.linear_probe import TooFewLabels, probe_plan
from tinybt.probe.pool import load_shared, run_tasks, shared_folder
from tinybt.probe.report import MAJORITY, POPULAR, format_markdown, write_results
from tinybt.probe.retrieval import cosine_scorer, popularity_scorer, retrieval_metrics
from tinybt.probe.stats import N_BOOT, bootstrap_ci
from tinybt.progress import Progress
from tinybt.run import memory

OBJECTIVE_ROW = {"barlow": "Barlow Twins", "dual": "dual encoder"}
RANDOM, BAG, BAG_WINDOW = "untrained encoder", "bag of items", "bag of items (last max_len)"
PRETRAIN_TEXT = {"all": "pretrained on every user's history (no future window, no label)",
                 "train": "pretrained on the train users only (held-out users)"}


def parse_list(text, flag, kind=str):
    """'a,b' -> [kind(a), kind(b)]; None stays None (the default)."""
    if text is None:
        return None
    try:
        items = [kind(p.strip()) for p in str(text).split(",") if p.strip()]
    except ValueError:
        items = []
    if not items:
        what = {str: "names", int: "integers", float: "numbers"}[kind]
        raise TinyBTError(f"{flag}: expected a comma-separated list of {what}, got {text!r}")
    return items


def check_fractions(fractions):
    """-> tuple of distinct fractions, each in (0, 1]."""
    if not fractions or not all(0 < f <= 1 for f in fractions):
        raise TinyBTError(f"--label-fractions: expected fractions in (0, 1] like 0.01,0.1,1, "
                          f"got {','.join(map(str, fractions))}")
    return tuple(dict.fromkeys(float(f) for f in fractions))


def check_tasks(tasks, ds):
    """Task names checked against what dataset `ds` has; None -> the dataset's defaults."""
    if tasks is None:
        return default_tasks(ds.name)
    for t in tasks:
        if t not in TASKS:
            raise TinyBTError(f"--tasks: unknown task {t!r}; expected some of {', '.join(TASKS)}")
        if t in DEMOGRAPHIC_TASKS and t not in ds.demographics:
            have = [x for x in TASKS if x not in DEMOGRAPHIC_TASKS or x in ds.demographics]
            raise TinyBTError(f"--tasks: dataset {ds.name!r} has no {t!r} labels; "
                              f"it has {', '.join(have)}")
        try:
            check_ratings(ds, t)
        except TinyBTError as e:
            raise TinyBTError(f"--tasks: {e}") from None
    return list(dict.fromkeys(tasks))


def check_options(seeds, split, folds=FOLDS, jobs=1):
    if seeds < 1:
        raise TinyBTError(f"--seeds: must be at least 1, got {seeds}")
    if split not in POOLS:
        raise TinyBTError(f"--split: expected test or val, got {split!r}")
    if folds < 2:
        raise TinyBTError(f"--folds: must be at least 2, got {folds}")
    if jobs < 1:
        raise TinyBTError(f"--jobs: must be at least 1, got {jobs}")


def dataset_title(ds):
    """The dataset's name in tables; ML-1M with one constant rating is the pairs-only copy."""
    if ds.name == "ml-1m" and len(ds.rating) and np.ptp(ds.rating) == 0:
        return "ML-1M pairs (file order, no ratings)"
    return ds.name


def check_run_dir(path):
    """A finished run folder, or a TinyBTError naming RUN_DIR and what is missing."""
    from tinybt.run import run_dir

    path = Path(path)
    if not path.is_dir():
        raise TinyBTError(f"RUN_DIR: {path} is not a directory")
    for name, why in ((run_dir.CONFIG, "not a tinybt run folder"),
                      (run_dir.CHECKPOINT, "the run has not finished an epoch; train it first")):
        if not (path / name).is_file():
            raise TinyBTError(f"RUN_DIR: {path} has no {name} ({why})")
    return path


def encoder_run(params, enc, seqs):
    """One run of an encoder arm: its user vectors and item embedding table."""
    from tinybt.models.encode import encode_users

    return {"features": encode_users(params, enc, seqs), "items": params["item_emb.weight"]}


def projector_row(row):
    """The arm of a Barlow Twins row's projector outputs."""
    return f"{row} projector output"


def projector_run(params, buffers, enc, seqs):
    """One run of a projector-output arm (its vectors are P-dimensional: no item table to rank)."""
    from tinybt.models.encode_projector import project_users

    return {"features": project_users(params, buffers, enc, seqs), "items": None}


def bag_arms(seqs):
    """{bag of items: the whole history, bag of items (last max_len): the items the encoder sees
    (seqs' history window)}, one run each."""
    parts = {BAG: (seqs.seen_values, seqs.seen_offsets), BAG_WINDOW: (seqs.hist_values, seqs.hist_offsets)}
    return {name: [{"features": bag_of_items(v, o, seqs.n_items), "items": None}] for name, (v, o) in parts.items()}


def reference_arms(cfgs, seqs, enc):
    """{untrained encoder: one run per config (its init seed)} and the two bag-of-items arms."""
    from tinybt.train.trainer import init_model

    untrained = [encoder_run(init_model(c, enc, np.random.default_rng(c.seed))[0], enc, seqs) for c in cfgs]
    return {RANDOM: untrained} | bag_arms(seqs)


def _probe_task(shared, task, tick):
    """One (arm, run, task) probe on a worker (pool.py): features and labels come from `shared`."""
    features, task_name, kw = task
    try:
        return memo.probe(shared[features], shared[f"labels/{task_name}"], shared["split"], tick=tick, **kw)
    except TooFewLabels as e:
        return f"skipped: {e}"


def probe_arrays(arms, labels, split):
    """What the probes share (pool.shared_folder): every run's features, moved out of `arms`
    ("ARM/RUN"), the labels ("labels/TASK") and the split."""
    arrays = {f"{a}/{r}": run.pop("features") for a, runs in arms.items() for r, run in enumerate(runs)}
    return arrays | {f"labels/{t}": y for t, y in labels.items()} | {"split": split}


def _probes(folder, runs, tasks, kw, jobs, echo):
    """Every (arm, run, task) probe of the arrays in `folder` (pool.shared_folder: "ARM/RUN"
    features, "labels/TASK", "split"; runs: {arm: number of runs}), on `jobs` processes, under
    one progress bar of estimated seconds (`_cost`). Each label fraction is a worker task of its
    own (probe() draws every fraction's subsets from its own seeds, so the parts make the
    whole), handed out costliest first so that the processes finish together.
    -> {task: {arm: [probe output per run]} or "skipped: ..."}."""
    shared = load_shared(folder)
    probes = [(a, r, t) for t in tasks for a in runs for r in range(runs[a])]
    parts = [(p, kw | {"label_fractions": (f,)}) for p in probes for f in kw["label_fractions"]]
    cost = [_cost(shared[f"{a}/{r}"], int(shared[f"labels/{t}"].max()) + 1,
                  probe_plan(shared[f"labels/{t}"], shared["split"], **pkw)) for (a, r, t), pkw in parts]
    del shared
    order = sorted(range(len(parts)), key=lambda i: -cost[i][0])
    names = [f"({a}, run {r + 1}, {t}, {pkw['label_fractions'][0]:.0%} labels)" for (a, r, t), pkw in parts]
    work = [(f"{a}/{r}", t, pkw) for (a, r, t), pkw in parts]
    running = {}

    def on_tick(i, rows):
        running[i] = names[order[i]]
        bar.update(rows * cost[order[i]][1], f"{len(running)} running: {' '.join(running.values())}"[:60])

    def on_done(i, _):
        running.pop(i, None)
    label = f"probes ({len(parts)} on {jobs} process(es))"
    with Progress(sum(c for c, _ in cost), label, show=echo is not None) as bar:
        done = run_tasks(_probe_task, folder, [work[i] for i in order], [names[i] for i in order], jobs,
                         on_tick, on_done)
    result = dict(zip(order, done))
    out = {t: {a: [] for a in runs} for t in tasks}
    n_fr = len(kw["label_fractions"])
    for k, (a, _, t) in enumerate(probes):
        res = [result[k * n_fr + i] for i in range(n_fr)]
        if isinstance(res[0], str):
            out[t] = res[0]
        elif isinstance(out[t], dict):
            out[t][a].append(res[0] | {"fractions": [fr for r in res for fr in r["fractions"]]})
    return out


# A probe's CPU seconds, roughly: FIT_S for each (label seed, fold) fit, whatever its size (its
# path of 9 L2 values × inner folds, mostly Python), plus ROW_S per labelled row × class × feature
# column, times SPARSE_X for a sparse bag of items (nonzeros per row as its columns; no
# principal-axes reduction, slower products, more steps). Fitted by benchmarks/probe_cost.py to
# the 36 probes of the default ML-1M job: each within 2.6× of its measured time, where rows
# fitted alone (the bar's old unit) were off by up to 54×. It orders the tasks and sets the ETA.
FIT_S, ROW_S, SPARSE_X = 0.05, 3.9e-7, 7.2


def _cost(X, n_classes, plan):
    """(estimated seconds of one probe part whose fits label `plan` rows each, seconds per row
    ticked): the progress bar counts rows × the second number."""
    width = X.nnz / max(X.shape[0], 1) * SPARSE_X if scipy.sparse.issparse(X) else X.shape[1]
    rows = sum(plan)
    seconds = FIT_S * len(plan) + ROW_S * rows * n_classes * width
    return seconds, seconds / rows if rows else 0.0


def _retrieval(arms, shared, seqs, users, echo):
    """Recall/NDCG per arm that ranks items (and most popular), under one progress bar of users."""
    scorers = {POPULAR: [popularity_scorer(seqs)]}
    scorers |= {a: [cosine_scorer(shared[f"{a}/{r}"], run["items"]) for r, run in enumerate(runs)]
                for a, runs in arms.items() if runs[0]["items"] is not None}
    n = sum(map(len, scorers.values()))
    with Progress(n * len(users), f"retrieval ({n} rankings of {len(users)} users)", show=echo is not None) as bar:
        return {a: [retrieval_metrics(sc, seqs, users, tick=bar.update) for sc in runs] for a, runs in scorers.items()}


def task_labels(ds, seqs, tasks):
    """{task: labels (U,)}: all that the probes need of the dataset itself."""
    return {t: make_labels(ds, seqs, t)[0] for t in tasks}


def score(arms, labels, seqs, label_fractions=LABEL_FRACTIONS, seeds=5, split="test", folds=FOLDS,
          jobs=1, seed=0, echo=None):
    """Probe every run of every arm on every task of `labels` ({task: (U,)}), and rank items for
    retrieval. The runs' features move to memory-mapped files (pool.shared_folder): `arms`
    keeps their "items" only, and this process no copy of what the workers fit.
    -> {"probe": {task: {arm: [probe output per run]} or "skipped: ..."},
        "retrieval": {arm: [(recall (N,), ndcg (N,)) per run]}, "retrieval_users": (N,)}."""
    n_classes = max(int(y.max()) + 1 for y in labels.values())
    memory.check_probe(max(memory.probe_bytes(r["features"], n_classes) for runs in arms.values() for r in runs), jobs)
    arrays = probe_arrays(arms, labels, seqs.split)
    kw = dict(pool=split, folds=folds, label_fractions=label_fractions, seeds=seeds, seed=seed)
    with shared_folder(arrays) as folder:
        t0 = time.perf_counter()
        out = {"probe": _probes(folder, {a: len(runs) for a, runs in arms.items()}, list(labels), kw, jobs, echo)}
        if echo:
            echo(f"probes: {sum(map(len, arms.values())) * len(labels)} (arm, run, task) jobs on {jobs} "
                 f"process(es) in {time.perf_counter() - t0:.0f} s")
        t0 = time.perf_counter()
        users = np.flatnonzero(pool_mask(seqs.split, split))
        ret = _retrieval(arms, load_shared(folder), seqs, users, echo)
    keep = np.isfinite(ret[POPULAR][0][0])             # users with a target left after removing seen items
    out["retrieval"] = {a: [(rc[keep], nd[keep]) for rc, nd in runs] for a, runs in ret.items()}
    out["retrieval_users"] = users[keep]
    if echo:
        echo(f"retrieval: {len(ret)} arms, {keep.sum()} users in {time.perf_counter() - t0:.0f} s")
    return out


def _hits(outs, i, key="pred"):
    """(runs, N): per run, each user's hit rate over the label seeds of fraction i."""
    return np.stack([np.mean(o["fractions"][i][key] == o["y"], axis=0) for o in outs])


def _task_outs(task_scores, arm):
    """The probe outputs of `arm` for one task (the majority row reads the first arm's)."""
    if arm == MAJORITY:
        return next(iter(task_scores.values()))[:1]
    return task_scores[arm]


def _arm_hits(task_scores, arm, i):
    return _hits(_task_outs(task_scores, arm), i, "majority" if arm == MAJORITY else "pred")


def summarise(scores, n_boot=N_BOOT, seed=0):
    """Per-arm values with 95 % intervals (JSON-serialisable): accuracy and balanced accuracy per
    task × fraction, Recall@10 / NDCG@10 per arm."""
    probes = {}
    for task, ts in scores["probe"].items():
        if isinstance(ts, str):
            probes[task] = {"skipped": ts}
            continue
        first = next(iter(ts.values()))[0]
        y = first["y"]
        rows = {}
        for arm in list(ts) + [MAJORITY]:
            outs = _task_outs(ts, arm)
            hits = [_arm_hits(ts, arm, i) for i in range(len(first["fractions"]))]
            rows[arm] = {"runs": len(outs), "cells": [
                {"accuracy": bootstrap_ci(h, n_boot=n_boot, seed=seed),
                 "balanced": bootstrap_ci(h, groups=y, n_boot=n_boot, seed=seed)} for h in hits]}
        probes[task] = {"n_users": first["n_users"], "n_classes": first["n_classes"], "folds": first["folds"],
                        "pool": first["pool"], "seeds": first["seeds"],
                        "fractions": [{"fraction": fr["fraction"], "n_labelled": fr["n_labelled"], "n_runs": fr["n_runs"]}
                                      for fr in first["fractions"]],
                        "rows": rows}
    retrieval = {a: {m: bootstrap_ci(np.stack([r[j] for r in runs]), n_boot=n_boot, seed=seed)
                     for j, m in enumerate(("recall", "ndcg"))} | {"runs": len(runs)}
                 for a, runs in scores["retrieval"].items()}
    return {"probe": probes, "retrieval": retrieval, "retrieval_users": int(len(scores["retrieval_users"]))}


def difference(scores, a, b, n_boot=N_BOOT, seed=0):
    """a − b, paired over users (and two-level over runs): accuracy per task × fraction
    ("skipped: ..." for a skipped task) and Recall@10 when both arms rank items."""
    probes = {}
    for task, ts in scores["probe"].items():
        if isinstance(ts, str):
            probes[task] = ts
            continue
        n = len(next(iter(ts.values()))[0]["fractions"])
        probes[task] = [bootstrap_ci(_arm_hits(ts, a, i), _arm_hits(ts, b, i), n_boot=n_boot, seed=seed)
                        for i in range(n)]
    ret = scores["retrieval"]
    recall = None
    if a in ret and b in ret:
        recall = bootstrap_ci(np.stack([r[0] for r in ret[a]]), np.stack([r[0] for r in ret[b]]),
                              n_boot=n_boot, seed=seed)
    return {"a": a, "b": b, "probe": probes, "recall": recall}


def evaluate(path, tasks=None, label_fractions=LABEL_FRACTIONS, seeds=5, split="test", folds=FOLDS,
             jobs=1, echo=None, projector=False):
    """Probe run folder `path` (projector: a Barlow Twins run's projector output too); writes
    results.json/.md (results-val.* for split="val"). Returns (results, markdown)."""
    from tinybt.run import checkpoint, run_dir
    from tinybt.train.embed import load_run

    check_options(seeds, split, folds, jobs)
    label_fractions = check_fractions(label_fractions)
    path = check_run_dir(path)
    t0 = time.perf_counter()
    cfg, ds, seqs, enc, params = load_run(path)
    labels = task_labels(ds, seqs, check_tasks(tasks, ds))
    name = dataset_title(ds)
    del ds      # its interaction columns (memory-mapped, ~0.3 GB at ML-20M) end with the labels
    row = f"{OBJECTIVE_ROW[cfg.objective]} ({cfg.encoder})"
    arms = {row: [encoder_run(params, enc, seqs)]}
    pairs = [(row, b) for b in (BAG, BAG_WINDOW, RANDOM)]
    if projector and cfg.objective == "barlow":
        buffers = checkpoint.load(path / run_dir.CHECKPOINT)[1]      # load_run keeps the params only
        arms[projector_row(row)] = [projector_run(params, buffers, enc, seqs)]
        pairs.append((projector_row(row), row))
    arms |= reference_arms([cfg], seqs, enc)
    scores = score(arms, labels, seqs, label_fractions, seeds, split, folds, jobs, echo=echo)
    results = summarise(scores)
    results["differences"] = [difference(scores, a, b) for a, b in pairs]
    seconds = round(time.perf_counter() - t0, 1)
    title = f"{path.name}: {name}, {split} pool"
    meta = {"run_dir": str(path), "dataset": name, "split": split, "folds": folds, "tasks": list(labels),
            "label_fractions": list(label_fractions), "seeds": seeds, "pretrain_users": cfg.pretrain_users,
            "pretrain_text": PRETRAIN_TEXT[cfg.pretrain_users], "seconds": seconds, "config": asdict(cfg)}
    write_results(path, results, meta, title, split)
    return results, format_markdown(results, meta, title)
