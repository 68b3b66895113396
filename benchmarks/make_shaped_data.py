"""Write ML-20M-shaped and Yelp-shaped datasets in their real file formats, for scale benchmarks.

    python benchmarks/make_shaped_data.py --out /tmp/shaped            # both, full size (issue 21)
    python benchmarks/make_shaped_data.py --out /tmp/small --scale 0.01

out/ml-20m/: ratings.csv (userId,movieId,rating,timestamp; half stars) and movies.csv. The real
movies.csv is copied from $TINYBT_DATA/ml-20m/ when present (its movieIds are then the rated
items), else a made-up one is written. 138,493 users, each with >= 20 ratings (ML-20M's rule),
20,000,263 draws of (user, movie) of which repeats are dropped (a user rates a movie once), so
16.4 M rows remain, as in the issue.

out/yelp/: review.json, business.json and user.json in the Yelp Open Dataset's JSON-lines
formats (22-character ids, "YYYY-MM-DD HH:MM:SS" dates, comma-separated categories),
2,000,000 users with >= 1 review (most with one or two), 7,000,000 reviews, 150,000 businesses.

Items have Zipf popularity (the item of rank r has weight r^-zipf); user activity is heavy
tailed (a log-normal share of the reviews beyond each user's minimum). Seeded: the same
arguments write the same bytes.
"""

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np

from tinybt.atomic import atomic_open
from tinybt.data.dataset import Dataset
from tinybt.data.movielens import read_movies_csv
from tinybt.data.textio import genre_arrays
from tinybt.data.writers import write_ml20m, write_yelp

REAL_MOVIES = Path(os.environ.get("TINYBT_DATA", "data")) / "ml-20m" / "movies.csv"   # a local copy
# ML-20M's Zipf exponent 0.88 keeps ~16.4 M of the 20 M draws once repeats are dropped (the issue's count)
ML20M = {"users": 138_493, "draws": 20_000_263, "items": 27_278, "min_per_user": 20, "zipf": 0.88}
# ML-20M's half-star ratings 0.5..5, whole stars more frequent than halves (a guess, not measured)
RATING_P = np.array([1, 3, 2, 7, 4, 20, 11, 27, 8, 17], np.float64) / 100
YELP = {"users": 2_000_000, "reviews": 7_000_000, "items": 150_000, "min_per_user": 1, "zipf": 1.0}
CHUNK = 1 << 16
ID_CHARS = np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", np.uint8)
CATEGORIES = ["Restaurants", "Food", "Nightlife", "Bars", "Shopping", "Beauty & Spas", "Coffee & Tea",
              "Pizza", "Mexican", "Italian", "Chinese", "Home Services", "Auto Repair", "Hotels & Travel",
              "Health & Medical", "Fitness", "Breakfast & Brunch", "Sandwiches", "Burgers", "Fast Food"]


def activity(rng, n_users, total, minimum, sigma=1.2):
    """Per-user interaction counts: `minimum` each plus a log-normal share of the rest (sum = total)."""
    share = rng.lognormal(0.0, sigma, n_users)
    return minimum + rng.multinomial(total - minimum * n_users, share / share.sum())


def zipf_items(rng, n, n_items, zipf):
    """n item indices with Zipf popularity over a random ranking of the items."""
    cdf = np.cumsum(np.arange(1, n_items + 1, dtype=np.float64) ** -zipf)
    rank = np.minimum(np.searchsorted(cdf, rng.random(n) * cdf[-1], side="right"), n_items - 1)
    return rng.permutation(n_items)[rank]


def interactions(rng, counts, n_items, zipf, unique_pairs):
    """(user, item) of counts[u] draws per user, optionally without repeated pairs."""
    user = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    item = zipf_items(rng, len(user), n_items, zipf)
    if unique_pairs:
        _, first = np.unique(user * n_items + item, return_index=True)
        keep = np.sort(first)
        user, item = user[keep], item[keep]
    return user, item


def timestamps(rng, n, start, end):
    return rng.integers(start, end, n, dtype=np.int64)


def random_ids(rng, n, width=22):
    """n distinct Yelp-style ids (base64url characters)."""
    ids = np.unique(ID_CHARS[rng.integers(0, 64, (int(n * 1.01) + 16, width))].view(f"S{width}").ravel())
    ids = rng.permutation(ids)[:n]
    if len(ids) < n:
        raise RuntimeError("id collision; raise the oversampling")
    return ids.astype(str)


