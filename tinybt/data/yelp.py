"""Yelp loader: review.json + business.json (JSON lines), string ids.

review.json is the big file (millions of lines with long review texts), so
`scan_reviews` pulls out only user_id, business_id, stars and date, walking each
line's JSON strings left to right with regular expressions here and in one Numba
pass over the bytes on the fast path (tinybt/data/parse.py), one chunk of lines
at a time; the ids are interned chunk by chunk (tinybt/data/intern.py). business.json (one line per business) goes through the
json module. A truncated last line (an interrupted download or a cut head of the
file) is skipped with a warning, blank lines at the end are ignored; any other bad
line is an error.
"""

import json
import re
import warnings
from pathlib import Path

import numpy as np

from tinybt import backend
from tinybt.data import parse
from tinybt.data.dataset import Dataset
from tinybt.data.intern import Interner
from tinybt.data.textio import (CHUNK_ROWS, count_lines, genre_arrays, line_error, nonempty, shown_chunks,
                                text_error, warn_anomalies)
from tinybt.errors import TinyBTError

# The official names, then the short ones `tinybt data synthesize` writes.
REVIEW_FILES = ("yelp_academic_dataset_review.json", "review.json")
BUSINESS_FILES = ("yelp_academic_dataset_business.json", "business.json")
SCALE = (1, 5)              # stars


def find_files(folder):
    """(review file, business file) in `folder`, or an error naming what is expected."""
    folder = Path(folder)
    found = [next((folder / n for n in names if (folder / n).is_file()), None)
             for names in (REVIEW_FILES, BUSINESS_FILES)]
    if None in found:
        raise TinyBTError(
            f"{folder}: a Yelp folder must contain review.json and business.json "
            f"(or {REVIEW_FILES[0]} and {BUSINESS_FILES[0]}); get the Yelp Open Dataset at "
            "https://www.yelp.com/dataset and pass --data-dir to the folder holding them")
    return found


# ---------------------------------------------------------------- review.json

_STRING = re.compile(rb'"((?:[^"\\]|\\.)*)"')     # a JSON string; group 1: its raw (escaped) text
_COLON = re.compile(rb"[ \t]*:[ \t]*")
_NUMBER = re.compile(rb"\d+(?:\.\d*)?")
_DATE = re.compile(rb"(\d{4})-(\d\d)-(\d\d)(?: (\d\d):(\d\d):(\d\d))?")


def _epoch_seconds(raw):
    """Seconds since 1970 of b"YYYY-MM-DD HH:MM:SS" or b"YYYY-MM-DD"; None if invalid.

    Days past a month's end roll over (2016-02-31 = 2016-03-02), as np.datetime64 will not.
    """
    m = _DATE.fullmatch(raw)
    if m is None:
        return None
    y, mo, d, hh, mm, ss = (int(g or 0) for g in m.groups())
    if not (1 <= mo <= 12 and 1 <= d <= 31 and hh < 24 and mm < 60 and ss < 61):
        return None
    month = np.datetime64(f"{y:04d}-{mo:02d}", "M").astype("datetime64[D]").astype(np.int64)
    return (int(month) + d - 1) * 86400 + hh * 3600 + mm * 60 + ss


def _scan_line(line, b, e):
    """The fields of the review in line[b:e] (the `{...}` with outer blanks cut).

    -> ({"user_id": (start, end), "business_id": (start, end), "stars": float, "date": seconds},
    truncated) with offsets into `line`; (None, truncated) for a bad line, truncated when an
    unterminated string could be a cut-off line. Strings are walked left to right, so
    key-like text inside a value is never taken for a key.
    """
    fields, p = {}, b + 1
    while (q := line.find(b'"', p, e)) >= 0:
        key = _STRING.match(line, q, e)
        if key is None:
            return None, True
        colon = _COLON.match(line, key.end(), e)
        if colon is None:                               # a string value
            p = key.end()
            continue
        r, name = colon.end(), key.group(1)
        if name in (b"user_id", b"business_id", b"date"):
            value = _STRING.match(line, r, e)
            if value is None:
                return None, False
            if name == b"date":
                fields["date"] = _epoch_seconds(value.group(1))
                if fields["date"] is None:
                    return None, False
            else:
                fields[name.decode()] = value.span(1)
            p = value.end()
        elif name == b"stars":
            number = _NUMBER.match(line, r, e)
            if number is None:
                return None, False
            fields["stars"] = float(number.group())
            p = number.end()
        else:
            p = key.end()
    return (fields if len(fields) == 4 else None), False


