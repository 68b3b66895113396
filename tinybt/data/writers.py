"""Write a `Dataset` in the ML-1M, ML-20M, ML-100K or Yelp file formats, at any size.

For loader tests and scale benchmarks. The big interaction files are built as
bytes without a Python object per row: each field of a chunk of rows becomes a
(rows, width) byte matrix plus a mask of its valid bytes (numbers right-aligned,
strings left-aligned); concatenating the matrices side by side and keeping the
masked bytes in row-major order yields the lines. The small metadata files
(one line per item or user) are written with plain Python. Every file is
written to a temporary name and renamed, so no half-written file is left.

Titles are made up ("Movie 12 (1995)", every 7th "Movie 14, The (1934)" to
exercise CSV quoting); ids that are not positive integers become 1..N in
MovieLens formats. Demographics must use ML-1M's classes (ML-100K: any
occupation names), since those are what the formats can hold.
"""

import csv
import io
import json
from pathlib import Path

import numpy as np

from tinybt.atomic import atomic_open
from tinybt.data.movielens import AGE_CODES, AGE_NAMES, GENDERS, OCCUPATIONS_1M
from tinybt.errors import TinyBTError

FORMATS = ("ml-1m", "ml-20m", "ml-100k", "yelp")
CHUNK = 1 << 18


# ---------------------------------------------------------------- byte matrices

def _const(text, n):
    b = np.frombuffer(text.encode(), np.uint8)
    return np.broadcast_to(b, (n, b.size)), np.ones((n, b.size), bool)


