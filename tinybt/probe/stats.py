"""95 % intervals for per-user scores, alone or as a paired difference (docs/protocol.md).

An arm is a (S, N) array: one row per run (pretraining seed), one column per scored
user, the same users in the same order for every arm (a 0/1 hit averaged over label
seeds, or a retrieval metric). Its value is the mean over runs of the mean over users;
with `groups` (each user's class) the mean over classes of the per-class mean, i.e.
balanced accuracy.

Bootstrap (percentile, seeded): every replicate draws N users with replacement, the
same draw for both arms (paired: a user who is easy for one feature set is easy for the
other, and that shared part cancels in the difference), and, per arm, S runs with
replacement (independently: each arm's runs are separate trainings). So the interval
holds the user-to-user and the seed-to-seed spread. With S = 3 seeds the seed level is
a coarse estimate of that spread; a single run (S = 1) has only the user level.
A difference is "ahead" only when its whole interval lies above 0.
"""

import numpy as np

N_BOOT = 2000
LEVEL = 0.95
_CHUNK = 200          # replicates per block: a (chunk, N) weight matrix stays small


def _arm_values(H, W, groups):
    """H (S, N), W (R, N) user weights -> (R, S): each run's (weighted) mean over users,
    or over classes of the per-class means when groups is given."""
    if groups is None:
        return (W @ H.T) / W.sum(axis=1, keepdims=True)
    per_class = []
    for c in np.unique(groups):
        m = groups == c
        n = W[:, m].sum(axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            per_class.append((W[:, m] @ H[:, m].T) / n)     # NaN when a replicate drew no user of c
    return np.nanmean(np.stack(per_class), axis=0)


def _draw_counts(rng, n, R):
    """(R, n) float: how often each of n items is drawn in each of R draws of n with replacement."""
    idx = rng.integers(0, n, size=(R, n)) + n * np.arange(R)[:, None]
    return np.bincount(idx.ravel(), minlength=R * n).reshape(R, n).astype(np.float64)


def _as_arm(H):
    H = np.asarray(H, dtype=np.float64)
    return H[None] if H.ndim == 1 else H


def bootstrap_ci(a, b=None, groups=None, n_boot=N_BOOT, seed=0, level=LEVEL):
    """Value of arm a (or of a − b, paired over users) with its bootstrap interval.
    a, b: (S, N) or (N,) per-user scores; groups: None or int (N,) classes for the
    balanced mean. Returns {"mean", "lo", "hi"} (floats); same inputs, same result."""
    arms = [_as_arm(a)] + ([] if b is None else [_as_arm(b)])
    N = arms[0].shape[1]
    if any(H.shape[1] != N for H in arms) or N == 0:
        raise ValueError(f"bootstrap_ci: arms must score the same N > 0 users, got {[H.shape for H in arms]}")
    sign = [1.0, -1.0]
    ones = np.ones((1, N))
    point = sum(s * _arm_values(H, ones, groups).mean() for s, H in zip(sign, arms))
    rng = np.random.default_rng(seed)
    reps = []
    for start in range(0, n_boot, _CHUNK):
        R = min(_CHUNK, n_boot - start)
        W = _draw_counts(rng, N, R)                     # user draws, shared by the arms
        total = np.zeros(R)
        for s, H in zip(sign, arms):
            runs = _draw_counts(rng, len(H), R) / len(H)    # run draws, per arm
            total += s * np.sum(runs * _arm_values(H, W, groups), axis=1)
        reps.append(total)
    lo, hi = np.quantile(np.concatenate(reps), [(1 - level) / 2, (1 + level) / 2])
    return {"mean": float(point), "lo": float(lo), "hi": float(hi)}


def verdict(ci):
    """'ahead' when the interval lies above 0, 'behind' below, '' when it covers 0."""
    return "ahead" if ci["lo"] > 0 else "behind" if ci["hi"] < 0 else ""
