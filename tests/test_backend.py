"""tinybt/backend.py: the one switch between the reference layers and the fast kernels."""

import numpy as np
import pytest
from click.testing import CliRunner

from tinybt import backend
from tinybt.cli import cli

from train_helpers import metrics, tiny_flags


def test_switch_and_context_manager_restore():
    assert backend.get_backend() == "fast"
    with backend.use_backend("reference"):
        assert backend.get_backend() == "reference" and not backend.fast()
        with pytest.raises(ValueError, match="fast, reference"):
            backend.set_backend("numba")
        assert backend.get_backend() == "reference"
    assert backend.fast()


def test_train_on_either_backend_gives_the_same_losses(data_dir, tmp_path):
    """`tinybt train --backend reference` trains the same model as the default fast path
    (float32: equal up to rounding), and leaves the process on the fast path."""
    losses = {}
    for name in backend.BACKENDS:
        run = tmp_path / name
        result = CliRunner().invoke(cli, ["train", *tiny_flags(data_dir, epochs=1), "--backend", name,
                                          "--out", str(run), "--no-probe"])
        assert result.exit_code == 0, result.output
        losses[name] = [row["loss"] for row in metrics(run)]
    np.testing.assert_allclose(losses["fast"], losses["reference"], rtol=1e-4)
    assert backend.fast()
