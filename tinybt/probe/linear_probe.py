"""Cross-validated linear probe of frozen user vectors for one task (docs/protocol.md).

Over the N labelled users of one pool (folds.py) split into k stratified folds, for each
label fraction f and label seed s, for each fold j:
  1. the training folds (every fold but j) hold n_j users; label n = max(2, round(f · n_j))
     of them (`label_subset`, seeded by (seed, s, j), so every feature set gets the same ones);
  2. standardise with the mean/std of exactly those rows (sparse input: scale only,
     centring would densify it; the unpenalised bias absorbs the offset anyway);
  3. choose L2 by an inner stratified 3-fold CV on those n rows only (`choose_l2`), refit
     on all n rows (warm-started at the inner fit of that L2) and predict fold j: fold j
     never influences its own predictions;
  4. the majority class of the same n rows predicts fold j too (the "majority" row).
So every pool user gets exactly one prediction per (fraction, label seed). With f = 1
every seed labels the same rows and the fit is deterministic, so it runs once.
Users with label -1 are not in any pool. Accuracy summaries and intervals: stats.py.
"""

import numpy as np
import scipy.sparse
from threadpoolctl import threadpool_limits

from tinybt.errors import TinyBTError
from tinybt.probe.folds import pool_mask, stratified_folds
from tinybt.probe.logreg import MAX_ITER, as_float64, column_means, fit, fit_logreg, predict, prepare

# from nearly unpenalised to bias-only in effect: at 1e4 the weights move no logit by more
# than ~1e-4 on standardised features, so the fit predicts the labelled rows' majority class
# (tests/test_linear_probe.py). With a few dozen labels the inner CV must be able to choose "no signal".
L2_GRID = (1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0, 1e3, 1e4)
LABEL_FRACTIONS = (0.01, 0.1, 1.0)
FOLDS = 5
INNER_FOLDS = 3


class TooFewLabels(TinyBTError):
    """A task whose pool is too small to cross-validate: its table is skipped, not the whole report."""


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
        mean = column_means(X)
        var = np.maximum(column_means(X, squares=True) - mean ** 2, 0.0)
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


def inner_fits(n, l2_grid):
    """The fits choose_l2 makes on n rows: every L2 on every inner fold, or none when fewer than
    2·INNER_FOLDS rows cannot be cross-validated."""
    return INNER_FOLDS * len(l2_grid) if n >= 2 * INNER_FOLDS else 0


def choose_l2(X, y, n_classes, l2_grid, seed, max_iter=MAX_ITER, on_fit=None):
    """(the L2 of the grid with the most correct inner-CV predictions on (X, y) alone, a fit
    at that L2 on part of the rows to start the final fit from, or None). Ties → the largest
    L2, the simpler model. Fewer than 2·INNER_FOLDS rows cannot be cross-validated: the largest L2.
    on_fit() (optional) after each fit."""
    grid = sorted(l2_grid, reverse=True)
    if not inner_fits(len(y), grid):
        return grid[0], None
    inner = stratified_folds(y, INNER_FOLDS, seed)
    correct = np.zeros(len(grid), np.int64)
    start = [None] * len(grid)
    for j in range(INNER_FOLDS):
        tr, te = inner != j, inner == j
        problem, model = prepare(X[tr], y[tr], n_classes), None
        for i, l2 in enumerate(grid):       # from the largest L2 down, each fit warm-started at the last
            model = fit(problem, l2, max_iter=max_iter, init=model)
            if on_fit:
                on_fit()
            correct[i] += np.sum(predict(model, X[te]) == y[te])
            start[i] = model
    best = int(np.argmax(correct))            # argmax takes the first maximum: the largest L2
    return grid[best], start[best]


def _check_inputs(features, labels, split, l2_grid, label_fractions, seeds):
    if features.ndim != 2:
        raise TinyBTError(f"probe: features must be 2-D (users, dims), got shape {features.shape}")
    U = features.shape[0]
    if labels.shape != (U,) or split.shape != (U,):
        raise TinyBTError(f"probe: labels {labels.shape} and split {split.shape} must both be ({U},) "
                          f"to match features {features.shape}")
    if not np.all(np.isin(split, (0, 1, 2))):
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


