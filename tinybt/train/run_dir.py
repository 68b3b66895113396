"""The run folder: config.json, metrics.jsonl and checkpoint.npz side by side.

    runs/<dataset>-<objective>-<encoder>-<YYYYmmdd-HHMMSS>/
        config.json       every setting (TrainConfig), written once
        metrics.jsonl     one JSON object per finished epoch
        checkpoint.npz    the state after the last finished epoch (checkpoint.py)

Every file is written to a temporary name and renamed, so a crash never leaves
half a file behind.
"""

import json
import time
from pathlib import Path

from tinybt.atomic import write_text
from tinybt.errors import TinyBTError
from tinybt.train.config import TrainConfig

CONFIG, METRICS, CHECKPOINT = "config.json", "metrics.jsonl", "checkpoint.npz"


def default_run_dir(cfg, root="runs"):
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path(root) / f"{cfg.dataset}-{cfg.objective}-{cfg.encoder}-{stamp}"


def create(path, cfg):
    """Make a fresh run folder holding config.json; refuse to clobber an earlier run."""
    path = Path(path)
    if (path / CONFIG).exists():
        raise TinyBTError(f"--out: {path} already holds a run; pick another folder or use --resume {path}")
    path.mkdir(parents=True, exist_ok=True)
    write_text(path / CONFIG, cfg.to_json())
    return path


def load_config(path, flag="--resume"):
    """The run's TrainConfig; `flag` names the argument that gave the folder, for errors."""
    path = Path(path)
    if not path.is_dir():
        raise TinyBTError(f"{flag}: {path} is not a run folder (no such directory)")
    f = path / CONFIG
    if not f.is_file():
        raise TinyBTError(f"{f}: missing; {path} is not a tinybt run folder")
    return TrainConfig.from_json(f.read_text(), source=str(f)).validate()


def read_metrics(path):
    f = Path(path) / METRICS
    if not f.exists():
        return []
    rows = []
    for n, line in enumerate(f.read_text().splitlines(), 1):
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            raise TinyBTError(f"{f}:{n}: not a JSON line: {line[:80]!r}") from None
    return rows


def write_metrics(path, rows):
    """Rewrite metrics.jsonl with `rows` (used on resume to drop epochs after the checkpoint)."""
    write_text(Path(path) / METRICS, "".join(json.dumps(r) + "\n" for r in rows))


def append_metrics(path, row):
    # rewrite rather than append in place: the file stays whole even if we die mid-write
    write_metrics(path, read_metrics(path) + [row])
