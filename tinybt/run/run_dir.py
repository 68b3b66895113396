"""The run folder: config.json, data.json, metrics.jsonl and checkpoint.npz side by side.

    runs/<dataset>-<objective>-<encoder>-<YYYYmmdd-HHMMSS-micro>/
        config.json       every setting (TrainConfig), written once
        data.json         fingerprint of the data trained on (tinybt/data/fingerprint.py)
        metrics.jsonl     one JSON object per finished epoch
        checkpoint.npz    the state after the last finished epoch (checkpoint.py)
        .lock             held by the one process writing the folder (lock.py)

Every file is written to a temporary name and renamed, so a crash never leaves
half a file behind. A default folder name carries microseconds and is made with
an exclusive mkdir, so two runs started at once never share a folder.
"""

import contextlib
import contextvars
import json
import time
import warnings
from pathlib import Path

from tinybt.atomic import write_text
from tinybt.data.fingerprint import changes
from tinybt.errors import TinyBTError
from tinybt.run.config import TrainConfig

CONFIG, DATA, METRICS, CHECKPOINT = "config.json", "data.json", "metrics.jsonl", "checkpoint.npz"
_DATA_DIR = contextvars.ContextVar("data_dir", default=None)


def make_folder(path, cfg, root="runs"):
    """Make folder `path` (if needed) and return it; path None: runs/<dataset>-<objective>-<encoder>-<time>,
    a name no other run has."""
    if path is not None:
        Path(path).mkdir(parents=True, exist_ok=True)
        return Path(path)
    while True:
        stamp = time.strftime("%Y%m%d-%H%M%S") + f"-{time.time_ns() // 1000 % 1_000_000:06d}"
        path = Path(root) / f"{cfg.dataset}-{cfg.objective}-{cfg.encoder}-{stamp}"
        try:
            path.mkdir(parents=True)           # exclusive: fails if another run took the name
            return path
        except FileExistsError:
            continue


def create(path, cfg, data=None):
    """Make a fresh run folder holding config.json (and data.json); refuse to clobber an earlier run."""
    path = Path(path)
    if (path / CONFIG).exists():
        raise TinyBTError(f"--out: {path} already holds a run; pick another folder or use --resume {path}")
    path.mkdir(parents=True, exist_ok=True)
    if data is not None:
        write_text(path / DATA, json.dumps(data, indent=1, sort_keys=True) + "\n")
    write_text(path / CONFIG, cfg.to_json())
    return path


@contextlib.contextmanager
def data_moved_to(data_dir):
    """Within the block, runs read their data from `data_dir` (--data-dir of embed/probe/resume)."""
    token = _DATA_DIR.set(None if data_dir is None else str(Path(data_dir).expanduser().absolute()))
    try:
        yield
    finally:
        _DATA_DIR.reset(token)


def load_config(path, flag="--resume"):
    """The run's TrainConfig; `flag` names the argument that gave the folder, for errors."""
    path = Path(path)
    if not path.is_dir():
        raise TinyBTError(f"{flag}: {path} is not a run folder (no such directory)")
    f = path / CONFIG
    if not f.is_file():
        raise TinyBTError(f"{f}: missing; {path} is not a tinybt run folder")
    cfg = TrainConfig.from_json(f.read_text(encoding="utf-8"), source=str(f))
    try:
        cfg.validate(saved=True)
    except TinyBTError as e:
        raise TinyBTError(f"{f}: {e}") from None
    if _DATA_DIR.get() is not None:
        if cfg.dataset == "synthetic":
            raise TinyBTError("--data-dir: the run's synthetic dataset is generated, not read from files; "
                              "drop --data-dir")
        cfg.data_dir = _DATA_DIR.get()
    elif cfg.data_dir is not None and not Path(cfg.data_dir).is_dir():
        raise TinyBTError(f"{f}: the run's data folder {cfg.data_dir} does not exist (moved?); "
                          "pass --data-dir to where the data is now")
    return cfg


def check_data(path, current):
    """Refuse to reuse run `path` on data other than what it was trained on (fingerprint `current`)."""
    f = Path(path) / DATA
    if not f.is_file():
        warnings.warn(f"{f}: missing (a run from an older tinybt); cannot check that the data is "
                      "what the run was trained on", stacklevel=2)
        return
    try:
        recorded = json.loads(f.read_text(encoding="utf-8"))
        diff = changes(recorded, current)
    except (ValueError, AttributeError, TypeError) as e:
        raise TinyBTError(f"{f}: not a data fingerprint ({e})") from None
    if diff:
        raise TinyBTError(f"{f}: the data differs from what this run was trained on: {'; '.join(diff)}; "
                          "its vectors would be wrong: pass --data-dir to the original data")


def read_metrics(path):
    """The epoch rows of metrics.jsonl, checked: one JSON object per line, epochs 1, 2, 3, ..."""
    f = Path(path) / METRICS
    if not f.exists():
        return []
    rows = []
    for n, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1):
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            raise TinyBTError(f"{f}:{n}: not a JSON line: {line[:80]!r}") from None
        if not isinstance(row, dict) or row.get("epoch") != n or isinstance(row.get("epoch"), bool):
            raise TinyBTError(f"{f}:{n}: expected a JSON object with \"epoch\": {n}, got {line[:80]!r}")
        rows.append(row)
    return rows


def write_metrics(path, rows):
    """Rewrite metrics.jsonl with `rows` (used on resume to drop epochs after the checkpoint)."""
    write_text(Path(path) / METRICS, "".join(json.dumps(r) + "\n" for r in rows))


def append_metrics(path, row):
    # rewrite rather than append in place: the file stays whole even if we die mid-write
    write_metrics(path, read_metrics(path) + [row])