def probe(features, labels, split, pool="test", folds=FOLDS, l2_grid=L2_GRID, label_fractions=LABEL_FRACTIONS,
          seeds=5, seed=0, max_iter=MAX_ITER, tick=None):
    """Probe one task. features (U, D) float ndarray or sparse; labels int (U,), -1 = unknown;
    split int (U,) 0/1/2 = train/val/test; pool "test" (report) or "val" (tuning), see folds.py.

    Returns a dict: "users" int (N,) the scored rows of features, "y" (N,) their labels,
    "fold" (N,), and per label fraction "pred" / "majority" int (runs, N), one row per label
    seed, "l2" the chosen L2 per (run, fold); plus the settings. The arrays are for stats.py;
    evaluate.py leaves them out of results.json. tick(n) (optional) after each of the
    fits of a fold on n labelled rows (its inner-CV path and its final fit), n / the fold's
    fit count each: a fold's ticks add up to its entry of `probe_plan`, in that order."""
    X = as_float64(features)
    labels, split = np.asarray(labels).astype(np.int64), np.asarray(split)
    _check_inputs(X, labels, split, l2_grid, label_fractions, seeds)
    users = np.flatnonzero(pool_mask(split, pool) & (labels >= 0))
    if len(users) < 2 * folds:
        raise TooFewLabels(f"only {len(users)} labelled users in the {pool} pool; "
                           f"{folds}-fold cross-validation needs at least {2 * folds}")
    y = labels[users]          # X stays whole (often memory-mapped): each fold copies only its rows
    n_classes = int(labels[labels >= 0].max()) + 1
    fold = stratified_folds(y, folds, seed)
    n_train = [int(np.sum(fold != j)) for j in range(folds)]      # users of the training folds, per fold
    out = []
    with threadpool_limits(1):      # thousands of tiny BLAS calls: thread hand-offs cost more than they save
        for f in label_fractions:
            n_runs = _n_runs(f, n_train, seeds)
            pred, majority = np.full((2, n_runs, len(y)), -1, np.int64)
            l2s = []
            for s in range(n_runs):
                for j in range(folds):
                    l2 = _fit_fold(X, users, y, fold == j, n_classes, f, l2_grid, [seed, s, j], max_iter, pred[s],
                                   majority[s], tick)
                    l2s.append(l2)
            out.append({"fraction": float(f), "n_labelled": [subset_size(f, n) for n in n_train], "n_runs": n_runs,
                        "pred": pred, "majority": majority, "l2": l2s})
    return {"pool": pool, "n_users": len(users), "n_classes": n_classes, "folds": int(folds), "seeds": int(seeds),
            "seed": int(seed), "l2_grid": [float(v) for v in l2_grid], "users": users, "y": y, "fold": fold,
            "fractions": out}


def _n_runs(fraction, n_train, seeds):
    """Label seeds that differ: one when the fraction labels every training-fold user."""
    return 1 if all(subset_size(fraction, n) == n for n in n_train) else seeds


def probe_plan(labels, split, pool="test", folds=FOLDS, label_fractions=LABEL_FRACTIONS, seeds=5, seed=0):
    """The labelled rows of each (fraction, label seed, fold) `probe` will fit, in its order (what
    that fold's ticks add up to); empty when it would raise TooFewLabels."""
    labels = np.asarray(labels).astype(np.int64)
    users = np.flatnonzero(pool_mask(np.asarray(split), pool) & (labels >= 0))
    if len(users) < 2 * folds:
        return []
    fold = stratified_folds(labels[users], folds, seed)
    n_train = [int(np.sum(fold != j)) for j in range(folds)]
    return [subset_size(f, n) for f in label_fractions for _ in range(_n_runs(f, n_train, seeds)) for n in n_train]


def probe_units(labels, split, **kw):
    """The rows `probe` will fit in all (its tick total), 0 when it would raise TooFewLabels."""
    return sum(probe_plan(labels, split, **kw))


def _fit_fold(X, users, y, held_out, n_classes, fraction, l2_grid, rng_seed, max_iter, pred, majority, tick=None):
    """Steps 1-4 of the module docstring for one (fraction, seed, fold) over the pool's users
    (rows of X; y, held_out, pred and majority are per pool user): fills pred/majority at the
    held-out users; returns the chosen L2."""
    train = np.flatnonzero(~held_out)
    rows = train[label_subset(y[train], fraction, np.random.default_rng(rng_seed))]
    Xr = X[users[rows]]
    shift, scale = _standardiser(Xr)
    Xs, ys = _apply(Xr, shift, scale), y[rows]
    del Xr              # the labelled rows' raw copy is not needed during the fits (at scale, a big one)
    fits = 1 + inner_fits(len(rows), l2_grid)
    step = (lambda: tick(len(rows) / fits)) if tick else None
    l2, start = choose_l2(Xs, ys, n_classes, l2_grid, rng_seed, max_iter, on_fit=step)
    model = fit_logreg(Xs, ys, n_classes, l2, max_iter=max_iter, init=start)
    if step:
        step()
    pred[held_out] = predict(model, _apply(X[users[held_out]], shift, scale))
    majority[held_out] = int(np.argmax(np.bincount(ys, minlength=n_classes)))
    return l2
