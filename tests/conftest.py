"""Fixtures every test file may use."""

import pytest
from hypothesis import settings

from train_helpers import tiny_dataset

# Property tests draw the same examples on every run and machine: a CI failure
# reproduces locally, and no run passes or fails by luck.
settings.register_profile("tinybt", derandomize=True, database=None)
settings.load_profile("tinybt")


@pytest.fixture(autouse=True)
def home(tmp_path_factory, monkeypatch):
    """No test reads or writes the user's real cache ($TINYBT_HOME)."""
    monkeypatch.setenv("TINYBT_HOME", str(tmp_path_factory.getbasetemp() / "home"))


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory):
    """A tiny synthetic dataset on disk in the ML-1M format (train_helpers.tiny_dataset)."""
    return tiny_dataset(tmp_path_factory.mktemp("data"))
