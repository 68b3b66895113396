"""Is the representation collapsing or redundant? Cheap per-epoch statistics (plain NumPy).

All on one fixed sample of ≤ 512 validation users (`sample_rows`), in float64:

    effective rank   exp(H(p)), p = σ / Σσ the normalised singular values of the centred
                     user vectors U (n, D) (Roy & Vetterli 2007). D for an isotropic cloud,
                     1 when every dimension is the same feature, 0 when U is constant.
    per-dim std      std over users of each of the D dimensions (collapse: all ≈ 0).
    alignment        E ||f(x) − f(y)||²  over users, f = the L2-normalised user vector of
                     the two augmented views x, y (Wang & Isola 2020, α = 2): 0 = the views agree.
    uniformity       log E exp(−2 ||f(x_i) − f(x_j)||²) over pairs of distinct users of one
                     view (t = 2): 0 when every user maps to one point, about −4 for a
                     uniform sphere; lower = more spread.
    bt_on / bt_off   the Barlow Twins terms of the projector outputs of the two views,
                     normalised to be comparable across widths P:
                     bt_on = Σ_i (1 − C_ii)² / P ∈ [0, 4],  bt_off = Σ_{i≠j} C_ij² / (P(P−1)) ∈ [0, 1]
                     (1 = every feature a copy of every other: full redundancy).
"""

import numpy as np

from tinybt.losses.barlow import barlow_twins_forward

SAMPLE = 512        # val users per diagnostic pass
HEATMAP_DIMS = 64   # C is shown on at most this many projector dimensions


def sample_rows(rows, seed, n=SAMPLE):
    """A fixed seeded subset (sorted) of at most n of `rows`."""
    rows = np.asarray(rows)
    if len(rows) <= n:
        return rows
    return np.sort(np.random.default_rng(seed).choice(rows, n, replace=False))


def effective_rank(u):
    """u (n, D) -> exp(entropy of the normalised singular values of u − mean); 0 if u is constant."""
    u = np.asarray(u, np.float64)
    s = np.linalg.svd(u - u.mean(axis=0), compute_uv=False)
    if s.sum() <= 1e-12 * max(1.0, np.abs(u).max(initial=0.0)):
        return 0.0
    p = s / s.sum()
    p = p[p > 0]
    return float(np.exp(-(p * np.log(p)).sum()))


def per_dim_std(u):
    """u (n, D) -> (D,) std over the rows (biased)."""
    return np.asarray(u, np.float64).std(axis=0)


def _unit(u):
    u = np.asarray(u, np.float64)
    return u / np.maximum(np.linalg.norm(u, axis=1, keepdims=True), 1e-12)


def alignment(u1, u2):
    """Mean squared distance between the normalised vectors of the two views (n, D) each."""
    return float(((_unit(u1) - _unit(u2)) ** 2).sum(axis=1).mean())


def uniformity(u):
    """log of the mean Gaussian potential exp(−2 d²) over pairs i < j of normalised rows of u (n ≥ 2)."""
    f = _unit(u)
    sq = (f * f).sum(axis=1)                    # 1, or 0 for a zero vector
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2 * f @ f.T, 0)
    iu = np.triu_indices(len(f), k=1)
    x = -2 * d2[iu]
    return float(x.max() + np.log(np.mean(np.exp(x - x.max()))))   # log-mean-exp, stable


def barlow_terms(z1, z2, dims=()):
    """Projector outputs z1, z2 (n, P) -> (bt_on, bt_off, C on projector dimensions `dims` (k, k)),
    normalised as in the module docstring, from one float64 pass of the loss: its cache holds the
    standardised views ẑ1, ẑ2, so C = ẑ1ᵀ ẑ2 / n is the loss's own."""
    res, cache = barlow_twins_forward(np.asarray(z1, np.float64), np.asarray(z2, np.float64), 0.0)
    P = z1.shape[1]
    dims = np.asarray(dims, np.int64)
    C = cache.zh1[:, dims].T @ cache.zh2[:, dims] / len(cache.zh1)
    return float(res.on_diag) / P, float(res.off_diag) / max(P * (P - 1), 1), C


def summarise(u, u1, u2, z=None, dims=None):
    """One metrics row and the report's arrays {"std": (D,), "C": (k, k) or None}.

    u (n, D) plain user vectors, u1/u2 the two views' (n, D), z = the views' projector
    outputs (z1, z2) or None, dims the k projector dimensions C is kept on."""
    std = per_dim_std(u)
    row = {"eff_rank": effective_rank(u), "std_min": float(std.min()), "std_median": float(np.median(std)),
           "std_max": float(std.max()), "align": alignment(u1, u2), "uniform": uniformity(u1)}
    C = None
    if z is not None:
        row["bt_on"], row["bt_off"], C = barlow_terms(*z, dims)
    return row, {"std": std, "C": C}


def measure(run, rows, seed):
    """Diagnostics of the run's current parameters on users `rows` (val sample).

    -> (metrics row, {"std": (D,), "C": (k, k) sample of the cross-correlation or None}).
    The views come from their own Generator (seeded by `seed`), so measuring never moves
    the training RNG, and the projector runs on a copy of the BatchNorm buffers."""
    from tinybt.data.views import barlow_views
    from tinybt.models.barlow_model import stack_views
    from tinybt.models.encode import encode_users
    from tinybt.models.encoder import encoder_forward
    from tinybt.models.projector import projector_forward

    u = encode_users(run.params, run.enc, run.seqs, rows)
    (ids1, len1), (ids2, len2) = barlow_views(run.seqs, rows, np.random.default_rng(seed), run.aug, run.cfg.max_len)
    uv, _ = encoder_forward(stack_views(ids1, ids2), np.concatenate([len1, len2]), run.params, run.enc)
    u1, u2 = uv[:len(rows)], uv[len(rows):]
    z, dims = None, None
    if run.cfg.objective == "barlow":
        z = tuple(projector_forward(x, run.params, dict(run.buffers))[0] for x in (u1, u2))
        P = z[0].shape[1]
        dims = np.sort(np.random.default_rng(seed).choice(P, min(P, HEATMAP_DIMS), replace=False))
    return summarise(u, u1, u2, z, dims)
