"""The file parsers' fast path (tinybt/data/movielens.py and tinybt/data/yelp.py are the reference).

A ratings file has 20M lines and a Yelp review.json millions of long ones, so these
kernels walk the memory-mapped bytes once and write straight into preallocated arrays
(one slot per newline): no Python object per row (benchmarks/bench_parse.py times both
paths on an ML-20M-sized file). Numbers are read as a float mantissa and a count of
decimals, then divided once, so the value is the correctly rounded one, as float()
gives, for up to 15 significant digits. The review kernel walks a line's JSON strings
left to right, as the reference does, so key-like text inside a value is never taken
for a key.
"""

import numpy as np
from numba import njit


@njit(cache=True)
def _count_lines(buf):
    """Number of lines, counting a last line without its newline."""
    n = 0
    for b in buf:
        if b == 10:
            n += 1
    if buf.size and buf[buf.size - 1] != 10:
        n += 1
    return n


@njit(cache=True)
def _number(buf, p, e, max_int_digits):
    """`digits[.digits]` at buf[p:e] -> (value, integer digits, '.' seen, decimals, end)."""
    mant, nd, dot, dec = 0.0, 0, False, 0
    while p < e and 48 <= buf[p] <= 57 and nd < max_int_digits:
        mant = mant * 10 + (buf[p] - 48)
        p += 1
        nd += 1
    if p < e and buf[p] == 46:  # '.'
        dot = True
        p += 1
        while p < e and 48 <= buf[p] <= 57:
            mant = mant * 10 + (buf[p] - 48)
            p += 1
            dec += 1
    return mant / 10.0 ** dec, nd, dot, dec, p


@njit(cache=True)
def _ratings_kernel(buf, pos, sep, user, item, rating, ts):
    """Fill the columns from byte `pos`; -> (rows parsed, byte offset of the first bad line or -1)."""
    n = buf.size
    row = 0
    while pos < n:
        start = pos
        for f in range(4):
            if f > 0:
                for k in range(sep.size):
                    if pos >= n or buf[pos] != sep[k]:
                        return row, start
                    pos += 1
            if f == 2:
                r, nd, dot, dec, pos = _number(buf, pos, n, 18)
                if nd == 0 or dot and dec == 0:
                    return row, start
                rating[row] = r
                continue
            v = 0
            nd = 0
            while pos < n and 48 <= buf[pos] <= 57 and nd < 18:
                v = v * 10 + (buf[pos] - 48)
                pos += 1
                nd += 1
            if nd == 0:
                return row, start
            if f == 0:
                user[row] = v
            elif f == 1:
                item[row] = v
            else:
                ts[row] = v
        if pos < n and buf[pos] == 13:  # '\r'
            pos += 1
        if pos < n:
            if buf[pos] != 10:
                return row, start
            pos += 1
        row += 1
    return row, -1


def parse_ratings(buf, pos, sep):
    """movielens.parse_ratings: same arguments, same results."""
    n = _count_lines(buf[pos:])
    user, item, ts = (np.empty(n, np.int64) for _ in range(3))
    rating = np.empty(n, np.float32)
    rows, bad = _ratings_kernel(buf, pos, np.frombuffer(sep, np.uint8), user, item, rating, ts)
    return user[:rows], item[:rows], rating[:rows], ts[:rows], bad


# ---------------------------------------------------------------- review.json

_KEYS = [np.frombuffer(k, np.uint8) for k in (b"user_id", b"business_id", b"stars", b"date")]


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
    """(valid, epoch seconds) of "YYYY-MM-DD HH:MM:SS" (or "YYYY-MM-DD") at buf[a:a+n]."""
    if n != 10 and n != 19:
        return False, 0
    y, m, d = _digits(buf, a, 4), _digits(buf, a + 5, 2), _digits(buf, a + 8, 2)
    if buf[a + 4] != 45 or buf[a + 7] != 45 or y < 0 or not 1 <= m <= 12 or not 1 <= d <= 31:
        return False, 0
    secs = 0
    if n == 19:
        hh, mm, ss = _digits(buf, a + 11, 2), _digits(buf, a + 14, 2), _digits(buf, a + 17, 2)
        if (buf[a + 10] != 32 or buf[a + 13] != 58 or buf[a + 16] != 58
                or not 0 <= hh < 24 or not 0 <= mm < 60 or not 0 <= ss < 61):
            return False, 0
        secs = hh * 3600 + mm * 60 + ss
    return True, _days_from_civil(y, m, d) * 86400 + secs


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
def _reviews_kernel(buf, k_user, k_item, k_stars, k_date, spans, stars, ts):
    """Scan JSON lines; spans[row] = (user start, user len, item start, item len).

    Returns (rows, bad line start or -1, whether the bad line is the unterminated last line).
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
                    valid, t = _date(buf, r + 1, s_end - r - 1)
                    if not valid:
                        return row, start, False
                    ts[row] = t
                    found |= 8
                p = s_end + 1
            elif _is_key(buf, p + 1, q, k_stars):
                v, nd, _, _, p = _number(buf, r, e, e - r)      # any number of digits, as the reference
                if nd == 0:
                    return row, start, False
                stars[row] = v
                found |= 4
            else:
                p = q + 1
        if found != 15:
            return row, start, False
        row += 1
        pos = nxt
    return row, -1, False


def scan_reviews(buf):
    """yelp.scan_reviews: same argument, same results."""
    n = _count_lines(buf)
    spans = np.zeros((n, 4), np.int64)
    stars = np.empty(n, np.float32)
    ts = np.empty(n, np.int64)
    rows, bad, truncated = _reviews_kernel(buf, *_KEYS, spans, stars, ts)
    return spans[:rows], stars[:rows], ts[:rows], bad, truncated


@njit(cache=True)
def _gather_kernel(buf, starts, lengths, out):
    for i in range(starts.size):
        for k in range(lengths[i]):
            out[i, k] = buf[starts[i] + k]


def substrings(buf, starts, lengths):
    """yelp.substrings: a zero-padded (n, width) byte matrix viewed as the same 'S' array."""
    width = max(int(lengths.max(initial=0)), 1)
    out = np.zeros((starts.size, width), np.uint8)
    _gather_kernel(buf, starts, lengths, out)
    return out.view(f"S{width}").ravel()
