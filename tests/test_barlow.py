import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tinybt.errors import TinyBTError
from tinybt.check.gradcheck import numeric_grad, rel_error

from check_helpers import bt_loss_on

fast_bt, reference_bt = bt_loss_on("fast"), bt_loss_on("reference")
IMPLS = [fast_bt, reference_bt]
# Both sides of the kernel's switch: N < P uses the N×N Gram matrices, N >= P forms C.
SHAPES = [(6, 9), (9, 4), (5, 5)]


def views(seed, n, p, dtype=np.float64, noise=0.7):
    rng = np.random.default_rng(seed)
    z1 = rng.standard_normal((n, p)) * rng.uniform(0.5, 3, p) + rng.standard_normal(p)
    z2 = z1 @ rng.standard_normal((p, p)) / np.sqrt(p) + noise * rng.standard_normal((n, p))
    return z1.astype(dtype), z2.astype(dtype)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("n,p", SHAPES)
def test_gradient_matches_finite_differences(impl, n, p):
    z1, z2 = views(1, n, p)
    res = impl(z1, z2, 0.2)
    for z, dz in ((z1, res.dz1), (z2, res.dz2)):
        num = numeric_grad(lambda: float(reference_bt(z1, z2, 0.2).loss), z)
        assert rel_error(dz, num) < 1e-7


def test_matches_definition_and_parts():
    z1, z2 = views(2, 7, 4)
    res = fast_bt(z1, z2, 0.25)
    zh = [(z - z.mean(0)) / np.sqrt(z.var(0) + 1e-5) for z in (z1, z2)]
    c = np.einsum("ni,nj->ij", *zh) / 7
    on = sum((1 - c[i, i]) ** 2 for i in range(4))
    off = sum(c[i, j] ** 2 for i in range(4) for j in range(4) if i != j)
    assert res.on_diag == pytest.approx(on) and res.off_diag == pytest.approx(off)
    assert res.loss == pytest.approx(on + 0.25 * off)
    assert res.on_diag_per_p == pytest.approx(on / 4) and res.off_diag_per_p == pytest.approx(off / 4)


def test_matches_torch_batchnorm_autograd():
    torch = pytest.importorskip("torch")
    z1, z2 = views(3, 8, 5)
    a, b = (torch.tensor(z, requires_grad=True) for z in (z1, z2))
    bn = torch.nn.BatchNorm1d(5, affine=False, eps=1e-5, dtype=torch.float64)
    c = bn(a).T @ bn(b) / 8
    off = c.pow(2).sum() - torch.diagonal(c).pow(2).sum()
    loss = (1 - torch.diagonal(c)).pow(2).sum() + 0.3 * off
    loss.backward()
    res = fast_bt(z1, z2, 0.3)
    assert res.loss == pytest.approx(loss.item(), rel=1e-12)
    assert rel_error(res.dz1, a.grad.numpy()) < 1e-10 and rel_error(res.dz2, b.grad.numpy()) < 1e-10


# ----------------------------------------------------------------- properties (hypothesis)

shape = st.sampled_from(SHAPES)
seed = st.integers(0, 10_000)
SETTINGS = dict(max_examples=25, deadline=None)


@settings(**SETTINGS)
@given(shape, seed, st.booleans())
def test_invariant_to_positive_affine_per_feature(np_, s, which):
    """Standardisation removes a per-feature scale a > 0 and shift b; gradients scale by 1/a.
    (eps breaks exact invariance, so use eps ≈ 0 relative to the variances.)"""
    n, p = np_
    z1, z2 = views(s, n, p)
    rng = np.random.default_rng(s + 1)
    a, b = rng.uniform(0.5, 4, p), rng.uniform(-3, 3, p)
    base = fast_bt(z1, z2, 0.1, eps=1e-12)
    if which:
        moved = fast_bt(a * z1 + b, z2, 0.1, eps=1e-12)
        np.testing.assert_allclose(moved.dz1 * a, base.dz1, rtol=1e-6, atol=1e-9)
    else:
        moved = fast_bt(z1, a * z2 + b, 0.1, eps=1e-12)
        np.testing.assert_allclose(moved.dz2 * a, base.dz2, rtol=1e-6, atol=1e-9)
    assert moved.loss == pytest.approx(base.loss, rel=1e-9)


