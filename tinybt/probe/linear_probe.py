"""Linear probe of frozen user vectors for one task (SPEC §4).

For each label fraction f and seed s:
  1. draw n = max(2, round(f · N)) of the N labelled train users (see `label_subset`);
  2. standardise with the mean/std of exactly those rows (sparse input: scale only,
     centring would densify it; the unpenalised bias absorbs the offset anyway);
  3. fit one logistic regression per L2 value of the grid, keep the one with the best
     val accuracy (ties → the largest L2, the simpler model), report its test accuracy;
  4. the majority-class rate: the most frequent class of the same n rows, scored on test.
Results are mean ± std (sample std, ddof=1) over seeds. With f = 1 every seed draws the
same rows and the fit is deterministic, so it runs once and its std is 0.
Users with label -1 are left out of every step (train, val, test and statistics).
"""

import numpy as np
import scipy.sparse
from threadpoolctl import threadpool_limits

from tinybt.errors import TinyBTError
from tinybt.probe.logreg import MAX_ITER, as_float64, fit_logreg, predict

L2_GRID = (1e-4, 1e-3, 1e-2, 1e-1, 1.0)
LABEL_FRACTIONS = (0.01, 0.1, 1.0)
TRAIN, VAL, TEST = 0, 1, 2


def subset_size(fraction, n):
    """round(fraction · n), at least 2 rows (one class-contrast pair), at most n."""
    return min(n, max(2, int(np.floor(fraction * n + 0.5))))


def label_subset(y, fraction, rng):
    """Indices (sorted) of the rows of y to label.

    One seeded permutation is reordered so that the first row of every class comes
    first, then the rest in permutation order; the subset is its first n rows. So a
    subset holds one user per class whenever n ≥ the number of classes (else n
    distinct classes), and for one rng state smaller fractions are nested in larger ones.
    """
    order = rng.permutation(len(y))
    _, first = np.unique(y[order], return_index=True)
    first = np.sort(first)
    ordering = np.concatenate([order[first], np.delete(order, first)])
    return np.sort(ordering[:subset_size(fraction, len(y))])


def _standardiser(X):
    """(shift, scale) from the rows of X: x ↦ (x − shift) / scale. Constant columns keep scale 1."""
    if scipy.sparse.issparse(X):
        mean = np.asarray(X.mean(axis=0)).ravel()
        var = np.maximum(np.asarray(X.multiply(X).mean(axis=0)).ravel() - mean ** 2, 0.0)
        shift = None
    else:
        shift, var = X.mean(axis=0), X.var(axis=0)
    scale = np.sqrt(var)
    scale[scale == 0] = 1.0
    return shift, scale


def _apply(X, shift, scale):
    if scipy.sparse.issparse(X):
        return X @ scipy.sparse.diags(1.0 / scale)
    return (X - shift) / scale


def _summary(values):
    v = np.asarray(values, dtype=np.float64)
    return {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if len(v) > 1 else 0.0}


def _check_inputs(features, labels, split, l2_grid, label_fractions, seeds, report):
    if features.ndim != 2:
        raise TinyBTError(f"probe: features must be 2-D (users, dims), got shape {features.shape}")
    U = features.shape[0]
    if labels.shape != (U,) or split.shape != (U,):
        raise TinyBTError(f"probe: labels {labels.shape} and split {split.shape} must both be ({U},) "
                          f"to match features {features.shape}")
    if not np.all(np.isin(split, (TRAIN, VAL, TEST))):
        raise TinyBTError("probe: split must hold only 0 (train), 1 (val), 2 (test)")
    data = features.data if scipy.sparse.issparse(features) else features
    if not np.all(np.isfinite(data)):
        raise TinyBTError("probe: features contain NaN or inf")
    if labels.min(initial=0) < -1:
        raise TinyBTError("probe: labels must be class indices ≥ 0, or -1 for unknown")
    for f in label_fractions:
        if not 0 < f <= 1:
            raise TinyBTError(f"probe: label fraction must be in (0, 1], got {f}")
    if not l2_grid or min(l2_grid) < 0:
        raise TinyBTError(f"probe: the L2 grid must be non-empty and ≥ 0, got {tuple(l2_grid)}")
    if seeds < 1:
        raise TinyBTError(f"probe: seeds must be ≥ 1, got {seeds}")
    if report not in ("test", "val"):
        raise TinyBTError(f"probe: report must be 'test' or 'val', got {report!r}")


