"""Probe memo: each probe's output kept under $TINYBT_HOME/probes/, so it is never fitted twice.

A probe (linear_probe.probe) is a deterministic function of its inputs. The reference rows
are the same for every run on the same data, split and seed, and the bag-of-items rows are
most of the probe time (docs/protocol.md, "Cost"), so a second run on the same data, or
`tinybt probe` of a run that `tinybt train` already probed, reads them back instead.

The key hashes what the output depends on, by content, never by a name that might refer
to something else: the features' and labels' bytes, the split, the settings, and the
source code of every module the fit runs and the NumPy and SciPy versions, so an edited
or upgraded solver misses every old entry.
An entry is one .npz (no pickles), written atomically; one that cannot be read is a
warning and a refit, one that cannot be written costs speed only. TINYBT_PROBE_CACHE=0
turns the memo off; `rm -r $TINYBT_HOME/probes` empties it (an entry is a compressed .npz
of ~50 KB for 5,000 users and 5 label seeds).
"""

import hashlib
import json
import os
import warnings
import zipfile
from pathlib import Path

import numpy as np
import scipy.sparse

from tinybt.atomic import atomic_open
from tinybt.data.cache import tinybt_home
from tinybt.errors import TinyBTError
from tinybt.kernels import xent as kernel_xent
from tinybt.losses import xent
from tinybt.probe import folds, linear_probe, logreg

CODE = (linear_probe, logreg, folds, kernel_xent, xent)
ARRAYS = ("users", "y", "fold")        # a probe output's top-level arrays; per fraction: pred, majority
UNIT_ARGS = ("pool", "folds", "label_fractions", "seeds", "seed")      # what probe_units takes


def enabled():
    return os.environ.get("TINYBT_PROBE_CACHE", "1") != "0"


def key(features, labels, split, kw):
    """Hex digest of everything probe(features, labels, split, **kw) depends on."""
    h = hashlib.blake2b(digest_size=20)
    h.update(f"numpy {np.__version__} scipy {scipy.__version__}".encode())    # L-BFGS-B, BLAS sums
    for module in CODE:
        h.update(Path(module.__file__).read_bytes())
    h.update(json.dumps(kw, sort_keys=True, default=str).encode())
    parts = (features.data, features.indices, features.indptr) if scipy.sparse.issparse(features) else (features,)
    for a in (*parts, np.asarray(labels), np.asarray(split)):
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.data)
    h.update(str(features.shape).encode())
    return h.hexdigest()


def save(path, out):
    """probe()'s output -> one .npz: its arrays as arrays (class indices as int16), the rest as JSON."""
    arrays = {k: out[k] for k in ARRAYS}
    meta = {k: v for k, v in out.items() if k not in (*ARRAYS, "fractions")}
    meta["fractions"] = []
    for i, fr in enumerate(out["fractions"]):
        arrays |= {f"{i}/pred": fr["pred"].astype(np.int16), f"{i}/majority": fr["majority"].astype(np.int16)}
        meta["fractions"].append({k: v for k, v in fr.items() if k not in ("pred", "majority")})
    with atomic_open(path) as f:
        np.savez_compressed(f, meta=np.array(json.dumps(meta)), **arrays)


def load(path):
    """The inverse of save (pred/majority back to int64); raises (OSError, BadZipFile, ...) if unreadable."""
    with np.load(path, allow_pickle=False) as z:
        out = json.loads(str(z["meta"])) | {k: z[k] for k in ARRAYS}
        for i, fr in enumerate(out["fractions"]):
            fr |= {"pred": z[f"{i}/pred"].astype(np.int64), "majority": z[f"{i}/majority"].astype(np.int64)}
    return out


def probe(features, labels, split, tick=None, **kw):
    """linear_probe.probe, read from the memo when it holds this exact probe (tick then reports
    all of its units at once), else computed and stored."""
    if not enabled():
        return linear_probe.probe(features, labels, split, tick=tick, **kw)
    path = tinybt_home() / "probes" / f"{key(features, labels, split, kw)}.npz"
    if path.is_file():
        try:
            out = load(path)
            if tick:
                tick(linear_probe.probe_units(labels, split, **{k: v for k, v in kw.items() if k in UNIT_ARGS}))
            return out
        except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as e:
            warnings.warn(f"{path}: unreadable probe memo ({type(e).__name__}: {e}); fitting again", stacklevel=2)
    out = linear_probe.probe(features, labels, split, tick=tick, **kw)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        save(path, out)
    except (OSError, TinyBTError) as e:       # a full disk, a read-only $TINYBT_HOME
        warnings.warn(f"{path}: cannot write the probe memo ({e}); the result is used without it", stacklevel=2)
    return out

