"""Yelp loader: review.json + business.json (JSON lines), string ids.

review.json is the big file (millions of lines with long review texts), so a
Numba kernel scans its bytes once and pulls out only user_id, business_id,
stars and date; ids are copied into a fixed-width byte matrix and indexed with
np.unique — no Python object per review. A key can be recognised anywhere in a
line because inside JSON strings every quote is escaped, so `"user_id"` followed
by `:` cannot occur in a review's text. business.json (one line per business)
goes through the json module. A truncated last line (an interrupted download or
a cut head of the file) is skipped with a warning; any other bad line is an error.
"""

import json
import warnings
from pathlib import Path

import numpy as np
from numba import njit

from tinybt.data.dataset import Dataset
from tinybt.data.textio import (count_lines, genre_arrays, line_error, nonempty, read_bytes, text_error,
                                warn_anomalies)
from tinybt.errors import TinyBTError

# The official names, then the short ones `tinybt data synthesize` writes.
REVIEW_FILES = ("yelp_academic_dataset_review.json", "review.json")
BUSINESS_FILES = ("yelp_academic_dataset_business.json", "business.json")
SCALE = (1, 5)              # stars
_KEYS = [np.frombuffer(k, np.uint8) for k in (b"user_id", b"business_id", b"stars", b"date")]


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


# ---------------------------------------------------------------- review.json kernel

