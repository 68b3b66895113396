"""Byte-level helpers shared by the file loaders.

Big files are read as one uint8 array (memory-mapped, so the page cache holds
the bytes, not the Python heap) and parsed by functions that report the
*byte offset* of the first bad line; `line_error` turns that into the message
the user sees: file, line number, offending text.
"""

import os
import warnings
from pathlib import Path

import numpy as np

from tinybt.errors import TinyBTError


def read_bytes(path):
    """The file's bytes as a read-only uint8 array, without the blank lines at its end
    (an editor's or a concatenation's; one newline after the last line is kept)."""
    if os.path.getsize(path) == 0:
        return np.zeros(0, np.uint8)
    buf = np.memmap(path, dtype=np.uint8, mode="r")
    end = len(buf)
    while end and buf[end - 1] in b"\r\n \t":
        end -= 1
    return buf[:end + 1 if end < len(buf) else end]


def line_error(path, buf, start, lineno, why):
    """TinyBTError for the line beginning at byte `start` (1-based `lineno`)."""
    end = start
    while end < len(buf) and end - start < 200 and buf[end] != 10:
        end += 1
    return text_error(path, lineno, why, bytes(buf[start:end]).decode("latin-1"))


def text_error(path, lineno, why, text):
    text = text.rstrip("\r\n")
    if len(text) > 80:
        text = text[:80] + "..."
    return TinyBTError(f"{path}:{lineno}: {why}, got {text!r}")


def decode(path, encoding):
    """The text of a small file; bytes that are not `encoding` -> TinyBTError naming the line."""
    data = Path(path).read_bytes()
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        start = data.rfind(b"\n", 0, e.start) + 1
        raise text_error(path, line, f"not valid {encoding.upper()} (byte 0x{data[e.start]:02x})",
                         data[start:start + 200].split(b"\n")[0].decode(encoding, "replace")) from None


def text_lines(path, encoding):
    """(line number, line) of a small text file, skipping blank lines."""
    for lineno, line in enumerate(decode(path, encoding).split("\n"), 1):   # not splitlines: latin-1 0x85 is text
        line = line.rstrip("\r")
        if line.strip():
            yield lineno, line


def nonempty(path, lines, expected):
    """`lines` (a list), or a TinyBTError if the file held none."""
    if not lines:
        raise TinyBTError(f"{path}: empty; expected {expected}")
    return lines


def warn_anomalies(path, user, item, rating, scale, users_file=None, known_users=None, once_per_pair=False):
    """One warning per kind of suspicious row, with counts: ratings outside the dataset's
    scale (lo, hi), repeated (user, item) pairs where a user rates an item once
    (MovieLens; a Yelp user may review a business again), raters missing from the users file."""
    lo, hi = scale
    outside = int(np.count_nonzero((rating < lo) | (rating > hi)))
    if outside:
        warnings.warn(f"{path}: {outside:,} ratings outside the scale {lo:g}..{hi:g}", stacklevel=3)
    if once_per_pair and len(user):
        pair = user.astype(np.int64) * (int(item.max()) + 1) + item
        repeated = len(pair) - len(np.unique(pair))
        if repeated:
            warnings.warn(f"{path}: {repeated:,} rows repeat a (user, item) pair already rated", stacklevel=3)
    if known_users is not None:
        missing = len(np.setdiff1d(np.unique(user), known_users))
        if missing:
            warnings.warn(f"{users_file}: {missing:,} users who rate are missing from it "
                          "(their demographics are unknown)", stacklevel=3)


def expect_files(folder, names, dataset):
    """Raise unless every file in `names` exists in `folder`."""
    missing = [n for n in names if not (Path(folder) / n).is_file()]
    if missing:
        raise TinyBTError(
            f"{folder}: missing {', '.join(missing)}; a {dataset} folder must contain "
            f"{', '.join(names)}")


def dense_index(ids, catalog=()):
    """Sorted unique keys of `ids` ∪ `catalog` and the dense index of every id.

    Small non-negative integer ids (MovieLens) use a lookup table: O(n), no sort.
    """
    ids = np.asarray(ids)
    catalog = np.asarray(catalog, dtype=ids.dtype)
    both = (ids, catalog)
    if ids.dtype.kind in "iu" and all(a.size == 0 or a.min() >= 0 for a in both):
        top = max(int(a.max()) if a.size else -1 for a in both) + 1
        if top <= 1 << 27:
            present = np.zeros(top, bool)
            present[ids] = True
            present[catalog] = True
            keys = np.flatnonzero(present).astype(np.int64)
            lut = np.cumsum(present, dtype=np.int64) - 1
            return keys, lut[ids]
    keys = np.union1d(np.unique(ids), catalog)
    return keys, np.searchsorted(keys, ids).astype(np.int64)


def genre_arrays(n_items, item_index, genre_lists, names=None):
    """CSR genre arrays for items 0..n_items-1.

    item_index[k] is the dense item of catalog entry k, genre_lists[k] its genre
    names. `names` fixes the genre order (else sorted); names outside it are errors
    of the caller. Items absent from the catalog have no genres.
    """
    if names is None:
        names = sorted({g for gs in genre_lists for g in gs})
    pos = {g: i for i, g in enumerate(names)}
    counts = np.zeros(n_items + 1, np.int64)
    per_item = [()] * n_items
    for i, gs in zip(item_index, genre_lists):
        per_item[i] = sorted({pos[g] for g in gs})
    for i, gs in enumerate(per_item):
        counts[i + 1] = len(gs)
    values = np.fromiter((g for gs in per_item for g in gs), np.int32, int(counts.sum()))
    return np.cumsum(counts), values, np.array(names, dtype=str).reshape(-1)


def aligned(keys, ids, values, fill=-1, dtype=np.int16):
    """values[k] belongs to ids[k]; return them aligned to the sorted `keys` (fill elsewhere)."""
    out = np.full(len(keys), fill, dtype)
    out[np.searchsorted(keys, ids)] = values
    return out
