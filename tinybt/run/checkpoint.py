"""checkpoint.npz: everything needed to continue a run bit for bit.

Keys (plain arrays only, so it loads with allow_pickle=False):
    param/<name>     model parameters (PyTorch state_dict names)
    buffer/<name>    BatchNorm running statistics
    optim/<name>     optimiser state (Adam's step count and moments)
    rng              the training Generator's bit_generator.state as a JSON string
    epoch            number of finished epochs
    metrics          that epoch's metrics.jsonl line as a JSON string (written first, so a
                     crash before the line reaches metrics.jsonl loses nothing)

Written to a temporary file and renamed over the old one, so the previous
checkpoint survives a crash (or a NaN) in the middle of writing.
"""

import json
import zipfile
from pathlib import Path

import numpy as np

from tinybt.atomic import atomic_open
from tinybt.errors import TinyBTError


def save(path, params, buffers, optim_state, rng, epoch, row=None):
    path = Path(path)
    arrays = {f"param/{k}": v for k, v in params.items()}
    arrays |= {f"buffer/{k}": v for k, v in buffers.items()}
    arrays |= {f"optim/{k}": v for k, v in optim_state.items()}
    arrays["rng"] = np.array(json.dumps(rng.bit_generator.state))
    arrays["epoch"] = np.array(epoch, dtype=np.int64)
    if row is not None:
        arrays["metrics"] = np.array(json.dumps(row))
    with atomic_open(path) as f:
        np.savez(f, **arrays)


def _arrays(path):
    """Every array of checkpoint `path`; a clear TinyBTError if it is missing or unreadable."""
    path = Path(path)
    if not path.is_file():
        raise TinyBTError(f"{path}: no checkpoint (the run stopped before its first epoch ended)")
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise TinyBTError(f"{path}: corrupt or incomplete checkpoint ({type(e).__name__}: {e})") from None


def load(path):
    """Returns (params, buffers, optim_state, rng, epoch); a clear TinyBTError if unreadable."""
    a = _arrays(path)
    try:
        state = json.loads(str(a.pop("rng")))
        epoch = int(a.pop("epoch"))
        rng = np.random.Generator(getattr(np.random, state["bit_generator"])())
        rng.bit_generator.state = state
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise TinyBTError(f"{path}: corrupt or incomplete checkpoint ({type(e).__name__}: {e})") from None

    def part(prefix):
        return {k[len(prefix):]: v for k, v in a.items() if k.startswith(prefix)}

    return part("param/"), part("buffer/"), part("optim/"), rng, epoch


def metrics_row(path):
    """The metrics line saved with checkpoint `path` (a dict), or None (older checkpoints)."""
    a = _arrays(path)
    try:
        return json.loads(str(a["metrics"])) if "metrics" in a else None
    except ValueError as e:
        raise TinyBTError(f"{path}: corrupt or incomplete checkpoint ({type(e).__name__}: {e})") from None
