"""A seeded synthetic dataset where every downstream task is learnable.

The generative story (our documented choice; fully vectorised, no Python loop per user):
- Items have 1-3 genres and a Zipf popularity (a random rank r gives weight 1/r).
- Users have demographics (gender, ML-1M's 7 age groups, ML-1M's 21 occupations, with
  occupation depending on age). Each demographic class adds a fixed offset to the user's
  genre logits, so demographics are readable from what a user watches.
- Each user has two genre mixtures, `start` and `end` (softmax of shared demographic
  offsets + independent noise). At timeline position tau in [0, 1] the preference is
  (1 - tau) * start + tau * end. The future (last 20 %) is therefore mostly `end`, while a
  bag of the history mixes both: only the *order* says which taste is the recent one.
- An interaction draws a genre from the preference, then an item of that genre: with
  probability m_u (the user's "mainstreamness") by popularity, otherwise uniformly.
  Repeated items are dropped (as in MovieLens, a user rates an item once).
- Ratings: round(3.3 + user bias + item quality + affinity + noise) clipped to 1..5, where
  the user bias depends on the `end` mixture and age (so it is predictable from the items
  chosen), item quality grows with popularity, and affinity is the user's current
  preference for the item's genres.
"""

import numpy as np

from .dataset import Dataset
from .movielens import AGE_NAMES, GENDERS, OCCUPATIONS_1M

ML_GENRES = ["Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
             "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
             "Romance", "Sci-Fi", "Thriller", "War", "Western"]

_AGE_P = np.array([0.04, 0.18, 0.35, 0.20, 0.09, 0.08, 0.06])   # ~ML-1M's age mix
_T0 = 956_000_000           # 2000-04-17, near ML-1M's first rating
_OVERSAMPLE = 2.0           # draws per wanted interaction, so dropping repeats rarely runs short


def _draw_rows(cum, row, rng):
    """Sample one column per entry of `row` from the row-wise CDF `cum` (R, C).

    Offsetting row r's CDF by r makes the flattened table monotone, so one searchsorted
    samples every row at once.
    """
    flat = (cum + np.arange(len(cum))[:, None]).ravel()
    j = np.searchsorted(flat, row + rng.random(len(row)), side="right")
    return np.minimum(j - row * cum.shape[1], cum.shape[1] - 1)


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _cdf(w):
    """Row-wise CDF of non-negative weights; an all-zero row (a genre without items) stays 0."""
    return np.cumsum(w, axis=1) / np.maximum(w.sum(axis=1, keepdims=True), 1e-300)


def _items(rng, n_items, n_genres):
    """Zipf popularity and 1-3 distinct genres per item (ragged CSR)."""
    pop = 1.0 / rng.permutation(np.arange(1, n_items + 1))
    k = rng.choice([1, 2, 3], size=n_items, p=[0.5, 0.35, 0.15])
    k = np.minimum(k, n_genres)
    picks = np.argsort(rng.random((n_items, n_genres)), axis=1)
    take = np.arange(n_genres) < k[:, None]
    genre_values = np.sort(np.where(take, picks, n_genres), axis=1)[take]  # first k, ascending
    genre_offsets = np.concatenate([[0], np.cumsum(k)]).astype(np.int64)
    return pop, genre_offsets, genre_values.astype(np.int32)


def _users(rng, n_users, n_genres):
    """Demographics, start/end genre mixtures, user bias and mainstreamness."""
    age = rng.choice(len(AGE_NAMES), size=n_users, p=_AGE_P)
    gender = (rng.random(n_users) < 0.72).astype(np.int8)
    # occupation depends on age: students young, retired old, the rest a skewed mix
    occ_logits = rng.normal(0, 1.0, (len(AGE_NAMES), len(OCCUPATIONS_1M)))
    occ_logits[0, 10] += 4.0
    occ_logits[1, 4] += 3.0
    occ_logits[6, 13] += 3.5
    occ = _draw_rows(np.cumsum(_softmax(occ_logits), axis=1), age, rng)
    off_gender = rng.normal(0, 1.2, (2, n_genres))
    off_age = rng.normal(0, 0.9, (len(AGE_NAMES), n_genres))
    off_occ = rng.normal(0, 0.7, (len(OCCUPATIONS_1M), n_genres))
    demo = off_gender[gender] + off_age[age] + off_occ[occ]
    start = _softmax(demo + rng.normal(0, 1.6, (n_users, n_genres)))
    end = _softmax(demo + rng.normal(0, 1.6, (n_users, n_genres)))
    genre_bias = rng.normal(0, 1.2, n_genres)
    bias = end @ genre_bias + np.linspace(-0.25, 0.25, len(AGE_NAMES))[age] \
        + rng.normal(0, 0.15, n_users)
    mainstream = rng.beta(0.7, 0.7, n_users)
    demographics = {"gender": gender, "age": age.astype(np.int8), "occupation": occ.astype(np.int8)}
    return demographics, start, end, bias, mainstream


def _genre_item_cdfs(genre_offsets, genre_values, pop, n_genres):
    """Per genre, the CDF over its items by popularity and uniformly (G, max items)."""
    item = np.repeat(np.arange(len(pop)), np.diff(genre_offsets))
    order = np.argsort(genre_values, kind="stable")
    g, it = genre_values[order], item[order]
    size = np.bincount(g, minlength=n_genres)
    col = np.arange(len(g)) - np.concatenate([[0], np.cumsum(size)[:-1]])[g]
    members = np.zeros((n_genres, size.max()), np.int64)
    members[g, col] = it
    w_pop = np.zeros(members.shape)
    w_pop[g, col] = pop[it]
    w_uni = np.zeros(members.shape)
    w_uni[g, col] = 1.0
    return members, _cdf(w_pop), _cdf(w_uni)


