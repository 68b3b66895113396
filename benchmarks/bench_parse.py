"""Parse speed and memory of an ML-20M-shaped ratings.csv, and the parsed-cache speed-up.

    python benchmarks/bench_parse.py              # 20,000,263 rows (ML-20M's size)
    python benchmarks/bench_parse.py --rows 2000000

1. Writes a ratings.csv + movies.csv of ML-20M's shape (138,493 users, 27,278 movies,
   half-star ratings) with tinybt's writer.
2. In a fresh child process (so its peak RSS is the parse's own): parses ratings.csv
   (rows/s, tracemalloc peak, ru_maxrss), then the whole ML-20M load (dense ids, genres).
3. Parses the first --ref-rows lines on the reference path (tinybt/data/movielens.py: a regular
   expression and one Python tuple per row) and on the fast path (tinybt/data/parse.py)
   in the same process: the speed ratio.
4. ML-1M-sized data (1,000,209 ratings): first load (parse + cache write) vs second (cache).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

try:
    import resource         # POSIX only: where it is missing (Windows) the peak RSS is not reported
except ImportError:
    resource = None

from tinybt.backend import use_backend
from tinybt.data.dataset import Dataset
from tinybt.data.movielens import AGE_NAMES, GENDERS, OCCUPATIONS_1M, read_ratings
from tinybt.data.writers import write_dataset

HEADER = "userId,movieId,rating,timestamp"


def shaped(n, n_users, n_items, seed=0, demographics=False):
    """A random Dataset of n interactions with MovieLens-like ids, ratings and times."""
    rng = np.random.default_rng(seed)
    n_genres = 18
    k = rng.integers(1, 4, n_items)
    names = [f"Genre{g}" for g in range(n_genres)]
    demo, demo_names = {}, {}
    if demographics:
        for key, classes in (("gender", GENDERS), ("age", AGE_NAMES),
                             ("occupation", OCCUPATIONS_1M)):
            demo[key] = rng.integers(0, len(classes), n_users).astype(np.int16)
            demo_names[key] = list(classes)
    return Dataset(
        name="bench", user=rng.integers(0, n_users, n), item=rng.integers(0, n_items, n),
        rating=(rng.integers(1, 11, n) / 2).astype(np.float32) if not demographics
        else rng.integers(1, 6, n).astype(np.float32),
        timestamp=rng.integers(789_652_009, 1_427_784_002, n),
        user_keys=np.arange(1, n_users + 1), item_keys=np.arange(1, n_items + 1),
        genre_offsets=np.concatenate([[0], np.cumsum(k)]),
        genre_values=rng.integers(0, n_genres, int(k.sum())).astype(np.int32),
        genre_names=np.array(names), demographics=demo, demographic_names=demo_names)


def child(folder):
    """Measure one parse in this (fresh) process; print JSON."""
    from tinybt.data.movielens import load_ml20m

    tiny = Path(folder) / "warm.csv"  # compile/load the Numba kernel outside the timing
    tiny.write_text(HEADER + "\n1,2,3.5,4\n", encoding="utf-8")
    read_ratings(tiny, b",", HEADER)
    tracemalloc.start()
    t = time.perf_counter()
    user, *_ = read_ratings(Path(folder) / "ratings.csv", b",", HEADER)
    parse = time.perf_counter() - t
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    rows = len(user)
    del user, _
    t = time.perf_counter()
    ds = load_ml20m(Path(folder))
    load = time.perf_counter() - t
    print(json.dumps({"rows": rows, "parse_s": parse, "tracemalloc_peak_mb": peak / 2**20,
                      "load_s": load, "users": ds.n_users, "items": ds.n_items,
                      "maxrss_mb": resource and resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=20_000_263)
    ap.add_argument("--ref-rows", type=int, default=300_000)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        return child(a.child)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "ml-20m"
        t = time.perf_counter()
        write_dataset(shaped(a.rows, 138_493, 27_278), "ml-20m", folder)
        size = (folder / "ratings.csv").stat().st_size
        print(f"wrote {a.rows:,} rows ({size / 2**20:.0f} MiB) in {time.perf_counter() - t:.1f} s")
        res = json.loads(subprocess.run([sys.executable, __file__, "--child", str(folder)],
                                        check=True, capture_output=True, text=True).stdout)
        print(f"parse ratings.csv: {res['parse_s']:.2f} s = {res['rows'] / res['parse_s'] / 1e6:.1f}"
              f" M rows/s; tracemalloc peak {res['tracemalloc_peak_mb']:.0f} MiB "
              f"(output arrays {res['rows'] * 20 / 2**20:.0f} MiB; the file is read in 16 MiB chunks)")
        rss = "unknown (no resource module)" if res["maxrss_mb"] is None else f"{res['maxrss_mb']:.0f} MiB"
        print(f"full ML-20M load (ids, genres): {res['load_s']:.2f} s; {res['users']:,} users, "
              f"{res['items']:,} items; child peak RSS {rss} (parse, dense ids, genres)")

        # the reference on a slice, same process, same bytes
        sl = Path(tmp) / "slice.csv"
        with open(folder / "ratings.csv", "rb") as src, open(sl, "wb") as dst:
            dst.writelines(line for _, line in zip(range(a.ref_rows + 1), src))
        read_ratings(sl, b",", HEADER)
        t = time.perf_counter()
        fast = read_ratings(sl, b",", HEADER)
        t_fast = time.perf_counter() - t
        t = time.perf_counter()
        with use_backend("reference"):
            ref = read_ratings(sl, b",", HEADER)
        t_ref = time.perf_counter() - t
        assert all(np.array_equal(r, f) for r, f in zip(ref, fast))
        print(f"{a.ref_rows:,}-row slice: reference path {t_ref:.2f} s, fast path {t_fast:.3f} s "
              f"-> {t_ref / t_fast:.0f}x faster")

        # parsed cache on ML-1M-sized data
        os.environ["TINYBT_HOME"] = str(Path(tmp) / "home")
        from tinybt.data.registry import parse_folder
        m1 = Path(tmp) / "ml-1m"
        write_dataset(shaped(1_000_209, 6_040, 3_706, demographics=True), "ml-1m", m1)
        t = time.perf_counter()
        parse_folder("ml-1m", m1)
        first = time.perf_counter() - t
        t = time.perf_counter()
        parse_folder("ml-1m", m1)
        second = time.perf_counter() - t
        print(f"ML-1M-sized load: first (parse + cache write) {first:.2f} s, "
              f"second (from cache) {second:.3f} s")


if __name__ == "__main__":
    main()
