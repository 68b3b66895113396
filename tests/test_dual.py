import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tinybt.check.gradcheck import numeric_grad, rel_error
from tinybt.losses.dual import dual_encoder_backward, dual_encoder_forward, duplicate_mask


def dual_encoder_loss(u, e, ids, tau, log_q=None):
    """(loss, du, de): the forward, then the backward with dloss = 1."""
    loss, cache = dual_encoder_forward(u, e, ids, tau, log_q)
    (du, de), _ = dual_encoder_backward(1.0, cache)
    return loss, du, de


def batch(seed, b=6, d=4, ids=None):
    rng = np.random.default_rng(seed)
    ids = np.arange(1, b + 1) if ids is None else np.asarray(ids)
    b = len(ids)
    return rng.standard_normal((b, d)), rng.standard_normal((b, d)), ids


@pytest.mark.parametrize("ids", [None, [3, 1, 3, 2, 5, 1]])
def test_gradients_match_finite_differences(ids):
    u, e, ids = batch(0, ids=ids)
    _, du, de = dual_encoder_loss(u, e, ids, 0.2)
    f = lambda: float(dual_encoder_loss(u, e, ids, 0.2)[0])  # noqa: E731
    assert rel_error(du, numeric_grad(f, u)) < 1e-7
    assert rel_error(de, numeric_grad(f, e)) < 1e-7


@pytest.mark.parametrize("ids", [None, [3, 1, 3, 2, 5, 1]])
def test_gradients_with_log_q_match_finite_differences(ids):
    u, e, ids = batch(7, ids=ids)
    log_q = np.log(np.random.default_rng(8).uniform(0.01, 1, len(ids)))
    _, du, de = dual_encoder_loss(u, e, ids, 0.2, log_q)
    f = lambda: float(dual_encoder_loss(u, e, ids, 0.2, log_q)[0])  # noqa: E731
    assert rel_error(du, numeric_grad(f, u)) < 1e-7
    assert rel_error(de, numeric_grad(f, e)) < 1e-7


def test_log_q_matches_definition():
    """loss = mean_i −log softmax(cos/τ − log q)_i: a popular column is a weaker negative, and the
    positive's own log q raises its term by log q_i relative to the others."""
    u, e, ids = batch(9)
    q = np.array([0.4, 0.05, 0.2, 0.1, 0.15, 0.1])
    cos = np.array([[a @ b / np.linalg.norm(a) / np.linalg.norm(b) for b in e] for a in u])
    s = cos / 0.5 - np.log(q)[None, :]
    want = np.mean([np.log(np.exp(s[i]).sum()) - s[i, i] for i in range(len(u))])
    assert dual_encoder_loss(u, e, ids, 0.5, np.log(q))[0] == pytest.approx(want, rel=1e-12)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.floats(-20.0, 20.0))
def test_uniform_log_q_changes_nothing(seed, c):
    """A softmax ignores a shift shared by every column: log q = c everywhere is no correction."""
    u, e, ids = batch(seed, ids=np.random.default_rng(seed).integers(0, 3, 6))
    a, du, de = dual_encoder_loss(u, e, ids, 0.3)
    b, du2, de2 = dual_encoder_loss(u, e, ids, 0.3, np.full(6, c))
    assert b == pytest.approx(a, rel=1e-9, abs=1e-12)
    np.testing.assert_allclose(du2, du, rtol=1e-7, atol=1e-12)
    np.testing.assert_allclose(de2, de, rtol=1e-7, atol=1e-12)


def test_matches_definition_without_duplicates():
    u, e, ids = batch(1)
    cos = np.array([[a @ b / np.linalg.norm(a) / np.linalg.norm(b) for b in e] for a in u])
    s = cos / 0.5
    want = np.mean([np.log(np.exp(s[i]).sum()) - s[i, i] for i in range(len(u))])
    assert dual_encoder_loss(u, e, ids, 0.5)[0] == pytest.approx(want, rel=1e-12)


