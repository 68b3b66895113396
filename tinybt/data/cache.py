"""Parse cache: each parsed dataset as memory-mappable .npy files under $TINYBT_HOME/parsed/.

One folder NAME-KEY/ per dataset and source files: one .npy per array of Dataset.arrays()
and meta.json, written last (a folder without it is ignored), recording every array's
dtype and shape and the data's fingerprint (tinybt/data/fingerprint.py), so a run need not
hash the arrays again. KEY hashes the cache format version and each source file's
(name, size, mtime_ns): editing or replacing a file changes them, and hashing ML-20M's
bytes would cost more than the 2 s a cached load may take.

Arrays are opened with np.load(mmap_mode="r"): read-only, paged in when touched, and the
page cache holds one copy for every process reading them. A missing, truncated or
corrupt file is one warning and a re-parse; a cache that cannot be written is one
warning and the parsed arrays are used from memory. Every file is written atomically
(tinybt/atomic.py), so no reader ever sees half of one.
"""

import hashlib
import json
import os
import shutil
import warnings
from pathlib import Path

import numpy as np

from tinybt.atomic import atomic_open, write_text
from tinybt.data.dataset import Dataset
from tinybt.data.fingerprint import fingerprint, remember
from tinybt.errors import TinyBTError

FORMAT_VERSION = 2
META = "meta.json"


class CacheError(Exception):
    """A cache folder that cannot be used as it is."""


def tinybt_home():
    """$TINYBT_HOME, else $XDG_CACHE_HOME/tinybt, else ~/.cache/tinybt."""
    if os.environ.get("TINYBT_HOME"):
        return Path(os.environ["TINYBT_HOME"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "tinybt"


def _stats(sources):
    return sorted((Path(p).name, os.stat(p).st_size, os.stat(p).st_mtime_ns) for p in sources)


def cache_dir(name, sources):
    key = json.dumps([FORMAT_VERSION, name, _stats(sources)]).encode()
    return tinybt_home() / "parsed" / f"{name}-{hashlib.sha256(key).hexdigest()[:16]}"


def _file(key):
    return key.replace("/", "-") + ".npy"


def load(folder):
    """The Dataset stored in cache `folder`, its arrays memory-mapped; CacheError if unusable."""
    try:
        meta = json.loads((folder / META).read_text(encoding="utf-8"))
        specs = meta["arrays"]
        arrays = {}
        for key, (dtype, shape) in specs.items():
            a = np.load(folder / _file(key), mmap_mode="r", allow_pickle=False)
            if a.dtype.str != dtype or list(a.shape) != shape:
                raise CacheError(f"{_file(key)} holds {a.dtype.str} {list(a.shape)}, "
                                 f"meta.json says {dtype} {shape}")
            arrays[key] = a.view(np.ndarray)      # a plain read-only array on the mapping
        ds = Dataset.from_arrays({**arrays, "name": np.array(meta["name"])})
    except (OSError, ValueError, KeyError, TypeError, EOFError) as e:
        raise CacheError(f"{type(e).__name__}: {e}") from None
    remember(ds, meta["fingerprint"])
    return ds


def store(folder, ds, sources):
    """Write `ds` into cache `folder`; meta.json last, so a half-written folder is never read."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / META).unlink(missing_ok=True)
    arrays = ds.arrays()
    del arrays["name"]                      # in meta.json: a 0-d array cannot be memory-mapped
    for key, a in arrays.items():
        with atomic_open(folder / _file(key)) as f:
            np.save(f, np.ascontiguousarray(a), allow_pickle=False)
    meta = {"version": FORMAT_VERSION, "name": ds.name, "sources": [str(Path(p).resolve()) for p in sources],
            "arrays": {k: [a.dtype.str, list(a.shape)] for k, a in arrays.items()},
            "fingerprint": fingerprint(ds)}
    write_text(folder / META, json.dumps(meta, indent=1))


def _drop_stale(folder, sources):
    """Remove the other cache folders of the same source paths (their files have changed)."""
    mine = [str(Path(p).resolve()) for p in sources]
    for other in folder.parent.glob(folder.name.rsplit("-", 1)[0] + "-*"):
        try:
            stale = other != folder and json.loads((other / META).read_text(encoding="utf-8"))["sources"] == mine
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if stale:
            shutil.rmtree(other, ignore_errors=True)   # a folder another process maps stays (Windows)


def cached(name, sources, parse):
    """The Dataset parsed from `sources`: from the cache if fresh, else `parse()`, then cached."""
    folder = cache_dir(name, sources)
    if (folder / META).is_file():
        try:
            return load(folder)
        except CacheError as e:
            warnings.warn(f"{folder}: corrupt cache ({e}); parsing {name} again", stacklevel=2)
    ds = parse()
    try:
        store(folder, ds, sources)
    except (OSError, TinyBTError) as e:   # a read-only cache folder costs speed, not correctness
        warnings.warn(f"{folder}: cannot write the parse cache ({e}); using the parsed data "
                      "without it", stacklevel=2)
        return ds
    _drop_stale(folder, sources)
    try:
        return load(folder)
    except CacheError as e:               # e.g. removed under us by another process
        warnings.warn(f"{folder}: cannot read the cache just written ({e}); using the parsed data",
                      stacklevel=2)
        return ds
