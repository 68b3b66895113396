"""Parsed cache: served on the second load, invalidated by a changed file, corrupt → rebuilt."""

import os
import warnings

import numpy as np
import pytest

from tinybt.data import cache, load, registry
from tinybt.data.writers import write_dataset
from test_writers import interactions, random_dataset

# random datasets repeat (user, item) pairs and leave out users: what the loaders warn
# about (tested in test_loaders.py), not what these tests check
pytestmark = [pytest.mark.filterwarnings("ignore:.*repeat a \\(user, item\\) pair"),
              pytest.mark.filterwarnings("ignore:.*users who rate are missing")]


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYBT_HOME", str(tmp_path / "home"))
    return write_dataset(random_dataset(0, 80, 10, 12, "ml-1m"), "ml-1m", tmp_path / "ml-1m")


def _count_parses(monkeypatch):
    calls = []
    real = registry.LOADERS["ml-1m"]
    monkeypatch.setitem(registry.LOADERS, "ml-1m", lambda f: calls.append(f) or real(f))
    return calls


def test_second_load_is_served_from_cache(folder, monkeypatch, tmp_path):
    calls = _count_parses(monkeypatch)
    first = load.load_dataset("ml-1m", data_dir=folder)
    second = load.load_dataset("ml-1m", data_dir=folder)
    assert len(calls) == 1
    files = list((tmp_path / "home" / "parsed").glob("ml-1m-*.npz"))
    assert len(files) == 1
    with np.load(files[0], allow_pickle=False) as z:  # no object arrays inside
        assert all(z[k].dtype != object for k in z.files)
    assert interactions(first) == interactions(second)
    for k in ("genre_offsets", "genre_values", "genre_names", "user_keys", "item_keys"):
        np.testing.assert_array_equal(getattr(first, k), getattr(second, k))
        assert getattr(first, k).dtype == getattr(second, k).dtype
    assert first.demographic_names == second.demographic_names
    for k in first.demographics:
        np.testing.assert_array_equal(first.demographics[k], second.demographics[k])


def test_changed_source_file_is_reparsed(folder, monkeypatch):
    calls = _count_parses(monkeypatch)
    load.load_dataset("ml-1m", data_dir=folder)
    with open(folder / "ratings.dat", "a") as f:
        f.write("1::1::5::1\n")
    ds = load.load_dataset("ml-1m", data_dir=folder)
    assert len(calls) == 2 and len(ds.user) == 81
    st = os.stat(folder / "movies.dat")  # same size, new mtime
    os.utime(folder / "movies.dat", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    load.load_dataset("ml-1m", data_dir=folder)
    assert len(calls) == 3


def test_corrupt_cache_is_ignored_and_rebuilt(folder, monkeypatch):
    calls = _count_parses(monkeypatch)
    want = interactions(load.load_dataset("ml-1m", data_dir=folder))
    path = cache.cache_path("ml-1m", registry.source_files("ml-1m", folder))
    path.write_bytes(path.read_bytes()[:100])
    with pytest.warns(UserWarning, match="corrupt cache"):
        assert interactions(load.load_dataset("ml-1m", data_dir=folder)) == want
    assert len(calls) == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the rebuilt file is good again
        load.load_dataset("ml-1m", data_dir=folder)
    assert len(calls) == 2


def test_home_honours_xdg(monkeypatch, tmp_path):
    monkeypatch.delenv("TINYBT_HOME", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache.tinybt_home() == tmp_path / "tinybt"
    monkeypatch.setenv("TINYBT_HOME", str(tmp_path / "x"))
    assert cache.tinybt_home() == tmp_path / "x"
