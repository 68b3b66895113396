"""Byte-level helpers shared by the file loaders.

Big files are read in chunks of whole lines (`line_chunks`), each parsed into
preallocated compact columns (`Columns`) before the next is read, so the file and
its parsed copy are never in memory together (a memory-mapped file counts in RSS
once touched); `shown_chunks` adds a progress bar for files that take a while. The parsers report the *byte offset* of the first bad line;
`line_error` turns that into the message the user sees: file, line number,
offending text.
"""

import os
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from tinybt.errors import TinyBTError
from tinybt.progress import DELAY, Progress


CHUNK_BYTES = 1 << 24
CHUNK_ROWS = 1 << 20
BLANK = b"\r\n \t"


def content_end(path):
    """Byte length of the file without the blank lines at its end (an editor's or a
    concatenation's); one byte after the last non-blank one is kept, its newline."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        end = size
        while end:
            f.seek(max(0, end - 65536))
            block = f.read(end - max(0, end - 65536))
            kept = len(block.rstrip(BLANK))
            if kept:
                end = end - len(block) + kept
                break
            end -= len(block)
    return end + 1 if end < size else end


def line_chunks(path, start=0, size=None):
    """(byte offset, uint8 array) of buf[start:content_end] in pieces that end at a newline
    (the last piece where the content ends); a line longer than `size` makes a longer piece."""
    size = size or CHUNK_BYTES
    end = content_end(path)
    with open(path, "rb") as f:
        f.seek(start)
        offset, pos, carry = start, start, b""
        while pos < end:
            chunk = f.read(min(size, end - pos))
            if not chunk:                   # the file shrank while we read it
                break
            pos += len(chunk)
            data = carry + chunk
            cut = len(data) if pos >= end else data.rfind(b"\n") + 1
            if cut:
                yield offset, np.frombuffer(data, np.uint8, count=cut)
                offset += cut
            carry = data[cut:]
        if carry:                           # ... and lost its last newline
            yield offset, np.frombuffer(carry, np.uint8)


@contextmanager
def shown_chunks(path, what, start=0):
    """line_chunks(path, start) under a progress bar of the bytes done, labelled `what` and the
    file's name. A chunk counts as done when the loop asks for the next one, so the bar and its
    ETA follow the caller's work on the chunks, not just the reading. Only a file that takes
    more than DELAY seconds shows the bar: ML-1M's 24 MB take less."""
    with Progress(content_end(path) - start, f"{what} {Path(path).name}", delay=DELAY) as bar:
        def chunks():
            for offset, buf in line_chunks(path, start):
                yield offset, buf
                bar.update(len(buf))
        yield chunks()


def count_lines(path, start=0):
    """Lines in buf[start:content_end], counting a last line without its newline."""
    n, last = 0, 10
    with shown_chunks(path, "count lines of", start) as chunks:
        for _, buf in chunks:
            n += int(np.count_nonzero(buf == 10))
            last = buf[-1]
    return n + (last != 10)


class Columns:
    """Output columns of a known row count, filled chunk by chunk in compact dtypes.

    An integer column starts as int32 and becomes int64 once a value needs it
    (ids of up to 18 digits are valid); float columns keep their dtype.
    """

    def __init__(self, n, dtypes):
        self.cols = [np.empty(n, d) for d in dtypes]
        self.n = 0

    def put(self, *parts):
        k = len(parts[0])
        for j, part in enumerate(parts):
            col = self.cols[j]
            if col.dtype == np.int32 and k and (part.max() > np.iinfo(np.int32).max
                                                 or part.min() < np.iinfo(np.int32).min):
                self.cols[j] = col = col.astype(np.int64)
            col[self.n:self.n + k] = part
        self.n += k

    def arrays(self):
        return tuple(c[:self.n] for c in self.cols)


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
        pair = pair_codes(user, item)
        pair.sort()                                     # in place: no copy as np.unique makes
        repeated = int(np.count_nonzero(pair[1:] == pair[:-1]))
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


def pair_codes(user, item):
    """user * (max item + 1) + item of non-negative ids, in uint32 when it fits (else int64)."""
    width = int(item.max()) + 1
    dtype = np.uint32 if (int(user.max()) + 1) * width <= 1 << 32 else np.int64
    out = np.empty(len(user), dtype)
    for s in range(0, len(user), CHUNK_ROWS):           # chunks: no int64 temporaries of every row
        out[s:s + CHUNK_ROWS] = user[s:s + CHUNK_ROWS].astype(dtype) * dtype(width) + item[s:s + CHUNK_ROWS]
    return out


def dense_index(ids, catalog=()):
    """Sorted unique keys (int64) of `ids` ∪ `catalog` and the int32 dense index of every id.

    Small non-negative integer ids (MovieLens) use a lookup table: O(n), no sort.
    """
    ids, catalog = np.asarray(ids), np.asarray(catalog)
    if catalog.size == 0:                               # () is float64
        catalog = catalog.astype(ids.dtype)
    both = (ids, catalog)
    if ids.dtype.kind in "iu" and all(a.size == 0 or a.min() >= 0 for a in both):
        top = max(int(a.max()) if a.size else -1 for a in both) + 1
        if top <= 1 << 27:
            present = np.zeros(top, bool)
            present[ids] = True
            present[catalog] = True
            keys = np.flatnonzero(present).astype(np.int64)
            lut = np.cumsum(present, dtype=np.int32) - 1
            out = np.empty(len(ids), np.int32)
            for s in range(0, len(ids), CHUNK_ROWS):
                out[s:s + CHUNK_ROWS] = lut[ids[s:s + CHUNK_ROWS]]
            return keys, out
    keys = np.union1d(np.unique(ids), catalog)
    return keys, np.searchsorted(keys, ids).astype(np.int32)


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
