import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tinybt.check.gradcheck import numeric_grad, rel_error
from tinybt.losses.xent import softmax_cross_entropy


def _data(seed, n=6, c=4):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, c)), rng.integers(0, c, n), rng.uniform(0.2, 3.0, c)


@pytest.mark.parametrize("weighted", [False, True])
def test_gradient_matches_finite_differences(weighted):
    x, y, w = _data(0)
    cw = w if weighted else None
    _, d = softmax_cross_entropy(x, y, cw)
    num = numeric_grad(lambda: float(softmax_cross_entropy(x, y, cw)[0]), x)
    assert rel_error(d, num) < 1e-7


def test_matches_definition():
    x, y, w = _data(1)
    p = np.exp(x) / np.exp(x).sum(1, keepdims=True)
    nll = -np.log(p[np.arange(len(y)), y])
    assert softmax_cross_entropy(x, y)[0] == pytest.approx(nll.mean(), rel=1e-12)
    assert softmax_cross_entropy(x, y, w)[0] == pytest.approx((w[y] * nll).sum() / w[y].sum(), rel=1e-12)


def test_uniform_logits_give_log_c():
    loss, d = softmax_cross_entropy(np.zeros((3, 5)), np.array([0, 4, 2]))
    assert loss == pytest.approx(np.log(5))
    np.testing.assert_allclose(d.sum(axis=1), 0, atol=1e-15)   # Σ_c (p − onehot) = 0


def test_equal_class_weights_equal_the_plain_mean():
    x, y, _ = _data(2)
    a = softmax_cross_entropy(x, y)
    b = softmax_cross_entropy(x, y, np.full(4, 7.0))
    assert a[0] == pytest.approx(b[0], rel=1e-13)
    np.testing.assert_allclose(a[1], b[1], rtol=1e-13)


@settings(max_examples=30, deadline=None)
@given(shift=st.floats(-1e4, 1e4), seed=st.integers(0, 1000))
def test_shift_invariant_and_stable(shift, seed):
    x, y, w = _data(seed)
    a_loss, a_d = softmax_cross_entropy(x, y, w)
    b_loss, b_d = softmax_cross_entropy(x + shift, y, w)   # huge logits must not overflow
    assert np.isfinite(b_loss)
    assert b_loss == pytest.approx(a_loss, abs=1e-8 * max(1.0, abs(shift)))
    np.testing.assert_allclose(b_d, a_d, atol=1e-9 * max(1.0, abs(shift)))


def test_masked_minus_inf_column_gets_no_gradient():
    x, y, _ = _data(3)
    y[:] = 0
    x[:, 2] = -np.inf
    loss, d = softmax_cross_entropy(x, y)
    ref, _ = softmax_cross_entropy(np.delete(x, 2, axis=1), y)
    assert loss == pytest.approx(ref, rel=1e-13)
    assert np.all(d[:, 2] == 0)


def test_dtype_in_dtype_out():
    x, y, w = _data(4)
    loss, d = softmax_cross_entropy(x.astype(np.float32), y, w)
    assert loss.dtype == np.float32 and d.dtype == np.float32


def test_bad_labels_raise():
    x, y, _ = _data(5)
    with pytest.raises(ValueError, match="labels must lie"):
        softmax_cross_entropy(x, y + 4)
    with pytest.raises(ValueError, match="shape"):
        softmax_cross_entropy(x, y[:3])
    with pytest.raises(ValueError, match="class_weights"):
        softmax_cross_entropy(x, y, np.ones(3))


def test_matches_torch():
    torch = pytest.importorskip("torch")
    x, y, w = _data(6, n=9, c=5)
    for cw in (None, w):
        tx = torch.tensor(x, requires_grad=True)
        tl = torch.nn.functional.cross_entropy(tx, torch.tensor(y), weight=None if cw is None else torch.tensor(cw))
        tl.backward()
        loss, d = softmax_cross_entropy(x, y, cw)
        assert loss == pytest.approx(tl.item(), rel=1e-12)
        np.testing.assert_allclose(d, tx.grad.numpy(), rtol=1e-10, atol=1e-14)
