"""The examples/ scripts run and do what they say."""

import runpy
from pathlib import Path

import numpy as np

from tinybt.backend import use_backend
from tinybt.run import checkpoint, run_dir
from tinybt.run.config import TrainConfig
from tinybt.train.trainer import train

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
# tinybt train's defaults but for the sizes, so that plain NumPy runs two epochs in seconds
TINY = dict(epochs=2, batch_size=64, max_len=20, dim=16, projector="32-32-32")


def step_by_step():
    return runpy.run_path(str(EXAMPLES / "barlow_step_by_step.py"))["main"]


def test_step_by_step_is_the_reference_trainer_bit_for_bit(tmp_path):
    """The reading example takes exactly the trainer's steps: same parameters, to the last bit."""
    lines = []
    params, buffers = step_by_step()(TrainConfig(**TINY), echo=lines.append)
    with use_backend("reference"):
        path = train(TrainConfig(**TINY), out=tmp_path / "run", progress=False)
    trained, trained_buffers, *_ = checkpoint.load(path / run_dir.CHECKPOINT)
    assert params.keys() == trained.keys() and buffers.keys() == trained_buffers.keys()
    for mine, theirs in ((params, trained), (buffers, trained_buffers)):
        for k in mine:
            assert mine[k].dtype == theirs[k].dtype and np.array_equal(mine[k], theirs[k]), k
    losses = [float(ln.split()[3]) for ln in lines if ln.startswith("epoch")]
    assert len(losses) == 2 and losses[1] < losses[0]