def probe(features, labels, split, l2_grid=L2_GRID, label_fractions=LABEL_FRACTIONS,
          seeds=5, seed=0, max_iter=MAX_ITER, report="test"):
    """Probe one task. features (U, D) float ndarray or sparse; labels int (U,), -1 = unknown;
    split int (U,) 0/1/2 = train/val/test. Returns a JSON-serialisable dict (accuracies in [0, 1]).

    report="val" (for tuning without touching test users) reports, per label subset, the val
    accuracy of the L2 the probe picked (the best of its grid, so slightly optimistic, equally
    for every feature set) and the val majority rate instead of the test ones."""
    X = as_float64(features)
    labels, split = np.asarray(labels).astype(np.int64), np.asarray(split)
    _check_inputs(X, labels, split, l2_grid, label_fractions, seeds, report)

    known = labels >= 0
    tr, va, te = (np.flatnonzero(known & (split == s)) for s in (TRAIN, VAL, TEST))
    for name, rows in (("train", tr), ("val", va), ("test", te)):
        if len(rows) < (2 if name == "train" else 1):
            raise TinyBTError(f"probe: only {len(rows)} labelled {name} users; "
                              f"need at least {2 if name == 'train' else 1}")
    n_classes = int(labels[known].max()) + 1
    ytr, yva = labels[tr], labels[va]
    scored = te if report == "test" else va          # the users the chosen fits are scored on
    with threadpool_limits(1, user_api="blas"):   # tiny GEMMs: a thread hand-off costs more than the work
        out = [_probe_fraction(X[tr], ytr, X[va], yva, X[scored], labels[scored], n_classes, f, l2_grid,
                               seeds, seed, max_iter) for f in label_fractions]
    return {"n_classes": n_classes, "n_train": len(tr), "n_val": len(va), "n_test": len(te),
            "l2_grid": [float(v) for v in l2_grid], "seeds": int(seeds), "seed": int(seed),
            "fractions": out}


def _probe_fraction(Xtr, ytr, Xva, yva, Xsc, ysc, n_classes, fraction, l2_grid, seeds, seed, max_iter):
    """Steps 1-4 of the module docstring for one label fraction, over the seeds; the chosen
    fits are scored on (Xsc, ysc): the test users, or the val users again for report="val"."""
    n_runs = 1 if subset_size(fraction, len(ytr)) == len(ytr) else seeds
    runs = {"accuracy": [], "majority": [], "l2": [], "val_accuracy": []}
    for s in range(n_runs):
        rows = label_subset(ytr, fraction, np.random.default_rng([seed, s]))
        Xs, ys = Xtr[rows], ytr[rows]
        shift, scale = _standardiser(Xs)
        Xs, Xv, Xc = (_apply(A, shift, scale) for A in (Xs, Xva, Xsc))
        # Best val accuracy; scanning the grid from the largest L2 with a strict '>'
        # keeps the largest L2 among ties.
        best = None
        for l2 in sorted(l2_grid, reverse=True):
            model = fit_logreg(Xs, ys, n_classes, l2, max_iter=max_iter)
            acc = float(np.mean(predict(model, Xv) == yva))
            if best is None or acc > best[0]:
                best = (acc, model)
        majority = int(np.argmax(np.bincount(ys, minlength=n_classes)))
        runs["accuracy"].append(float(np.mean(predict(best[1], Xc) == ysc)))
        runs["majority"].append(float(np.mean(ysc == majority)))
        runs["l2"].append(best[1].l2)
        runs["val_accuracy"].append(best[0])
    return {"fraction": float(fraction), "n_train": subset_size(fraction, len(ytr)), "n_runs": n_runs,
            "accuracy": _summary(runs["accuracy"]), "majority": _summary(runs["majority"]), "runs": runs}
