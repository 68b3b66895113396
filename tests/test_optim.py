import io
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tinybt.optim import Adam, AdamW, clip_grad_norm, warmup_cosine


def params_grads(seed, zero_some=False):
    rng = np.random.default_rng(seed)
    p = {"enc.weight": rng.standard_normal((3, 4)), "enc.bias": rng.standard_normal(4)}
    g = {k: rng.standard_normal(v.shape) for k, v in p.items()}
    if zero_some:
        g["enc.bias"][1] = 0.0
    return p, g


# ----------------------------------------------------------------- Adam / AdamW

@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000), st.floats(1e-4, 1.0), st.floats(0.0, 0.99), st.floats(0.9, 0.9999))
def test_first_step_moves_by_lr_times_sign(seed, lr, b1, b2):
    """At t = 1 the bias-corrected m̂ = g and √v̂ = |g|: Δp = −lr·g/(|g| + eps)."""
    p, g = params_grads(seed, zero_some=True)
    before = {k: v.copy() for k, v in p.items()}
    Adam(lr=lr, betas=(b1, b2), eps=1e-8).step(p, g)
    for k in p:
        delta = p[k] - before[k]
        np.testing.assert_allclose(delta, -lr * g[k] / (np.abs(g[k]) + 1e-8), rtol=1e-12, atol=1e-15)
        # i.e. lr·sign(g) up to eps: off by lr·eps/(|g| + eps) at most
        assert np.all(np.abs(delta + lr * np.sign(g[k])) <= lr * 1e-8 / (np.abs(g[k]) + 1e-8) * (1 + 1e-6) + 1e-15)
    assert p["enc.bias"][1] == before["enc.bias"][1]


def test_three_step_trajectory_by_hand():
    """One scalar, lr 0.1, betas (0.5, 0.75), eps 0, gradients 1, −2, 4, worked out on paper:
    m: 0.5, −0.75, 1.625     m̂ = m/(1 − 0.5ᵗ): 1, −1, 13/7
    v: 0.25, 1.1875, 4.890625 v̂ = v/(1 − 0.75ᵗ): 1, 19/7, 313/37
    Δp = −0.1·m̂/√v̂."""
    p = {"w": np.array([2.0])}
    opt = Adam(lr=0.1, betas=(0.5, 0.75), eps=0.0)
    want = 2.0
    for g, m_hat, v_hat in ((1.0, 1.0, 1.0), (-2.0, -1.0, 19 / 7), (4.0, 13 / 7, 313 / 37)):
        opt.step(p, {"w": np.array([g])})
        want -= 0.1 * m_hat / math.sqrt(v_hat)
        assert p["w"][0] == pytest.approx(want, rel=1e-14)


def test_adam_vs_adamw_weight_decay():
    """With g = 0: Adam's L2 term becomes the gradient (first step −lr·sign(p)); AdamW only
    shrinks p by lr·wd·p and then takes no Adam step (m = 0)."""
    p0 = {"w": np.array([3.0, -0.5])}
    zero = {"w": np.zeros(2)}
    a = {"w": p0["w"].copy()}
    Adam(lr=0.01, weight_decay=0.1).step(a, zero)
    gw = 0.1 * p0["w"]
    np.testing.assert_allclose(a["w"], p0["w"] - 0.01 * gw / (np.abs(gw) + 1e-8), rtol=1e-14)
    w = {"w": p0["w"].copy()}
    AdamW(lr=0.01, weight_decay=0.1).step(w, zero)
    np.testing.assert_array_equal(w["w"], p0["w"] * (1 - 0.01 * 0.1))


def test_adamw_decay_independent_of_gradient_scale():
    """Scaling g leaves Adam's step (nearly) unchanged; AdamW's decay stays lr·wd·p, while Adam's
    L2 term's influence depends on g's scale."""
    p, g = params_grads(1)
    outs = {}
    for dec in (False, True):
        for s in (1.0, 1000.0):
            q = {k: v.copy() for k, v in p.items()}
            opt = Adam(lr=0.01, weight_decay=0.5, decoupled=dec)
            for _ in range(3):
                opt.step(q, {k: s * v for k, v in g.items()})
            outs[dec, s] = q["enc.weight"]
    np.testing.assert_allclose(outs[True, 1.0], outs[True, 1000.0], rtol=1e-6)
    assert np.abs(outs[False, 1.0] - outs[False, 1000.0]).max() > 1e-3


def test_lr_override_and_missing_grad():
    p, g = params_grads(2)
    q = {k: v.copy() for k, v in p.items()}
    Adam(lr=0.5).step(p, {"enc.weight": g["enc.weight"], "enc.bias": None}, lr=0.01)
    np.testing.assert_allclose(p["enc.weight"], q["enc.weight"] - 0.01 * np.sign(g["enc.weight"]), rtol=1e-6)
    np.testing.assert_array_equal(p["enc.bias"], q["enc.bias"])


def test_float32_stays_float32():
    p, g = params_grads(3)
    p = {k: v.astype(np.float32) for k, v in p.items()}
    g = {k: v.astype(np.float32) for k, v in g.items()}
    opt = AdamW(lr=0.01)
    opt.step(p, g)
    assert all(v.dtype == np.float32 for v in p.values())
    assert all(v.dtype == np.float32 for k, v in opt.state_dict().items() if not k.startswith("step/"))


