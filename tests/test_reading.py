"""docs/reading.md names only functions that exist, every step names one, and it reads the
default model (the mean of the GRU states), not the old last-state one."""

import ast
import re
from pathlib import Path

from tinybt.run.config import TrainConfig

ROOT = Path(__file__).resolve().parents[1]
READING = (ROOT / "docs" / "reading.md").read_text(encoding="utf-8")
NAMED = re.compile(r"`([\w/]+\.py):(\w+)`")


def defined(path):
    """Top-level functions and classes of a file."""
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
    return {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}


def test_every_named_function_exists():
    named = NAMED.findall(READING)
    assert len(named) >= 30
    missing = [f"{f}:{fn}" for f, fn in named if not (ROOT / f).is_file() or fn not in defined(f)]
    assert missing == []


def test_every_step_names_its_file_and_function():
    rows = [ln for ln in READING.splitlines() if re.match(r"\| \d+ \|", ln)]
    assert len(rows) >= 14
    assert [r for r in rows if not NAMED.search(r)] == []


def test_it_reads_the_default_pooling():
    assert TrainConfig().pooling == "mean" and "mean_pool_forward" in READING and "mean_pool_backward" in READING
    assert "last_pool" not in READING and "last valid step as the user vector" not in READING
