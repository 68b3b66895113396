"""The committed golden files (tests/golden/) are what this tinybt computes.

If a change of behaviour is intended, refresh them (docs/golden.md):
    tinybt golden export tests/golden --force
and commit the diff together with the change that caused it.
"""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from tinybt.cli import cli
from tinybt.errors import TinyBTError
from tinybt.check.golden import CONVENTIONS, FORMAT, SELF_TOL, _write_npz, check, compare, export, load

GOLDEN = Path(__file__).resolve().parent / "golden"


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    d = tmp_path_factory.mktemp("golden") / "g"
    export(d)
    return d


def test_committed_goldens_are_what_tinybt_computes(fresh):
    want_manifest, want = load(GOLDEN)
    got_manifest, got = load(fresh)
    for m in (want_manifest, got_manifest):
        m.pop("tinybt_version")
    assert got_manifest == want_manifest, "manifest changed: refresh tests/golden (see docs/golden.md)"
    bad = []
    for name, arrays in want.items():
        assert sorted(arrays) == sorted(got[name]), name
        for key, a in arrays.items():
            assert got[name][key].dtype == a.dtype, (name, key)
            if not compare(a, got[name][key], **SELF_TOL)[3]:
                bad.append(f"{name}:{key}")
    assert not bad, f"changed arrays (refresh tests/golden if intended): {bad}"


def test_export_is_byte_for_byte_deterministic(fresh, tmp_path):
    again = tmp_path / "again"
    export(again)
    files = sorted(p.name for p in fresh.iterdir())
    assert files == sorted(p.name for p in again.iterdir())
    assert all((fresh / f).read_bytes() == (again / f).read_bytes() for f in files)


def test_every_case_file_holds_what_the_manifest_lists(fresh):
    manifest, data = load(fresh)
    assert manifest["format"] == FORMAT and manifest["conventions"] == CONVENTIONS
    assert {p.name for p in fresh.iterdir()} == {"manifest.json"} | {m["file"] for m in manifest["cases"].values()}
    for name, meta in manifest["cases"].items():
        arrays = data[name]
        assert {k: {"shape": list(a.shape), "dtype": str(a.dtype)} for k, a in arrays.items()} == meta["arrays"]
        assert all(k.split("/")[0] in ("input", "param", "upstream", "output", "grad") for k in arrays)
        assert all(a.dtype in (np.float64, np.int64, np.bool_) for a in arrays.values())
        for kind in ("output", "grad"):
            assert set(meta["tolerances"][kind]) == {"atol", "rtol"}
        # a grad for exactly the float tensors that have one, each shaped like its tensor
        for key, g in arrays.items():
            if key.startswith("grad/"):
                src = arrays.get("input/" + key[5:], arrays.get("param/" + key[5:]))
                assert src is not None and src.shape == g.shape and src.dtype == np.float64, (name, key)
        ups = {k[9:] for k in arrays if k.startswith("upstream/")}
        assert ups <= {k[7:] for k in arrays if k.startswith("output/")}, name


def test_linear_golden_means_the_documented_gradient(fresh):
    """Read the file as a port author would: S = Σ out ⊙ upstream, grads of S."""
    _, data = load(fresh)
    a = data["linear"]
    x, W, b, up = a["input/x"], a["param/weight"], a["param/bias"], a["upstream/out"]
    np.testing.assert_allclose(a["output/out"], x @ W.T + b, rtol=1e-12)
    np.testing.assert_allclose(a["grad/x"], up @ W, rtol=1e-12)
    np.testing.assert_allclose(a["grad/weight"], up.reshape(-1, W.shape[0]).T @ x.reshape(-1, W.shape[1]), rtol=1e-12)
    np.testing.assert_allclose(a["grad/bias"], up.reshape(-1, W.shape[0]).sum(0), rtol=1e-12)


def test_check_passes_and_catches_a_changed_number(fresh, tmp_path):
    lines = []
    assert check(fresh, echo=lines.append)
    changed = tmp_path / "changed"
    shutil.copytree(fresh, changed)
    _, data = load(changed)
    arrays = dict(data["layernorm"])
    arrays["grad/weight"] = arrays["grad/weight"] * (1 + 1e-6)
    _write_npz(changed / "layernorm.npz", arrays)
    lines = []
    assert not check(changed, echo=lines.append)
    fails = [ln for ln in lines if ln.endswith("FAIL")]
    assert len(fails) == 1 and "layernorm" in fails[0] and "grad/weight" in fails[0]
    assert "FAILED: layernorm" in lines[-1]


