"""Parse cache: memory-mapped .npy served on the second load, invalidated by a changed file,
rebuilt when corrupt, skipped (with a warning) when it cannot be written."""

import json
import os
import warnings

import numpy as np
import pytest

from tinybt.data import cache, fingerprint, load, registry
from tinybt.data.sequences import build_sequences
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


def _cache_folder(folder):
    return cache.cache_dir("ml-1m", registry.source_files("ml-1m", folder))


def _same(a, b):
    assert interactions(a) == interactions(b)
    for k, v in a.arrays().items():
        np.testing.assert_array_equal(v, b.arrays()[k])
        assert v.dtype == b.arrays()[k].dtype
    assert a.demographic_names == b.demographic_names


def test_second_load_is_memory_mapped_from_cache(folder, monkeypatch, tmp_path):
    calls = _count_parses(monkeypatch)
    first = load.load_dataset("ml-1m", data_dir=folder)
    second = load.load_dataset("ml-1m", data_dir=folder)
    assert len(calls) == 1
    (cached,) = (tmp_path / "home" / "parsed").glob("ml-1m-*")
    assert (cached / "meta.json").is_file() and (cached / "user.npy").is_file()
    assert not list(cached.glob("*.tmp"))
    parsed = registry.parse_folder("ml-1m", folder, use_cache=False)
    _same(parsed, second)
    _same(first, second)
    assert second.user.dtype == np.int32 and not second.user.flags.writeable
    assert isinstance(second.user.base, np.memmap)          # mapped, not read into memory
    with pytest.raises(ValueError, match="read-only"):
        second.user[0] = 1


def test_sequences_from_the_memory_mapped_cache(folder):
    load.load_dataset("ml-1m", data_dir=folder)
    mapped = load.load_dataset("ml-1m", data_dir=folder)
    parsed = registry.parse_folder("ml-1m", folder, use_cache=False)
    a, b = (build_sequences(d, max_len=3, min_interactions=2) for d in (mapped, parsed))
    for k in ("hist_values", "hist_offsets", "fut_values", "fut_ratings", "seen_values", "item_of_id"):
        np.testing.assert_array_equal(getattr(a, k), getattr(b, k))


def test_the_stored_fingerprint_is_the_computed_one(folder):
    load.load_dataset("ml-1m", data_dir=folder)
    mapped = load.load_dataset("ml-1m", data_dir=folder)
    stored = fingerprint.fingerprint(mapped)
    meta = json.loads((_cache_folder(folder) / "meta.json").read_text(encoding="utf-8"))
    assert stored == meta["fingerprint"]
    assert stored == fingerprint.fingerprint(registry.parse_folder("ml-1m", folder, use_cache=False))
    del mapped._fingerprint
    assert fingerprint.fingerprint(mapped) == stored
    changed = registry.parse_folder("ml-1m", folder, use_cache=False)
    fingerprint.remember(changed, stored)
    changed.item = changed.item[::-1].copy()                 # other arrays: the memo no longer applies
    assert fingerprint.fingerprint(changed)["sha256"]["interactions"] != stored["sha256"]["interactions"]


def test_fingerprint_does_not_depend_on_the_id_dtype(folder):
    ds = registry.parse_folder("ml-1m", folder, use_cache=False)
    wide = registry.parse_folder("ml-1m", folder, use_cache=False)
    wide.user, wide.item = wide.user.astype(np.int64), wide.item.astype(np.int64)
    assert fingerprint.fingerprint(ds) == fingerprint.fingerprint(wide)


