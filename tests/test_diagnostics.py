"""Training diagnostics: analytic facts, collapse and redundancy detection, and the run's report files."""

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinybt.backend import use_backend
from tinybt.losses.barlow import barlow_twins_forward
from tinybt.train import diagnostics as dg
from tinybt.run.run_dir import read_metrics
from tinybt.train.trainer import setup, train
from train_helpers import tiny_config

DIAG_KEYS = {"eff_rank", "std_min", "std_median", "std_max", "align", "uniform"}


def test_constant_vectors_are_collapsed():
    u = np.tile(np.random.default_rng(0).standard_normal(8), (50, 1))
    assert dg.effective_rank(u) == 0.0
    assert np.all(dg.per_dim_std(u) < 1e-12)
    assert dg.uniformity(u) == pytest.approx(0.0, abs=1e-12)     # every pair at distance 0
    bt_on, bt_off, _ = dg.barlow_terms(u, u)                     # no feature varies: C = 0
    assert bt_on == pytest.approx(1.0) and bt_off == pytest.approx(0.0)


def test_identical_dimensions_are_fully_redundant():
    x = np.random.default_rng(1).standard_normal((64, 1))
    u = np.tile(x, (1, 10))                                     # every dimension the same feature
    assert dg.effective_rank(u) == pytest.approx(1.0, abs=1e-9)
    bt_on, bt_off, _ = dg.barlow_terms(u, u)
    c = x.var() / (x.var() + 1e-5)                              # every C_ij, short of 1 by the loss's eps
    assert bt_off == pytest.approx(c ** 2, rel=1e-12) and c ** 2 > 1 - 1e-4   # the maximum, 1, up to eps
    assert bt_on == pytest.approx((1 - c) ** 2, rel=1e-9)


def test_isotropic_gaussian_has_effective_rank_near_d():
    D = 16
    u = np.random.default_rng(2).standard_normal((5000, D))
    assert 0.97 * D < dg.effective_rank(u) <= D


@pytest.mark.parametrize("k", [1, 3, 7])
def test_k_equal_singular_values_give_effective_rank_k(k):
    q, _ = np.linalg.qr(np.random.default_rng(k).standard_normal((40, 40)))
    cols = q[:, :k] - q[:, :k].mean(axis=0)                     # centred, still orthogonal up to 1/n
    q2, _ = np.linalg.qr(cols)
    u = np.zeros((40, 9))
    u[:, :k] = q2 - q2.mean(axis=0)
    s = np.linalg.svd(u - u.mean(axis=0), compute_uv=False)
    expected = np.exp(-sum(p * np.log(p) for p in s / s.sum() if p > 0))
    assert dg.effective_rank(u) == pytest.approx(expected)
    assert dg.effective_rank(u) == pytest.approx(k, rel=0.05)


@given(st.integers(0, 2**31), st.floats(0.1, 10), st.integers(2, 6))
def test_effective_rank_is_rotation_scale_and_shift_invariant(seed, scale, d):
    rng = np.random.default_rng(seed)
    u = rng.standard_normal((30, d)) * rng.uniform(0.1, 3, d)
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    r = dg.effective_rank(u)
    assert 1 - 1e-9 <= r <= d + 1e-9
    assert dg.effective_rank(scale * u @ q + rng.standard_normal(d)) == pytest.approx(r, rel=1e-9)


@given(st.integers(0, 2**31))
def test_alignment_and_uniformity_bounds(seed):
    rng = np.random.default_rng(seed)
    u = rng.standard_normal((20, 5))
    assert dg.alignment(u, u) == pytest.approx(0.0, abs=1e-12)           # identical views
    assert dg.alignment(u, 3 * u) == pytest.approx(0.0, abs=1e-12)       # only directions count
    assert dg.alignment(u, -u) == pytest.approx(4.0)                     # antipodal: ||f − (−f)||² = 4
    assert -4.0 - 1e-12 <= dg.uniformity(u) <= 0.0