def test_export_refuses_a_non_empty_dir_unless_forced(tmp_path):
    d = tmp_path / "g"
    d.mkdir()
    (d / "keep.txt").write_text("mine")
    r = CliRunner().invoke(cli, ["golden", "export", str(d)])
    assert r.exit_code == 2 and "--force" in r.stderr
    assert (d / "keep.txt").read_text() == "mine"
    r = CliRunner().invoke(cli, ["golden", "export", str(d), "--force"])
    assert r.exit_code == 0, r.output
    assert (d / "manifest.json").exists() and not (d / "keep.txt").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["g"]          # no temp folders left behind


@pytest.mark.parametrize("text, expect", [(None, "not found"), ("{oops", "line 1"),
                                          ('{"format": "other"}', "format"),
                                          ('{"format": "tinybt-golden", "format_version": 1, "cases": {"linear": {}}}',
                                           "case 'linear' needs \"file\"")])
def test_bad_golden_folder_is_one_clear_error(tmp_path, text, expect):
    if text is not None:
        (tmp_path / "manifest.json").write_text(text)
    with pytest.raises(TinyBTError, match=expect) as e:
        load(tmp_path)
    assert "manifest.json" in str(e.value)


def test_manifest_spells_out_the_conventions():
    text = json.dumps(CONVENTIONS)
    for fact in ("id 0 is padding", "V+1", "r|z|n", "1/sqrt(head_dim)", "-inf", "Pre-LN", "erf",
                 "eps 1e-5", "UNBIASED", "momentum 0.1", "biased variance", "eps outside the sqrt"):
        assert fact in text, fact


def test_docs_sample_output_is_what_the_port_check_prints(monkeypatch):
    """docs/golden.md's report of a TensorFlow-style GRU is regenerated here: its table lines are
    lines the check prints, and its closing lines (worst tensors, summary) are the check's."""
    pytest.importorskip("torch")
    import functools
    import re
    import sys

    monkeypatch.syspath_prepend(str(GOLDEN.parents[1] / "examples"))
    from test_torch_port import HandGRU
    from torch_port import sequence
    from torch_port.check import check as port_check

    monkeypatch.setattr(sequence, "GRU", functools.partial(HandGRU, reset_after=False))
    lines = []
    assert not port_check(GOLDEN, echo=lines.append)
    text = (GOLDEN.parents[1] / "docs" / "golden.md").read_text(encoding="utf-8")
    doc = next(b for b in re.findall(r"```text\n(.+?)\n```", text, re.S) if "tensors pass" in b).splitlines()
    cut = doc.index("...")
    assert doc[:cut] == [lines[0]] + [ln for ln in lines if ln.startswith("gru ")], "refresh docs/golden.md"
    assert doc[cut + 1:] == lines[-len(doc[cut + 1:]):], "refresh docs/golden.md"
    assert not lines[-len(doc[cut + 1:]) - 1].startswith("worst of"), "docs/golden.md misses a worst line"
    del sys.modules["test_torch_port"]


def test_golden_list_and_check_only(fresh, tmp_path):
    r = CliRunner().invoke(cli, ["golden", "list"])
    names = [ln.split()[0] for ln in r.stdout.splitlines()]
    assert r.exit_code == 0 and names == sorted(load(fresh)[0]["cases"])
    assert all(len(ln.split(None, 1)) == 2 and "(no description)" not in ln for ln in r.stdout.splitlines())
    changed = tmp_path / "changed"
    shutil.copytree(fresh, changed)
    manifest, data = load(changed)
    arrays = dict(data["linear"])
    arrays["output/out"] = arrays["output/out"][:1]                      # a wrong shape
    _write_npz(changed / "linear.npz", arrays)
    del manifest["cases"]["relu"]                                        # a missing case
    (changed / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    r = CliRunner().invoke(cli, ["golden", "check", str(changed), "--only", "linear", "--only", "relu"])
    out = r.stdout.splitlines()
    assert r.exit_code == 1
    assert any(ln.startswith("linear ") and "expected shape (1, 3, 5), got (2, 3, 5)" in ln and
               ln.endswith("FAIL") for ln in out), out
    assert any(ln.startswith("relu ") and ln.endswith("missing") for ln in out), out
    assert "worst of linear: output/out, expected shape (1, 3, 5), got (2, 3, 5)" in out
    assert out[-1].endswith("missing: relu; FAILED: linear, relu"), out[-1]
    r = CliRunner().invoke(cli, ["golden", "check", str(changed), "--only", "layernorm"])
    assert r.exit_code == 0