def scan_reviews(buf):
    """The JSON lines of review.json's bytes.

    buf: uint8 array. Returns, for the lines before the first bad one, spans (rows, 4) =
    (user_id start, length, business_id start, length) of the ids' raw text in buf,
    stars (rows,) float32, timestamp (rows,) int64; then the first bad line's byte
    offset (-1 if none) and whether it is the last line cut off mid-object (a truncated
    download, skipped with a warning) rather than an error.
    A good line is one `{...}` holding the string keys user_id, business_id, date
    ("YYYY-MM-DD[ HH:MM:SS]") and the number stars; other keys are skipped unread.
    """
    if backend.fast():
        return parse.scan_reviews(buf)
    lines = bytes(buf).split(b"\n")
    spans, stars, ts = [], [], []
    pos, bad, truncated = 0, -1, False
    for k, line in enumerate(lines):
        last = k == len(lines) - 1                      # the only line without a newline
        e = len(line.rstrip(b"\r \t"))                  # line[b:e]: the line without its outer blanks
        b = e - len(line[:e].lstrip(b" \t"))
        if b == e and last:                             # blanks after the last line
            break
        fields, cut = None, last
        if b < e and line[b:b + 1] == b"{" and line[e - 1:e] == b"}":
            fields, cut = _scan_line(line, b, e)
        if fields is None:
            bad, truncated = pos, cut and last
            break
        (u0, u1), (i0, i1) = fields["user_id"], fields["business_id"]
        spans.append((pos + u0, u1 - u0, pos + i0, i1 - i0))
        stars.append(fields["stars"])
        ts.append(fields["date"])
        pos += len(line) + 1
    return (np.array(spans, np.int64).reshape(-1, 4), np.array(stars, np.float32),
            np.array(ts, np.int64), bad, truncated)


def substrings(buf, starts, lengths):
    """The byte strings buf[start:start+length] as one 'S' array."""
    if backend.fast():
        return parse.substrings(buf, starts, lengths)
    return np.array([bytes(buf[a:a + n]) for a, n in zip(starts, lengths)], dtype=bytes)


def _special(keys):
    """Mask of the 'S' ids holding a non-ASCII byte or a backslash (a JSON escape)."""
    m = np.ascontiguousarray(keys).view(np.uint8).reshape(len(keys), keys.dtype.itemsize)
    return ((m >= 128) | (m == 92)).any(axis=1)


def _decode(raw):
    s = raw.decode("utf-8")
    return json.loads(f'"{s}"') if "\\" in s else s   # JSON escapes: \u00e9, \"


def _check_new(path, buf, raw, first, starts, row0, what):
    """Error naming the line of the first use of a new id that is not UTF-8 or holds a bad escape."""
    for k in np.flatnonzero(_special(raw[first])):
        row = first[k]
        try:
            _decode(bytes(raw[row]))
        except ValueError as e:                 # UnicodeDecodeError and JSONDecodeError alike
            why = "not valid UTF-8" if isinstance(e, UnicodeDecodeError) else "a bad JSON escape"
            raise line_error(path, buf, _line_start(buf, starts[row]), row0 + row + 1,
                             f"the {what} holds {why}") from None


def _sorted_keys(interner, codes):
    """The interned ids decoded to sorted str keys; renumbers `codes` in place to index them.

    ASCII ids without escapes sort the same as bytes and as str; the others are decoded one
    by one, and then the keys are sorted again.
    """
    raw, rank = interner.finish()
    special = _special(raw)
    text = raw.astype(f"U{raw.dtype.itemsize}") if not special.any() else np.array(
        [_decode(bytes(r)) for r in raw], dtype=str)
    if special.any():
        text, remap = np.unique(text, return_inverse=True)
        rank = remap.astype(np.int32)[rank]
    for s in range(0, len(codes), CHUNK_ROWS):
        codes[s:s + CHUNK_ROWS] = rank[codes[s:s + CHUNK_ROWS]]
    return text


