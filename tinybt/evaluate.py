"""Probe a trained run (SPEC §4): `tinybt probe RUN_DIR`, also the end of `tinybt train`.

run folder -> the user vector of every user (encoder output, never the projector)
-> for each task a linear probe over label fractions × seeds (tinybt.probe), next to
the reference rows every table carries:
  random encoder   the run's architecture with the parameters it started from
                   (init seed = the config's seed), never trained
  bag of items     log1p counts of the history items, the same probe
  majority         most frequent class of the labelled train users (added by report.py)
-> results.json + results.md in the run folder (atomically) and the table as text.

split="val" reports validation accuracy instead, for tuning without touching test
users (tinybt.probe.probe's report="val").
"""

import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from tinybt.data.labels import DEMOGRAPHIC_TASKS, TASKS, default_tasks, make_labels
from tinybt.errors import TinyBTError
from tinybt.probe import LABEL_FRACTIONS, bag_of_items, format_markdown, probe
from tinybt.probe.report import write_results

OBJECTIVE_ROW = {"barlow": "Barlow Twins", "dual": "dual encoder"}
RANDOM, BAG = "random encoder", "bag of items"
SPLITS = ("test", "val")


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
    """Task names checked against what dataset `ds` has; None -> the SPEC's defaults."""
    if tasks is None:
        return default_tasks(ds.name)
    for t in tasks:
        if t not in TASKS:
            raise TinyBTError(f"--tasks: unknown task {t!r}; expected some of {', '.join(TASKS)}")
        if t in DEMOGRAPHIC_TASKS and t not in ds.demographics:
            have = [x for x in TASKS if x not in DEMOGRAPHIC_TASKS or x in ds.demographics]
            raise TinyBTError(f"--tasks: dataset {ds.name!r} has no {t!r} labels; "
                              f"it has {', '.join(have)}")
    return list(dict.fromkeys(tasks))


def check_options(seeds, split):
    if seeds < 1:
        raise TinyBTError(f"--seeds: must be at least 1, got {seeds}")
    if split not in SPLITS:
        raise TinyBTError(f"--split: expected test or val, got {split!r}")


def check_run_dir(path):
    """A finished run folder, or a TinyBTError naming RUN_DIR and what is missing."""
    from tinybt.train import run_dir

    path = Path(path)
    if not path.is_dir():
        raise TinyBTError(f"RUN_DIR: {path} is not a directory")
    for name, why in ((run_dir.CONFIG, "not a tinybt run folder"),
                      (run_dir.CHECKPOINT, "the run has not finished an epoch; train it first")):
        if not (path / name).is_file():
            raise TinyBTError(f"RUN_DIR: {path} has no {name} ({why})")
    return path


def reference_features(cfg, seqs, enc):
    """{random encoder: (U, D), bag of items: CSR (U, V+2)} for every row of seqs."""
    from tinybt.train.embed import encode_users
    from tinybt.train.trainer import init_model

    params, _ = init_model(cfg, enc, np.random.default_rng(cfg.seed))
    return {RANDOM: encode_users(params, enc, seqs),
            BAG: bag_of_items(seqs.hist_values, seqs.hist_offsets, seqs.n_items)}


def probe_rows(features, ds, seqs, tasks, label_fractions=LABEL_FRACTIONS, seeds=5,
               split="test", seed=0, echo=None):
    """features {row name: (U, ·)} -> {row name: {task: probe result}} (report.py's layout)."""
    labels = {t: make_labels(ds, seqs, t)[0] for t in tasks}
    out = {name: {} for name in features}
    for name, X in features.items():
        for t in tasks:
            t0 = time.perf_counter()
            out[name][t] = probe(X, labels[t], seqs.split, label_fractions=label_fractions, seeds=seeds,
                                 seed=seed, report=split)
            if echo:
                echo(f"probe {name} / {t}: {time.perf_counter() - t0:.1f} s")
    return out


def evaluate(path, tasks=None, label_fractions=LABEL_FRACTIONS, seeds=5, split="test", echo=None):
    """Probe run folder `path`; writes results.json/.md (results-val.* for split="val").
    Returns (results, markdown)."""
    from tinybt.train.embed import encode_users, load_run

    check_options(seeds, split)
    label_fractions = check_fractions(label_fractions)
    path = check_run_dir(path)
    t0 = time.perf_counter()
    cfg, ds, seqs, enc, params = load_run(path)
    tasks = check_tasks(tasks, ds)
    row = f"{OBJECTIVE_ROW[cfg.objective]} ({cfg.encoder})"
    features = {row: encode_users(params, enc, seqs)} | reference_features(cfg, seqs, enc)
    results = probe_rows(features, ds, seqs, tasks, label_fractions, seeds, split, echo=echo)
    title = f"{path.name}: {split} accuracy"
    meta = {"run_dir": str(path), "split": split, "tasks": tasks, "label_fractions": list(label_fractions),
            "seeds": seeds, "seconds": round(time.perf_counter() - t0, 1), "config": asdict(cfg)}
    write_results(path, results, meta, title, split)
    return results, format_markdown(results, title, split)