def test_duplicate_next_item_is_not_a_negative():
    """Rows 0 and 2 share item 7: row 0's loss ignores column 2 and vice versa, so the loss equals
    that of the batch with those columns removed from those rows, and nothing flows through them."""
    u, e, ids = batch(2, ids=[7, 1, 7, 2])
    loss, du, de = dual_encoder_loss(u, e, ids, 0.3)
    un = u / np.linalg.norm(u, axis=1, keepdims=True)
    en = e / np.linalg.norm(e, axis=1, keepdims=True)
    s = un @ en.T / 0.3
    keep = {0: [0, 1, 3], 1: [0, 1, 2, 3], 2: [1, 2, 3], 3: [0, 1, 2, 3]}   # columns in each softmax
    terms = [np.log(np.exp(s[i, keep[i]]).sum()) - s[i, i] for i in range(4)]
    assert loss == pytest.approx(np.mean(terms), rel=1e-12)
    # moving e_2 only changes rows other than 0 (row 2's positive, rows 1 and 3's negative)
    e2 = e.copy()
    e2[2] += 1.0
    moved = dual_encoder_loss(u, e2, ids, 0.3)[0]
    terms_moved = list(terms)
    en2 = e2 / np.linalg.norm(e2, axis=1, keepdims=True)
    s2 = un @ en2.T / 0.3
    for i in (1, 2, 3):
        terms_moved[i] = np.log(np.exp(s2[i, keep[i]]).sum()) - s2[i, i]
    assert moved == pytest.approx(np.mean(terms_moved), rel=1e-12)


def test_duplicate_mask():
    m = duplicate_mask(np.array([5, 2, 5, 5]))
    want = np.zeros((4, 4), bool)
    for i, j in [(0, 2), (0, 3), (2, 0), (2, 3), (3, 0), (3, 2)]:
        want[i, j] = True
    np.testing.assert_array_equal(m, want)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.floats(0.1, 10.0), st.floats(0.05, 2.0))
def test_invariant_to_row_scale(seed, scale, tau):
    """Cosine similarity ignores vector length; the gradient is orthogonal to its own row and
    shrinks as 1/scale."""
    u, e, ids = batch(seed, ids=np.random.default_rng(seed).integers(0, 3, 6))
    a, du, de = dual_encoder_loss(u, e, ids, tau)
    b, du2, _ = dual_encoder_loss(u * scale, e, ids, tau)
    assert b == pytest.approx(a, rel=1e-10)
    np.testing.assert_allclose(du2 * scale, du, rtol=1e-7, atol=1e-12)
    np.testing.assert_allclose(np.sum(du * u, axis=1), 0, atol=1e-10)
    np.testing.assert_allclose(np.sum(de * e, axis=1), 0, atol=1e-10)


def test_loss_bounds():
    """Perfectly aligned pairs with orthogonal negatives → loss = log(1 + (B−1)·e^{−1/τ})."""
    u = np.eye(4)
    loss, _, _ = dual_encoder_loss(u, u.copy(), np.arange(4), 0.1)
    assert loss == pytest.approx(np.log(1 + 3 * np.exp(-10.0)))
    # all users share one item: every negative is masked, the loss is exactly 0
    loss, du, de = dual_encoder_loss(*batch(3)[:2], np.zeros(6, int), 0.1)
    assert loss == 0 and np.all(du == 0) and np.all(de == 0)


def test_zero_vector_stays_finite_and_dtype_kept():
    u, e, ids = batch(4)
    u[1] = 0
    loss, du, de = dual_encoder_loss(u.astype(np.float32), e.astype(np.float32), ids, 0.2)
    assert loss.dtype == du.dtype == de.dtype == np.float32
    assert np.isfinite(loss) and np.all(np.isfinite(du)) and np.all(np.isfinite(de))


def test_errors():
    u, e, ids = batch(5)
    with pytest.raises(ValueError, match="item_ids"):
        dual_encoder_loss(u, e[:3], ids, 0.1)
    with pytest.raises(ValueError, match="tau"):
        dual_encoder_loss(u, e, ids, 0.0)
    with pytest.raises(ValueError, match="log_q"):
        dual_encoder_loss(u, e, ids, 0.1, np.zeros(3))


def test_matches_torch():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    u, e, ids = batch(6, ids=[3, 1, 3, 2, 5, 1])
    tu, te = torch.tensor(u, requires_grad=True), torch.tensor(e, requires_grad=True)
    s = F.normalize(tu, dim=1, eps=1e-8) @ F.normalize(te, dim=1, eps=1e-8).T / 0.2
    t = torch.tensor(ids)
    s = s.masked_fill((t[:, None] == t[None, :]) & ~torch.eye(6, dtype=torch.bool), -float("inf"))
    ref = F.cross_entropy(s, torch.arange(6))
    ref.backward()
    loss, du, de = dual_encoder_loss(u, e, ids, 0.2)
    assert loss == pytest.approx(ref.item(), rel=1e-12)
    assert rel_error(du, tu.grad.numpy()) < 1e-12 and rel_error(de, te.grad.numpy()) < 1e-12