@pytest.mark.parametrize("decoupled", [False, True])
def test_save_restore_continue_is_bit_identical(decoupled):
    rng = np.random.default_rng(4)
    p, _ = params_grads(4)
    grads = [{k: rng.standard_normal(v.shape) for k, v in p.items()} for _ in range(6)]
    make = lambda: Adam(lr=0.02, weight_decay=0.1, decoupled=decoupled)  # noqa: E731

    straight, opt = {k: v.copy() for k, v in p.items()}, make()
    for g in grads:
        opt.step(straight, g)

    resumed, opt = {k: v.copy() for k, v in p.items()}, make()
    for g in grads[:3]:
        opt.step(resumed, g)
    buf = io.BytesIO()
    np.savez(buf, **opt.state_dict())                    # through an npz file, without pickle
    buf.seek(0)
    with np.load(buf, allow_pickle=False) as f:
        state = {k: f[k] for k in f.files}
    opt = make()
    opt.load_state_dict(state)
    for g in grads[3:]:
        opt.step(resumed, g)
    for k in p:
        np.testing.assert_array_equal(resumed[k], straight[k])


def test_load_state_dict_rejects_bad_keys():
    p, g = params_grads(5)
    opt = Adam()
    opt.step(p, g)
    state = opt.state_dict()
    del state["exp_avg/enc.bias"]
    with pytest.raises(ValueError, match="exp_avg/enc.bias"):
        Adam().load_state_dict(state)


@pytest.mark.parametrize("decoupled,wd", [(False, 0.0), (False, 0.1), (True, 0.1)])
def test_matches_torch(decoupled, wd):
    torch = pytest.importorskip("torch")
    p, _ = params_grads(6)
    tp = {k: torch.tensor(v.copy()) for k, v in p.items()}
    topt = (torch.optim.AdamW if decoupled else torch.optim.Adam)(list(tp.values()), lr=0.01, weight_decay=wd)
    opt = Adam(lr=0.01, weight_decay=wd, decoupled=decoupled)
    rng = np.random.default_rng(7)
    for _ in range(10):
        g = {k: rng.standard_normal(v.shape) for k, v in p.items()}
        for k, t in tp.items():
            t.grad = torch.tensor(g[k])
        topt.step()
        opt.step(p, g)
    for k in p:   # torch's lerp may use a fused multiply-add: equal up to a few ulps
        np.testing.assert_allclose(p[k], tp[k].numpy(), rtol=1e-15, atol=1e-15)


# ----------------------------------------------------------------- schedule

def test_warmup_cosine_values():
    base, low = 1e-3, 1e-5
    f = lambda s: warmup_cosine(s, 100, 10, base, low)  # noqa: E731
    assert f(0) == pytest.approx(base / 10)
    assert f(9) == base                                # warm-up ends at the base rate
    assert f(10) == base                               # cosine starts at the base rate
    assert f(55) == pytest.approx((base + low) / 2)    # half way through the cosine
    assert f(100) == pytest.approx(low) and f(150) == pytest.approx(low)
    lrs = [f(s) for s in range(10, 101)]
    assert all(a >= b for a, b in zip(lrs, lrs[1:]))   # monotone decay
    assert warmup_cosine(0, 10, 0, base) == base
    with pytest.raises(ValueError):
        warmup_cosine(0, 10, 11, base)


# ----------------------------------------------------------------- clipping

def test_clip_grad_norm_scales_to_max_norm():
    g = {"a": np.array([3.0, 0.0]), "b": np.array([[4.0]])}
    total = clip_grad_norm(g, 1.0)
    assert total == 5.0
    np.testing.assert_allclose(g["a"], [3 / (5 + 1e-6), 0])
    np.testing.assert_allclose(g["b"], [[4 / (5 + 1e-6)]])
    assert math.sqrt(np.sum(g["a"] ** 2) + np.sum(g["b"] ** 2)) < 1.0


def test_clip_grad_norm_leaves_small_and_nonfinite_alone():
    g = {"a": np.array([0.3, 0.4])}
    assert clip_grad_norm(g, 1.0) == pytest.approx(0.5)
    np.testing.assert_array_equal(g["a"], [0.3, 0.4])
    g = {"a": np.array([np.inf, 1.0])}
    assert clip_grad_norm(g, 1.0) == np.inf
    np.testing.assert_array_equal(g["a"], [np.inf, 1.0])


def test_clip_matches_torch():
    torch = pytest.importorskip("torch")
    p, g = params_grads(8)
    ts = [torch.zeros(v.shape, dtype=torch.float64, requires_grad=True) for v in g.values()]
    for t, v in zip(ts, g.values()):
        t.grad = torch.tensor(v.copy())
    want = torch.nn.utils.clip_grad_norm_(ts, 0.7).item()
    assert clip_grad_norm(g, 0.7) == pytest.approx(want, rel=1e-14)
    for t, v in zip(ts, g.values()):
        np.testing.assert_allclose(v, t.grad.numpy(), rtol=1e-14)