def _fixed(v, width):
    """Zero-padded decimal text of non-negative ints (all `width` bytes valid)."""
    p = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    return (v[:, None] // p % 10 + 48).astype(np.uint8), np.ones((len(v), width), bool)


def _number(values, decimals=0):
    """Decimal text of non-negative numbers with `decimals` fraction digits: list of parts."""
    v = np.rint(np.asarray(values, np.float64) * 10 ** decimals).astype(np.int64)
    width = max(len(str(int(v.max()))) if v.size else 1, decimals + 1)
    mat, _ = _fixed(v, width)
    ndig = np.maximum(np.floor(np.log10(np.maximum(v, 1))).astype(np.int64) + 1, decimals + 1)
    mask = np.arange(width) >= width - ndig[:, None]
    if not decimals:
        return [(mat, mask)]
    cut = width - decimals
    return [(mat[:, :cut], mask[:, :cut]), _const(".", len(v)), (mat[:, cut:], mask[:, cut:])]


def _table(strings):
    """Byte matrix and lengths of a list of str, for `_text`."""
    enc = [s.encode("utf-8") for s in strings]
    mat = np.zeros((len(enc), max((len(b) for b in enc), default=1) or 1), np.uint8)
    for k, b in enumerate(enc):
        mat[k, :len(b)] = np.frombuffer(b, np.uint8)
    return mat, np.array([len(b) for b in enc], np.int64)


def _text(codes, table):
    """Left-aligned strings table[codes] (table from `_table`)."""
    mat, lens = table
    return mat[codes], np.arange(mat.shape[1]) < lens[codes][:, None]


def _date(ts):
    """"YYYY-MM-DD HH:MM:SS" (UTC) of epoch seconds: list of parts."""
    day = ts // 86400
    d = day.astype("datetime64[D]")
    year = d.astype("datetime64[Y]").astype(np.int64) + 1970
    month = d.astype("datetime64[M]").astype(np.int64) % 12 + 1
    dom = (d - d.astype("datetime64[M]")).astype(np.int64) + 1
    sec = ts - day * 86400
    n = len(ts)
    return [_fixed(year, 4), _const("-", n), _fixed(month, 2), _const("-", n), _fixed(dom, 2),
            _const(" ", n), _fixed(sec // 3600, 2), _const(":", n), _fixed(sec // 60 % 60, 2),
            _const(":", n), _fixed(sec % 60, 2)]


def _join(parts):
    """Concatenate per-row parts into the bytes of all rows."""
    flat = [p for part in parts for p in (part if isinstance(part, list) else [part])]
    mat = np.concatenate([m for m, _ in flat], axis=1)
    mask = np.concatenate([k for _, k in flat], axis=1)
    return mat[mask].tobytes()


# ---------------------------------------------------------------- files

def _write_rows(path, n, row_parts, header=""):
    """Write n lines built chunk by chunk by row_parts(slice) -> parts."""
    with atomic_open(path) as f:
        f.write(header.encode())
        for s in range(0, n, CHUNK):
            f.write(_join(row_parts(slice(s, min(s + CHUNK, n)))))


def _write_text(path, lines, encoding="utf-8"):
    with atomic_open(path, "w", encoding=encoding, newline="") as f:
        f.write("".join(line + "\n" for line in lines))


def _int_keys(keys):
    keys = np.asarray(keys)
    if keys.dtype.kind in "iu" and (keys.size == 0 or keys.min() > 0):
        return keys.astype(np.int64)
    return np.arange(1, len(keys) + 1, dtype=np.int64)


def _title(key):
    return f"Movie {key}, The ({1920 + key % 80})" if key % 7 == 0 else f"Movie {key} ({1920 + key % 80})"


def _item_genres(ds):
    return [[str(ds.genre_names[g]) for g in ds.item_genres(i)] for i in range(ds.n_items)]


def _check_names(ds, forbidden):
    for g in ds.genre_names:
        if any(c in g for c in forbidden):
            raise TinyBTError(f"genre {g!r} contains one of {forbidden}, which the format uses "
                              "as a separator")


def _checked_ratings(ds, decimals):
    """ds.rating, once every rating (`decimals` fraction digits) and timestamp fits the format."""
    scaled = ds.rating.astype(np.float64) * 10 ** decimals
    if ds.rating.size and (np.any(scaled != np.rint(scaled)) or ds.rating.min() < 0):
        raise TinyBTError(f"ratings must be non-negative with at most {decimals} decimals "
                          "for this format")
    if ds.timestamp.size and ds.timestamp.min() < 0:
        raise TinyBTError("timestamps before 1970 cannot be written")
    return ds.rating


def _demographics(ds, fmt):
    """Each user's (gender, age, occupation) class indices, checked against the format."""
    need = {"gender": GENDERS, "age": AGE_NAMES}
    if fmt == "ml-1m":
        need["occupation"] = OCCUPATIONS_1M
    for k in ("gender", "age", "occupation"):
        if k not in ds.demographics or np.any(ds.demographics[k] < 0):
            raise TinyBTError(f"writing {fmt} needs every user's gender, age and occupation "
                              f"(missing or unknown {k})")
        if k in need and list(ds.demographic_names[k]) != list(need[k]):
            raise TinyBTError(f"writing {fmt} needs {k} classes {list(need[k])}")
    return [np.asarray(ds.demographics[k], np.int64) for k in ("gender", "age", "occupation")]


def _interactions(ds, sep, decimals):
    u, i = _int_keys(ds.user_keys)[ds.user], _int_keys(ds.item_keys)[ds.item]
    rating = _checked_ratings(ds, decimals)

    def parts(s):
        n = len(u[s])
        return [_number(u[s]), _const(sep, n), _number(i[s]), _const(sep, n),
                _number(rating[s], decimals), _const(sep, n), _number(ds.timestamp[s]),
                _const("\n", n)]
    return parts


def write_ml1m(ds, out):
    _check_names(ds, ("|", "::"))
    gender, age, occ = _demographics(ds, "ml-1m")
    _write_rows(out / "ratings.dat", len(ds.user), _interactions(ds, "::", 0))
    users = _int_keys(ds.user_keys)
    _write_text(out / "users.dat", (
        f"{k}::{GENDERS[g]}::{AGE_CODES[a]}::{o}::{10000 + k % 90000:05d}"
        for k, g, a, o in zip(users.tolist(), gender, age, occ)), "latin-1")
    _write_text(out / "movies.dat", (
        f"{k}::{_title(k)}::{'|'.join(gs) or '(no genres listed)'}"
        for k, gs in zip(_int_keys(ds.item_keys).tolist(), _item_genres(ds))), "latin-1")


def write_ml20m(ds, out):
    _check_names(ds, ("|",))
    _write_rows(out / "ratings.csv", len(ds.user), _interactions(ds, ",", 1),
                header="userId,movieId,rating,timestamp\n")
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["movieId", "title", "genres"])
    for k, gs in zip(_int_keys(ds.item_keys).tolist(), _item_genres(ds)):
        w.writerow([k, _title(k), "|".join(gs) or "(no genres listed)"])
    _write_text(out / "movies.csv", [buf.getvalue()[:-1]])


def write_ml100k(ds, out):
    _check_names(ds, ("|",))
    gender, age, occ = _demographics(ds, "ml-100k")
    occupations = [str(o) for o in ds.demographic_names["occupation"]]
    _write_rows(out / "u.data", len(ds.user), _interactions(ds, "\t", 0))
    genres = ["unknown", *map(str, ds.genre_names)]
    _write_text(out / "u.genre", [f"{g}|{k}" for k, g in enumerate(genres)], "latin-1")
    _write_text(out / "u.occupation", occupations, "latin-1")
    _write_text(out / "u.user", (
        f"{k}|{AGE_CODES[a]}|{GENDERS[g]}|{occupations[o]}|{10000 + k % 90000:05d}"
        for k, g, a, o in zip(_int_keys(ds.user_keys).tolist(), gender, age, occ)), "latin-1")
    lines = []
    for k, gs in zip(_int_keys(ds.item_keys).tolist(), _item_genres(ds)):
        flags = ["1" if (g in gs or (g == "unknown" and not gs)) else "0" for g in genres]
        lines.append(f"{k}|{_title(k)}|01-Jan-{1920 + k % 80}||http://example.invalid/{k}|"
                     + "|".join(flags))
    _write_text(out / "u.item", lines, "latin-1")


def write_yelp(ds, out):
    _check_names(ds, (",",))
    users, items = ([str(k) for k in keys] for keys in (ds.user_keys, ds.item_keys))
    if any('"' in k or "\\" in k for k in users + items):
        raise TinyBTError('Yelp ids must not contain \'"\' or \'\\\'')
    stars = _checked_ratings(ds, 1)
    user_table, item_table = _table(users), _table(items)
    # The text holds an escaped key look-alike: the loader must not take it for a field.
    text = '"text":"Nice, \\"user_id\\":\\"x\\" place.\\nAgain.","date":"'

    def parts(s):
        n = len(ds.user[s])
        row = np.arange(s.start, s.stop)
        return [_const('{"review_id":"r', n), _number(row), _const('","user_id":"', n),
                _text(ds.user[s], user_table), _const('","business_id":"', n),
                _text(ds.item[s], item_table), _const('","stars":', n), _number(stars[s], 1),
                _const(',"useful":0,"funny":0,"cool":0,', n), _const(text, n),
                _date(ds.timestamp[s]), _const('"}\n', n)]
    _write_rows(out / "review.json", len(ds.user), parts)
    _write_text(out / "business.json", (
        json.dumps({"business_id": k, "name": f"Business {k}",
                    "categories": ", ".join(gs) or None})
        for k, gs in zip(items, _item_genres(ds))))


WRITERS = {"ml-1m": write_ml1m, "ml-20m": write_ml20m, "ml-100k": write_ml100k,
           "yelp": write_yelp}


def write_dataset(ds, fmt, out):
    """Write `ds` into folder `out` (created if needed) in format `fmt`."""
    if fmt not in WRITERS:
        raise TinyBTError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    WRITERS[fmt](ds, out)
    return out