def _line_start(buf, pos):
    while pos > 0 and buf[pos - 1] != 10:
        pos -= 1
    return pos


def _skip_truncated(path, lineno):
    warnings.warn(f"{path}:{lineno}: skipping the truncated last line", stacklevel=4)


def read_reviews(path):
    """(user keys, user, item keys, item, stars, timestamp) of a review.json file.

    Read in chunks of whole lines: only the four fields of each review and the distinct
    ids are kept, never the file's bytes (mostly review texts) all at once.
    """
    n = count_lines(path)
    user, item = np.empty(n, np.int32), np.empty(n, np.int32)
    stars, ts = np.empty(n, np.float32), np.empty(n, np.int64)
    users, items, rows = Interner(), Interner(), 0
    with shown_chunks(path, "parse") as chunks:
        for _, buf in chunks:
            spans, st, t, bad, truncated = scan_reviews(buf)
            if bad >= 0 and not truncated:
                raise line_error(path, buf, bad, rows + len(st) + 1,
                                 'expected a JSON object with "user_id", "business_id", "stars" '
                                 'and "date" ("YYYY-MM-DD HH:MM:SS")')
            k = len(st)
            for out, interner, col, what in ((user, users, 0, "user_id"), (item, items, 2, "business_id")):
                raw = substrings(buf, spans[:, col], spans[:, col + 1])
                out[rows:rows + k], first = interner.add(raw)
                _check_new(path, buf, raw, first, spans[:, col], rows, what)
            stars[rows:rows + k], ts[rows:rows + k] = st, t
            rows += k
            if bad >= 0:
                _skip_truncated(path, rows + 1)
    if rows == 0:
        raise TinyBTError(f"{path}: no reviews found")
    user, item, stars, ts = user[:rows], item[:rows], stars[:rows], ts[:rows]
    return _sorted_keys(users, user), user, _sorted_keys(items, item), item, stars, ts


def read_businesses(path):
    """(business ids, category lists) of a business.json file; null categories → none."""
    ids, cats = [], []
    with open(path, "rb") as f:
        lines = f.read().split(b"\n")
    for lineno, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
            bid, text = obj["business_id"], obj.get("categories")
            if (not isinstance(bid, str) or not isinstance(text, (str, list, type(None)))
                    or (isinstance(text, list) and not all(isinstance(c, str) for c in text))):
                raise ValueError
        except (ValueError, KeyError, TypeError):
            if lineno == len(lines) and not raw.rstrip().endswith(b"}"):
                _skip_truncated(path, lineno)
                continue
            raise text_error(path, lineno, 'expected a JSON object with a string "business_id" and '
                             '"categories" (a string, a list of strings or null)',
                             raw.decode("utf-8", "replace")) from None
        # Older releases store categories as a list, newer ones as "A, B, C".
        parts = text.split(",") if isinstance(text, str) else (text or [])
        ids.append(bid)
        cats.append([c.strip() for c in parts if c.strip()])
    nonempty(path, ids, "one JSON object per business")
    return np.array(ids, dtype=str), cats


def load_yelp(folder):
    review_path, business_path = find_files(folder)
    user_keys, user, reviewed, item, stars, ts = read_reviews(review_path)
    warn_anomalies(review_path, user, item, stars, SCALE)
    catalog, cats = read_businesses(business_path)
    item_keys = np.union1d(reviewed, catalog)
    item = np.searchsorted(item_keys, reviewed).astype(np.int32)[item]
    off, values, names = genre_arrays(len(item_keys), np.searchsorted(item_keys, catalog), cats)
    return Dataset(name="yelp", user=user, item=item, rating=stars, timestamp=ts,
                   user_keys=user_keys, item_keys=item_keys, genre_offsets=off,
                   genre_values=values, genre_names=names)