def ml20m(out, rng, scale, zipf):
    n_users = max(1, round(ML20M["users"] * scale))
    counts = activity(rng, n_users, max(round(ML20M["draws"] * scale), ML20M["min_per_user"] * n_users),
                      ML20M["min_per_user"])
    if REAL_MOVIES.is_file():
        movie_ids, genre_lists = read_movies_csv(REAL_MOVIES)
    else:
        movie_ids = np.arange(1, ML20M["items"] + 1)
        genre_lists = [["Drama"] if k % 2 else ["Comedy"] for k in movie_ids]
    user, item = interactions(rng, counts, len(movie_ids), zipf, unique_pairs=True)
    off, values, names = genre_arrays(len(movie_ids), np.arange(len(movie_ids)), genre_lists)
    ds = Dataset(name="ml-20m", user=user, item=item,
                 rating=(rng.choice(np.arange(1, 11), len(user), p=RATING_P) / 2).astype(np.float32),
                 timestamp=timestamps(rng, len(user), 789_652_009, 1_427_784_002),
                 user_keys=np.arange(1, n_users + 1), item_keys=movie_ids.astype(np.int64),
                 genre_offsets=off, genre_values=values, genre_names=names)
    out.mkdir(parents=True, exist_ok=True)
    write_ml20m(ds, out)
    if REAL_MOVIES.is_file():
        shutil.copyfile(REAL_MOVIES, out / "movies.csv")
    return len(user), n_users, len(movie_ids)



def write_users(path, ids, counts, rng):
    """user.json: one JSON object per user, the Open Dataset's fields (friends left empty)."""
    since = timestamps(rng, len(ids), 1_104_537_600, 1_546_300_800).astype("datetime64[s]")
    with atomic_open(path, "w", encoding="utf-8", newline="\n") as f:
        for s in range(0, len(ids), CHUNK):
            part = slice(s, s + CHUNK)
            rows = (json.dumps({"user_id": u, "name": f"User {s + k}", "review_count": int(c),
                                "yelping_since": str(t).replace("T", " "), "useful": 0, "funny": 0,
                                "cool": 0, "elite": "", "friends": "None", "fans": 0,
                                "average_stars": 3.7}, separators=(",", ":"))
                    for k, (u, c, t) in enumerate(zip(ids[part], counts[part], since[part])))
            f.write("\n".join(rows) + "\n")


def yelp(out, rng, scale, zipf):
    n_users, n_items = max(1, round(YELP["users"] * scale)), max(2, round(YELP["items"] * scale))
    counts = activity(rng, n_users, max(round(YELP["reviews"] * scale), n_users), YELP["min_per_user"], 1.6)
    user, item = interactions(rng, counts, n_items, zipf, unique_pairs=False)
    k = rng.integers(1, 4, n_items)
    cats = [[CATEGORIES[c] for c in rng.choice(len(CATEGORIES), m, replace=False)] for m in k]
    off, values, names = genre_arrays(n_items, np.arange(n_items), cats)
    user_ids = random_ids(rng, n_users)
    ds = Dataset(name="yelp", user=user, item=item,
                 rating=rng.choice(np.arange(1, 6), len(user), p=[.15, .08, .11, .22, .44]).astype(np.float32),
                 timestamp=timestamps(rng, len(user), 1_104_537_600, 1_546_300_800),
                 user_keys=user_ids, item_keys=random_ids(rng, n_items),
                 genre_offsets=off, genre_values=values, genre_names=names)
    out.mkdir(parents=True, exist_ok=True)
    write_yelp(ds, out)
    write_users(out / "user.json", user_ids, counts, rng)
    return len(user), n_users, n_items


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--which", choices=["ml-20m", "yelp", "both"], default="both")
    ap.add_argument("--scale", type=float, default=1.0, help="multiplies every count")
    ap.add_argument("--zipf", type=float, default=None,
                    help=f"item popularity exponent (default {ML20M['zipf']} ML-20M, {YELP['zipf']} Yelp)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    for name, make, shape in (("ml-20m", ml20m, ML20M), ("yelp", yelp, YELP)):
        if args.which in (name, "both"):
            rows, users, items = make(args.out / name, np.random.default_rng([args.seed, len(name)]),
                                      args.scale, args.zipf or shape["zipf"])
            print(f"{args.out / name}: {rows:,} interactions, {users:,} users, {items:,} items")
    return 0


if __name__ == "__main__":
    sys.exit(main())
