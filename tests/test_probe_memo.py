"""tinybt/probe/memo.py: a probe read back from the memo is the probe computed, and any
change to what it depends on is a miss; a bad entry is refitted, an unwritable home is no error."""

import numpy as np
import pytest
import scipy.sparse

from tinybt.probe import linear_probe, memo

KW = dict(pool="test", folds=3, label_fractions=(0.2, 1.0), seeds=2, seed=0)


@pytest.fixture
def on(monkeypatch, tmp_path):
    monkeypatch.setenv("TINYBT_PROBE_CACHE", "1")
    monkeypatch.setenv("TINYBT_HOME", str(tmp_path / "home"))
    return tmp_path / "home" / "probes"


def problem(seed=0, U=90):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, size=U)
    X = rng.standard_normal((U, 5)) + y[:, None]
    split = rng.choice(3, size=U, p=[0.6, 0.2, 0.2])
    return X, y, split


def assert_same(a, b):
    assert a.keys() == b.keys()
    for k in a:
        if k == "fractions":
            assert len(a[k]) == len(b[k])
            for fa, fb in zip(a[k], b[k]):
                assert fa.keys() == fb.keys()
                for kk in fa:
                    np.testing.assert_array_equal(fa[kk], fb[kk])
        else:
            np.testing.assert_array_equal(a[k], b[k])


def test_a_hit_is_the_probe_computed_and_fits_nothing(on, monkeypatch):
    X, y, split = problem()
    first = memo.probe(X, y, split, **KW)
    assert_same(first, linear_probe.probe(X, y, split, **KW))
    assert len(list(on.glob("*.npz"))) == 1
    monkeypatch.setattr(linear_probe, "probe", lambda *a, **k: pytest.fail("a hit must not fit"))
    ticks = []
    assert_same(memo.probe(X, y, split, tick=ticks.append, **KW), first)
    assert ticks == [linear_probe.probe_units(y, split, **KW)]


@pytest.mark.parametrize("change", ["feature", "sparse", "label", "split", "setting"])
def test_anything_the_probe_depends_on_changes_the_key(change):
    X, y, split = problem()
    base = memo.key(X, y, split, KW)
    X2, y2, s2, kw = X.copy(), y.copy(), split.copy(), dict(KW)
    if change == "feature":
        X2[7, 2] = np.nextafter(X2[7, 2], np.inf)
    elif change == "sparse":
        X2 = scipy.sparse.csr_matrix(X)
    elif change == "label":
        y2[3] = (y2[3] + 1) % 3
    elif change == "split":
        s2[0] = (s2[0] + 1) % 3
    else:
        kw["seeds"] = 3
    assert memo.key(X2, y2, s2, kw) != base
    assert memo.key(X.copy(), y.copy(), split.copy(), dict(KW)) == base


def test_an_edited_solver_misses(monkeypatch, tmp_path):
    X, y, split = problem()
    base = memo.key(X, y, split, KW)
    src = tmp_path / "logreg.py"
    src.write_bytes(open(memo.logreg.__file__, "rb").read() + b"\n# edited\n")
    monkeypatch.setattr(memo.logreg, "__file__", str(src))
    assert memo.key(X, y, split, KW) != base


def test_a_corrupt_entry_is_refitted_with_a_warning(on):
    X, y, split = problem()
    first = memo.probe(X, y, split, **KW)
    (entry,) = on.glob("*.npz")
    entry.write_bytes(entry.read_bytes()[:100])
    with pytest.warns(UserWarning, match="unreadable probe memo"):
        again = memo.probe(X, y, split, **KW)
    assert_same(again, first)
    assert_same(memo.load(entry), first)          # rewritten whole


def test_an_unwritable_home_costs_speed_not_the_result(on, monkeypatch):
    X, y, split = problem()
    on.parent.parent.mkdir(parents=True, exist_ok=True)
    on.parent.write_text("a file where the folder should be", encoding="utf-8")
    with pytest.warns(UserWarning, match="cannot write the probe memo"):
        out = memo.probe(X, y, split, **KW)
    assert_same(out, linear_probe.probe(X, y, split, **KW))


def test_off_means_no_files(on, monkeypatch):
    monkeypatch.setenv("TINYBT_PROBE_CACHE", "0")
    X, y, split = problem()
    memo.probe(X, y, split, **KW)
    assert not on.exists()