@settings(**SETTINGS)
@given(shape, seed)
def test_invariant_to_permuting_rows_of_both_views(np_, s):
    n, p = np_
    z1, z2 = views(s, n, p)
    perm = np.random.default_rng(s).permutation(n)
    base = fast_bt(z1, z2, 0.1)
    moved = fast_bt(z1[perm], z2[perm], 0.1)
    assert moved.loss == pytest.approx(base.loss, rel=1e-12)
    np.testing.assert_allclose(moved.dz1, base.dz1[perm], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(moved.dz2, base.dz2[perm], rtol=1e-9, atol=1e-12)


@settings(**SETTINGS)
@given(shape, seed)
def test_swapping_views_swaps_gradients(np_, s):
    """C becomes Cᵀ: same diagonal, same off-diagonal sum of squares."""
    z1, z2 = views(s, *np_)
    a = fast_bt(z1, z2, 0.1)
    b = fast_bt(z2, z1, 0.1)
    assert b.loss == pytest.approx(a.loss, rel=1e-12)
    np.testing.assert_allclose(b.dz1, a.dz2, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(b.dz2, a.dz1, rtol=1e-9, atol=1e-12)


@settings(**SETTINGS)
@given(st.integers(2, 8), seed, st.floats(0.0, 1.0))
def test_identical_decorrelated_views_give_zero_loss_and_gradient(p, s, lambd):
    """Columns orthogonal, zero-mean, unit biased variance → C = I (up to eps) → L = 0, ∇ = 0."""
    n = 2 * p + 2
    m = np.column_stack([np.ones(n), np.random.default_rng(s).standard_normal((n, p))])
    z = np.linalg.qr(m)[0][:, 1:] * np.sqrt(n)         # orthonormal columns ⟂ ones, scaled to var 1
    for impl in IMPLS:
        res = impl(z, z.copy(), lambd, eps=1e-12)
        assert res.loss == pytest.approx(0, abs=1e-18 + 1e-10)
        assert np.abs(res.dz1).max() < 1e-8 and np.abs(res.dz2).max() < 1e-8


@settings(**SETTINGS)
@given(shape, seed)
def test_lambda_zero_leaves_only_the_diagonal_term(np_, s):
    z1, z2 = views(s, *np_)
    res = fast_bt(z1, z2, 0.0)
    assert res.off_diag > 0
    assert res.loss == res.on_diag
    # the gradient no longer depends on off-diagonal correlations: compare with per-feature losses
    n, p = np_
    dz1 = np.column_stack([fast_bt(z1[:, [j]], z2[:, [j]], 0.0).dz1[:, 0] for j in range(p)])
    np.testing.assert_allclose(res.dz1, dz1, rtol=1e-9, atol=1e-12)


@settings(**SETTINGS)
@given(shape, seed)
def test_gradient_columns_orthogonal_to_ones_and_standardised_column(np_, s):
    """∂L/∂z = (dẑ − mean dẑ − ẑ·mean(dẑẑ))/σ has zero column sums (any eps), and zero dot
    product with ẑ when mean(ẑ²) = var/(var + eps) = 1, i.e. for eps → 0."""
    n, p = np_
    z1, z2 = views(s, n, p)
    for eps in (1e-5, 1e-14):
        res = fast_bt(z1, z2, 0.3, eps=eps)
        for z, dz in ((z1, res.dz1), (z2, res.dz2)):
            zh = (z - z.mean(0)) / z.std(0)
            scale = np.linalg.norm(dz, axis=0) * np.sqrt(n)   # Cauchy–Schwarz bound, |ẑ col| = √N
            assert np.all(np.abs(dz.sum(0)) <= 1e-11 * scale + 1e-14)
            if eps < 1e-10:
                assert np.all(np.abs((dz * zh).sum(0)) <= 1e-9 * scale + 1e-14)


# ----------------------------------------------------------------- edge inputs

@pytest.mark.parametrize("impl", IMPLS)
def test_errors(impl):
    z1, z2 = views(4, 6, 3)
    with pytest.raises(ValueError, match="N >= 2"):
        impl(z1[:1], z2[:1], 0.1)
    with pytest.raises(ValueError, match=r"\(N, P\)"):
        impl(z1, z2[:, :2], 0.1)
    with pytest.raises(ValueError, match="dtype"):
        impl(z1, z2.astype(np.float32), 0.1)
    for bad in (np.nan, np.inf, -np.inf):
        z = z2.copy()
        z[3, 1] = bad
        with pytest.raises(TinyBTError, match="z2 has NaN or Inf.*column 1"):
            impl(z1, z, 0.1)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_constant_feature_is_finite(impl, dtype):
    z1, z2 = views(5, 6, 4, dtype)
    z1[:, 2] = 3.0
    res = impl(z1, z2, 0.1)
    assert np.isfinite(res.loss) and np.all(np.isfinite(res.dz1)) and np.all(np.isfinite(res.dz2))
    assert res.on_diag >= 1 - 1e-6                  # the constant feature has C_22 = 0


def test_non_contiguous_input():
    z1, z2 = views(6, 8, 10)
    a = fast_bt(z1[:, ::2], z2[:, ::2], 0.1)
    b = fast_bt(np.ascontiguousarray(z1[:, ::2]), np.ascontiguousarray(z2[:, ::2]), 0.1)
    assert a.loss == b.loss
