"""Bootstrap intervals: identical arms, a known gap, coverage on simulated users, balanced accuracy."""

import numpy as np
import pytest

from tinybt.probe.stats import bootstrap_ci, verdict


def test_two_identical_runs_give_an_interval_covering_zero():
    rng = np.random.default_rng(0)
    H = (rng.random((3, 500)) < 0.6).astype(float)
    one = bootstrap_ci(H[:1], H[:1])
    assert one == {"mean": 0.0, "lo": 0.0, "hi": 0.0} and verdict(one) == ""
    three = bootstrap_ci(H, H.copy())              # the same three seeds, resampled independently per arm
    assert three["lo"] < 0 < three["hi"] and three["mean"] == 0.0 and verdict(three) == ""


def test_a_constructed_gap_is_ahead_and_its_mirror_behind():
    rng = np.random.default_rng(1)
    base = rng.random((3, 2000))
    a, b = (base < 0.70).astype(float), (base < 0.62).astype(float)     # a hits wherever b does, and more
    ci = bootstrap_ci(a, b)
    assert ci["mean"] == pytest.approx(np.mean(a) - np.mean(b))
    assert 0 < ci["lo"] < ci["mean"] < ci["hi"] and verdict(ci) == "ahead"
    assert verdict(bootstrap_ci(b, a)) == "behind"


def test_same_inputs_same_interval_and_the_seed_matters():
    H = (np.random.default_rng(2).random((2, 300)) < 0.5).astype(float)
    assert bootstrap_ci(H, seed=4) == bootstrap_ci(H, seed=4)
    assert bootstrap_ci(H, seed=4) != bootstrap_ci(H, seed=5)


def test_paired_interval_covers_the_true_difference_about_95_percent_of_the_time():
    """Users drawn from a known population: each user has an easiness e; arm a hits with
    probability e + 0.03, arm b with e (paired through e). The true difference is 0.03."""
    rng = np.random.default_rng(3)
    covered, reps = 0, 200
    for r in range(reps):
        e = rng.uniform(0.2, 0.8, size=400)
        a = (rng.random(400) < e + 0.03).astype(float)
        b = (rng.random(400) < e).astype(float)
        ci = bootstrap_ci(a, b, n_boot=400, seed=r)
        covered += ci["lo"] <= 0.03 <= ci["hi"]
    assert 0.90 <= covered / reps <= 0.99


def test_balanced_accuracy_weights_every_class_equally():
    y = np.array([0] * 90 + [1] * 10)
    always_0 = (y == 0).astype(float)                 # the majority predictor's hits
    assert bootstrap_ci(always_0)["mean"] == pytest.approx(0.9)
    assert bootstrap_ci(always_0, groups=y)["mean"] == pytest.approx(0.5)


def test_arms_must_score_the_same_users():
    with pytest.raises(ValueError, match="same N"):
        bootstrap_ci(np.ones((1, 5)), np.ones((1, 6)))
