"""Parsed-dataset cache: one npz per (dataset, source files) under $TINYBT_HOME/parsed/.

The key hashes the cache format version and each source file's (name, size,
mtime_ns), so editing or replacing a file invalidates it. Files are written to a
temporary name and renamed (a crash never leaves a half-written cache), loaded
with allow_pickle=False, and a corrupt file is ignored, rebuilt and replaced.
"""

import hashlib
import json
import os
import warnings
import zipfile
from pathlib import Path

import numpy as np

from tinybt.atomic import atomic_open
from tinybt.data.dataset import Dataset

FORMAT_VERSION = 1


def tinybt_home():
    """$TINYBT_HOME, else $XDG_CACHE_HOME/tinybt, else ~/.cache/tinybt."""
    if os.environ.get("TINYBT_HOME"):
        return Path(os.environ["TINYBT_HOME"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "tinybt"


def cache_path(name, sources):
    stats = [(Path(p).name, os.stat(p).st_size, os.stat(p).st_mtime_ns) for p in sources]
    key = json.dumps([FORMAT_VERSION, name, sorted(stats)]).encode()
    return tinybt_home() / "parsed" / f"{name}-{hashlib.sha256(key).hexdigest()[:16]}.npz"


def cached(name, sources, parse):
    """The Dataset parsed from `sources`, from the cache if fresh, else `parse()` (then stored)."""
    path = cache_path(name, sources)
    if path.is_file():
        try:
            with np.load(path, allow_pickle=False) as z:
                return Dataset.from_arrays({k: z[k] for k in z.files})
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:
            warnings.warn(f"ignoring the corrupt cache file {path} ({e}); re-parsing", stacklevel=2)
    ds = parse()
    try:
        store(path, ds)
    except OSError as e:  # a read-only cache folder costs speed, not correctness
        warnings.warn(f"could not write the cache file {path}: {e}", stacklevel=2)
    return ds


def store(path, ds):
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(path) as f:
        np.savez(f, **ds.arrays())