def test_uniformity_matches_the_pairwise_definition():
    u = np.random.default_rng(3).standard_normal((12, 4))
    f = u / np.linalg.norm(u, axis=1, keepdims=True)
    pairs = [np.exp(-2 * np.sum((f[i] - f[j]) ** 2)) for i in range(12) for j in range(i + 1, 12)]
    assert dg.uniformity(u) == pytest.approx(np.log(np.mean(pairs)))


def test_barlow_terms_match_the_reference_loss():
    rng = np.random.default_rng(4)
    z1 = rng.standard_normal((32, 10))
    z2 = z1 + 0.5 * rng.standard_normal((32, 10))
    with use_backend("reference"):
        ref, _ = barlow_twins_forward(z1, z2, 0.0)
    on, off, _ = dg.barlow_terms(z1, z2)
    assert on == pytest.approx(float(ref.on_diag) / 10) and off == pytest.approx(float(ref.off_diag) / 90)
    dims = np.array([1, 4, 7])
    C = dg.barlow_terms(z1, z2, dims)[2]
    full = dg.barlow_terms(z1, z2, np.arange(10))[2]
    assert np.allclose(C, full[np.ix_(dims, dims)])
    assert np.isclose(((1 - np.diag(full)) ** 2).sum() / 10, on)


def test_sample_rows_is_seeded_and_bounded():
    rows = np.arange(100, 1100)
    a, b = dg.sample_rows(rows, 0, 64), dg.sample_rows(rows, 0, 64)
    assert np.array_equal(a, b) and len(a) == 64 and np.all(np.diff(a) > 0) and np.isin(a, rows).all()
    assert np.array_equal(dg.sample_rows(rows[:10], 0, 64), rows[:10])


def test_measure_detects_a_collapsed_encoder(data_dir, tmp_path):
    """All parameters zero: every user gets the same (zero) vector."""
    run = setup(tiny_config(data_dir), out=tmp_path / "run")
    rows = dg.sample_rows(run.seqs.rows("val"), 0)
    healthy, _ = dg.measure(run, rows, 0)
    assert healthy["eff_rank"] > 1.5 and healthy["std_min"] > 0
    run.params = {k: np.zeros_like(v) for k, v in run.params.items()}
    row, final = dg.measure(run, rows, 0)
    assert row["eff_rank"] == 0.0 and row["std_max"] < 1e-6 and np.all(final["std"] < 1e-6)
    assert row["align"] < 1e-10 and row["uniform"] > -1e-6


def test_measure_leaves_training_state_alone(data_dir, tmp_path):
    run = setup(tiny_config(data_dir), out=tmp_path / "run")
    state, buffers = run.rng.bit_generator.state, {k: v.copy() for k, v in run.buffers.items()}
    dg.measure(run, dg.sample_rows(run.seqs.rows("val"), 0), 0)
    assert run.rng.bit_generator.state == state
    assert all(np.array_equal(buffers[k], run.buffers[k]) for k in buffers)


@pytest.mark.parametrize("objective", ["barlow", "dual"])
def test_train_logs_diagnostics_and_writes_the_report(objective, data_dir, tmp_path):
    lines = []
    path = train(tiny_config(data_dir, objective=objective, epochs=2), out=tmp_path / "run",
                 progress=True, echo=lines.append)
    rows = read_metrics(path)
    assert all(DIAG_KEYS <= set(r) for r in rows)
    assert all(({"bt_on", "bt_off"} <= set(r)) == (objective == "barlow") for r in rows)
    report = json.loads((path / "diagnostics.json").read_text())
    assert report["epoch"] == 2 and len(report["std"]) == 8
    assert report["eff_rank"] == rows[-1]["eff_rank"]
    assert (report["cross_correlation_sample"] is None) == (objective == "dual")
    assert any(line == f"diagnostics: {path / 'diagnostics.json'}" for line in lines)
    pytest.importorskip("matplotlib")
    assert (path / "diagnostics_curves.png").read_bytes()[:4] == b"\x89PNG"
    assert (path / "cross_correlation.png").exists() == (objective == "barlow")