def generate(n_users=2000, n_items=500, n_genres=12, mean_length=60, seed=0):
    """Sample a synthetic `Dataset` (name "synthetic"); same arguments -> same arrays.

    Sequence lengths are 5 + lognormal with mean `mean_length` - 5 (capped at half the
    catalogue); after dropping repeated items a user can end a little shorter.
    """
    if n_users < 1 or n_items < 2 or not 1 <= n_genres <= 64 or mean_length < 5:
        raise ValueError("generate needs n_users >= 1, n_items >= 2, 1 <= n_genres <= 64, "
                         "mean_length >= 5")
    rng = np.random.default_rng(seed)
    pop, genre_offsets, genre_values = _items(rng, n_items, n_genres)
    demographics, start, end, bias, mainstream = _users(rng, n_users, n_genres)
    # every genre needs at least one item for the genre -> item draw
    present = np.bincount(genre_values, minlength=n_genres) > 0
    start, end = start * present, end * present
    start /= start.sum(1, keepdims=True)
    end /= end.sum(1, keepdims=True)

    sigma = 0.7
    extra = mean_length - 5
    length = 5 + np.rint(rng.lognormal(np.log(extra + 1e-9) - sigma ** 2 / 2, sigma, n_users))
    length = np.minimum(length, max(5, n_items // 2)).astype(np.int64)
    draws = np.ceil(length * _OVERSAMPLE).astype(np.int64)
    user = np.repeat(np.arange(n_users), draws)
    first = np.concatenate([[0], np.cumsum(draws)[:-1]])
    tau = (np.arange(len(user)) - first[user]) / np.maximum(draws[user] - 1, 1)

    # genre from the drifting preference: the end mixture with probability tau
    use_end = rng.random(len(user)) < tau
    genre = np.where(use_end, _draw_rows(np.cumsum(end, 1), user, rng),
                     _draw_rows(np.cumsum(start, 1), user, rng))
    members, cdf_pop, cdf_uni = _genre_item_cdfs(genre_offsets, genre_values, pop, n_genres)
    by_pop = rng.random(len(user)) < mainstream[user]
    col = np.where(by_pop, _draw_rows(cdf_pop, genre, rng), _draw_rows(cdf_uni, genre, rng))
    item = members[genre, col]

    # keep each user's first draw of an item, then a random subset of `length` in time order
    _, keep = np.unique(user * n_items + item, return_index=True)
    keep = np.sort(keep)
    rank = np.empty(len(keep), np.int64)
    by_key = np.lexsort((rng.random(len(keep)), user[keep]))
    kept_user = user[keep][by_key]
    rank[by_key] = np.arange(len(keep)) - np.searchsorted(kept_user, kept_user)
    keep = keep[rank < length[user[keep]]]
    user, item, tau = user[keep], item[keep], tau[keep]

    # ratings: bias + popularity-driven quality + current affinity to the item's genres
    quality = 0.35 * (np.log(pop) - np.log(pop).mean()) / np.log(pop).std() \
        + rng.normal(0, 0.3, n_items)
    k = np.diff(genre_offsets)
    slot = np.arange(len(genre_values)) - np.repeat(genre_offsets[:-1], k)
    gmat = np.full((n_items, 3), n_genres)        # item genres, padded with a zero column
    gmat[np.repeat(np.arange(n_items), k), slot] = genre_values
    start0, end0 = np.hstack([start, np.zeros((n_users, 1))]), np.hstack([end, np.zeros((n_users, 1))])
    affinity = np.zeros(len(user))
    for j in range(3):                            # current preference summed over item genres
        g = gmat[item, j]
        affinity += (1 - tau) * start0[user, g] + tau * end0[user, g]
    affinity *= n_genres / 2 / k[item]            # mean over the item's genres, 2 = "liked"
    raw = 3.3 + bias[user] + quality[item] + np.tanh(affinity - 1) + rng.normal(0, 0.6, len(user))
    rating = np.clip(np.rint(raw), 1, 5).astype(np.float32)

    # strictly increasing timestamps per user: a random start plus gaps of 1 s to days
    gaps = np.ceil(rng.exponential(86_400.0, len(user))).astype(np.int64) + 1
    csum = np.cumsum(gaps)
    first_row = np.searchsorted(user, user)
    t_start = _T0 + rng.integers(0, 3 * 365 * 86_400, n_users)
    timestamp = t_start[user] + csum - csum[first_row] + gaps[first_row]

    names = ML_GENRES[:n_genres] + [f"genre{g}" for g in range(len(ML_GENRES), n_genres)]
    return Dataset(
        name="synthetic", user=user.astype(np.int64), item=item.astype(np.int64),
        rating=rating, timestamp=timestamp,
        user_keys=np.arange(1, n_users + 1, dtype=np.int64),
        item_keys=np.arange(1, n_items + 1, dtype=np.int64),
        genre_offsets=genre_offsets, genre_values=genre_values, genre_names=np.array(names),
        demographics=demographics,
        demographic_names={"gender": list(GENDERS), "age": list(AGE_NAMES),
                           "occupation": list(OCCUPATIONS_1M)})