@njit(cache=True)
def _days_from_civil(y, m, d):
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm)."""
    y -= m <= 2
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


@njit(cache=True)
def _digits(buf, a, k):
    v = 0
    for p in range(a, a + k):
        c = buf[p] - 48
        if c < 0 or c > 9:
            return -1
        v = v * 10 + c
    return v


@njit(cache=True)
def _date(buf, a, n):
    """Epoch seconds of "YYYY-MM-DD HH:MM:SS" (or "YYYY-MM-DD") at buf[a:a+n], -1 if invalid."""
    if n != 10 and n != 19:
        return -1
    y, m, d = _digits(buf, a, 4), _digits(buf, a + 5, 2), _digits(buf, a + 8, 2)
    if buf[a + 4] != 45 or buf[a + 7] != 45 or y < 0 or not 1 <= m <= 12 or not 1 <= d <= 31:
        return -1
    secs = 0
    if n == 19:
        hh, mm, ss = _digits(buf, a + 11, 2), _digits(buf, a + 14, 2), _digits(buf, a + 17, 2)
        if (buf[a + 10] != 32 or buf[a + 13] != 58 or buf[a + 16] != 58
                or not 0 <= hh < 24 or not 0 <= mm < 60 or not 0 <= ss < 61):
            return -1
        secs = hh * 3600 + mm * 60 + ss
    return _days_from_civil(y, m, d) * 86400 + secs


@njit(cache=True)
def _string_end(buf, p, e):
    """Index of the closing quote of the JSON string whose first char is at p (-1 if none)."""
    while p < e:
        c = buf[p]
        if c == 92:  # backslash: skip the escaped char
            p += 2
        elif c == 34:
            return p
        else:
            p += 1
    return -1


@njit(cache=True)
def _is_key(buf, a, b, key):
    if b - a != key.size:
        return False
    for k in range(key.size):
        if buf[a + k] != key[k]:
            return False
    return True


@njit(cache=True)
def _parse_reviews(buf, k_user, k_item, k_stars, k_date, spans, stars, ts):
    """Scan JSON lines; spans[row] = (user start, user len, item start, item len).

    Every line holds one review, so `rows` is also the 0-based number of a bad line.
    Returns (rows, bad line start or -1, whether the bad line is a truncated last line).
    """
    n = buf.size
    pos = 0
    row = 0
    while pos < n:
        start = pos
        end = pos
        while end < n and buf[end] != 10:
            end += 1
        nxt = end + 1
        e = end
        while e > start and (buf[e - 1] == 13 or buf[e - 1] == 32 or buf[e - 1] == 9):
            e -= 1
        b = start
        while b < e and (buf[b] == 32 or buf[b] == 9):
            b += 1
        if b == e and end >= n:  # trailing whitespace after the last line
            break
        if b == e or buf[b] != 123 or buf[e - 1] != 125:  # must be {...}
            return row, start, end >= n
        found = 0
        p = b + 1
        while p < e:
            if buf[p] != 34:
                p += 1
                continue
            q = _string_end(buf, p + 1, e)
            if q < 0:
                return row, start, end >= n
            r = q + 1
            while r < e and (buf[r] == 32 or buf[r] == 9):
                r += 1
            if r >= e or buf[r] != 58:  # not a key: a string value
                p = q + 1
                continue
            r += 1
            while r < e and (buf[r] == 32 or buf[r] == 9):
                r += 1
            is_user = _is_key(buf, p + 1, q, k_user)
            is_item = _is_key(buf, p + 1, q, k_item)
            if is_user or is_item or _is_key(buf, p + 1, q, k_date):
                if r >= e or buf[r] != 34:
                    return row, start, False
                s_end = _string_end(buf, r + 1, e)
                if s_end < 0:
                    return row, start, False
                if is_user:
                    spans[row, 0], spans[row, 1] = r + 1, s_end - r - 1
                    found |= 1
                elif is_item:
                    spans[row, 2], spans[row, 3] = r + 1, s_end - r - 1
                    found |= 2
                else:
                    t = _date(buf, r + 1, s_end - r - 1)
                    if t < 0:
                        return row, start, False
                    ts[row] = t
                    found |= 8
                p = s_end + 1
            elif _is_key(buf, p + 1, q, k_stars):
                v = 0.0
                nd = 0
                while r < e and 48 <= buf[r] <= 57:
                    v = v * 10 + (buf[r] - 48)
                    r += 1
                    nd += 1
                if r < e and buf[r] == 46:
                    r += 1
                    scale = 0.1
                    while r < e and 48 <= buf[r] <= 57:
                        v += (buf[r] - 48) * scale
                        scale *= 0.1
                        r += 1
                if nd == 0:
                    return row, start, False
                stars[row] = v
                found |= 4
                p = r
            else:
                p = q + 1
        if found != 15:
            return row, start, False
        row += 1
        pos = nxt
    return row, -1, False


@njit(cache=True)
def _gather(buf, starts, lengths, width):
    """(n, width) zero-padded byte matrix of the n substrings buf[start:start+len]."""
    out = np.zeros((starts.size, width), np.uint8)
    for i in range(starts.size):
        for k in range(lengths[i]):
            out[i, k] = buf[starts[i] + k]
    return out


def _unique_strings(buf, starts, lengths, path, what):
    """Sorted unique str keys of the substrings and each substring's index into them.

    A key that is not UTF-8 or holds a bad JSON escape is an error naming the line of its
    first use (every line holds one review, so row k is line k + 1).
    """
    width = max(int(lengths.max()), 1)
    fixed = _gather(buf, starts, lengths, width).view(f"S{width}").ravel()
    keys, inverse = np.unique(fixed, return_inverse=True)
    text = []
    for k, raw in enumerate(keys):
        try:
            s = raw.decode("utf-8")
            text.append(json.loads(f'"{s}"') if "\\" in s else s)   # JSON escapes: \u00e9, \"
        except ValueError as e:                 # UnicodeDecodeError and JSONDecodeError alike
            row = int(np.argmax(inverse == k))
            why = "not valid UTF-8" if isinstance(e, UnicodeDecodeError) else "a bad JSON escape"
            raise line_error(path, buf, _line_start(buf, starts[row]), row + 1,
                             f"the {what} holds {why}") from None
    keys, remap = np.unique(np.array(text, dtype=str), return_inverse=True)
    return keys, remap[inverse].astype(np.int64)


def _line_start(buf, pos):
    while pos > 0 and buf[pos - 1] != 10:
        pos -= 1
    return pos


def read_reviews(path):
    """(user keys, user, item keys, item, stars, timestamp) of a review.json file."""
    buf = read_bytes(path)
    n = count_lines(buf)
    spans = np.zeros((n, 4), np.int64)
    stars = np.empty(n, np.float32)
    ts = np.empty(n, np.int64)
    rows, bad, truncated = _parse_reviews(buf, *_KEYS, spans, stars, ts)
    if bad >= 0 and truncated:
        warnings.warn(f"{path}:{rows + 1}: skipping the truncated last line", stacklevel=3)
    elif bad >= 0:
        raise line_error(path, buf, bad, rows + 1,
                         'expected a JSON object with "user_id", "business_id", "stars" '
                         'and "date" ("YYYY-MM-DD HH:MM:SS")')
    if rows == 0:
        raise TinyBTError(f"{path}: no reviews found")
    spans = spans[:rows]
    user_keys, user = _unique_strings(buf, spans[:, 0], spans[:, 1], path, "user_id")
    item_keys, item = _unique_strings(buf, spans[:, 2], spans[:, 3], path, "business_id")
    return user_keys, user, item_keys, item, stars[:rows], ts[:rows]


def _read_reviews_reference(path):
    """Plain json-module reference of `read_reviews` (tests): rows of (user, business, stars, t)."""
    rows = []
    with open(path, encoding="utf-8", errors="replace") as f:  # a cut may split a character
        for line in f:
            try:
                o = json.loads(line)
            except ValueError:  # the truncated last line
                continue
            t = int(np.datetime64(o["date"], "s").astype(np.int64))
            rows.append((o["user_id"], o["business_id"], float(o["stars"]), t))
    return rows


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
                warnings.warn(f"{path}:{lineno}: skipping the truncated last line", stacklevel=3)
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
    item = np.searchsorted(item_keys, reviewed)[item]
    off, values, names = genre_arrays(len(item_keys), np.searchsorted(item_keys, catalog), cats)
    return Dataset(name="yelp", user=user, item=item, rating=stars, timestamp=ts,
                   user_keys=user_keys, item_keys=item_keys, genre_offsets=off,
                   genre_values=values, genre_names=names)