def test_changed_source_file_is_reparsed_and_the_stale_cache_removed(folder, monkeypatch, tmp_path):
    calls = _count_parses(monkeypatch)
    load.load_dataset("ml-1m", data_dir=folder)
    old = _cache_folder(folder)
    with open(folder / "ratings.dat", "a", encoding="latin-1") as f:
        f.write("1::1::5::1\n")
    ds = load.load_dataset("ml-1m", data_dir=folder)
    assert len(calls) == 2 and len(ds.user) == 81
    assert not old.exists() and _cache_folder(folder).is_dir()
    st = os.stat(folder / "movies.dat")  # same size, new mtime
    os.utime(folder / "movies.dat", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    load.load_dataset("ml-1m", data_dir=folder)
    assert len(calls) == 3
    assert len(list((tmp_path / "home" / "parsed").iterdir())) == 1


def _truncate(path):
    path.write_bytes(path.read_bytes()[:100])


def _garbage(path):
    path.write_bytes(b"not an npy file" * 10)


def _wrong_shape(path):
    np.save(path, np.zeros(3, np.int32))


def _bad_meta(path):
    (path.parent / "meta.json").write_text("{", encoding="utf-8")


def _missing(path):
    path.unlink()


@pytest.mark.parametrize("damage", [_truncate, _garbage, _wrong_shape, _bad_meta, _missing])
def test_corrupt_cache_is_rebuilt_with_one_warning(folder, monkeypatch, damage):
    calls = _count_parses(monkeypatch)
    load.load_dataset("ml-1m", data_dir=folder)
    want = registry.parse_folder("ml-1m", folder, use_cache=False)   # not mapped on the file damaged
    damage(_cache_folder(folder) / "item.npy")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = load.load_dataset("ml-1m", data_dir=folder)
    (line,) = [str(w.message) for w in caught if "repeat a (user, item)" not in str(w.message)]
    assert "\n" not in line and "corrupt cache" in line and str(_cache_folder(folder)) in line
    _same(want, got)
    assert len(calls) == 3
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the rebuilt cache is good again
        load.load_dataset("ml-1m", data_dir=folder)
    assert len(calls) == 3


def test_a_folder_without_meta_json_is_never_read(folder, monkeypatch):
    calls = _count_parses(monkeypatch)
    load.load_dataset("ml-1m", data_dir=folder)
    (_cache_folder(folder) / "meta.json").unlink()         # as a crash between the arrays and meta.json leaves it
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        load.load_dataset("ml-1m", data_dir=folder)
    assert len(calls) == 2 and not [w for w in caught if "corrupt cache" in str(w.message)]


def test_unwritable_cache_falls_back_to_memory_with_a_warning(folder, monkeypatch, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "parsed").write_text("a file where the cache folder should be", encoding="utf-8")
    calls = _count_parses(monkeypatch)
    with pytest.warns(UserWarning, match="cannot write the parse cache") as caught:
        ds = load.load_dataset("ml-1m", data_dir=folder)
    (line,) = [str(w.message) for w in caught if "parse cache" in str(w.message)]
    assert "\n" not in line and str(tmp_path / "home" / "parsed") in line
    _same(ds, registry.parse_folder("ml-1m", folder, use_cache=False))
    assert ds.user.flags.writeable                          # the parsed arrays, in memory
    with pytest.warns(UserWarning, match="cannot write the parse cache"):
        load.load_dataset("ml-1m", data_dir=folder)
    assert len(calls) == 3                                  # the two loads and the reference parse


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="needs POSIX permissions that bind (not root)")
def test_read_only_cache_folder_falls_back(folder, tmp_path):
    parsed = tmp_path / "home" / "parsed"
    parsed.mkdir(parents=True)
    parsed.chmod(0o555)
    try:
        with pytest.warns(UserWarning, match="cannot write the parse cache"):
            ds = load.load_dataset("ml-1m", data_dir=folder)
    finally:
        parsed.chmod(0o755)
    assert len(ds.user) == 80


def test_home_honours_xdg(monkeypatch, tmp_path):
    monkeypatch.delenv("TINYBT_HOME", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache.tinybt_home() == tmp_path / "tinybt"
    monkeypatch.setenv("TINYBT_HOME", str(tmp_path / "x"))
    assert cache.tinybt_home() == tmp_path / "x"
