"""The memory estimate (tinybt/run/memory.py) is close to the real peak RSS, and a run that
cannot fit is refused before any work, in one line naming the flags that shrink it."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse
from click.testing import CliRunner

from tinybt.cli import cli
from tinybt.errors import TinyBTError
from tinybt.run import memory
from tinybt.run.config import TrainConfig

from wait_helpers import finish

# the child trains one epoch in-process and prints its own peak RSS: VmHWM of /proc/self/status
# (kB), which belongs to the exec'd process alone. ru_maxrss would not do: Linux carries it over
# fork + exec, so under a big pytest process the child would report the parent's size.
CHILD = ("import sys; from tinybt.cli import cli; cli(sys.argv[1:], standalone_mode=False); "
         "hwm = next(ln for ln in open('/proc/self/status', encoding='ascii') if ln.startswith('VmHWM:')); "
         "print('MAXRSS', int(hwm.split()[1]) * 1024)")


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="no /proc/self/status to read the peak RSS from")
@pytest.mark.parametrize("settings", [dict(dim=256, batch_size=512, max_len=100),
                                      dict(projector="2048-2048-2048", batch_size=256),
                                      dict(encoder="transformer", dim=128, batch_size=256, max_len=100)])
def test_estimate_is_within_25_percent_of_the_peak_rss(tmp_path, settings):
    from tinybt.data.load import load_dataset

    flags = [f"--{k.replace('_', '-')}={v}" for k, v in settings.items()]
    # compile (and cache) every kernel this run takes first, by running it once: LLVM's compile-time
    # memory is not the run's (and B < P takes the Barlow kernel's Gram path, B >= P its P x P one)
    warm = subprocess.Popen([sys.executable, "-m", "tinybt", "train", "--dataset", "synthetic", "--epochs", "1",
                             "--no-probe", "--out", str(tmp_path / "w"), *flags],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert finish(warm, "the warm-up run") and warm.returncode == 0
    p = subprocess.Popen([sys.executable, "-c", CHILD, "train", "--dataset", "synthetic", "--epochs", "1",
                          "--no-probe", "--out", str(tmp_path / "r"), *flags],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = finish(p, f"one epoch of {settings}")
    assert p.returncode == 0, err[-2000:]
    rss = int(next(ln.split()[1] for ln in out.splitlines() if ln.startswith("MAXRSS")))
    ds = load_dataset("synthetic")
    est = sum(memory.estimate(TrainConfig(dataset="synthetic", **settings).validate(), ds.n_items,
                              len(ds.user)).values())
    assert 0.75 <= est / rss <= 1.25, (est / 2**20, rss / 2**20)


def test_a_run_that_does_not_fit_is_refused_with_the_flags_that_shrink_it():
    cfg = TrainConfig(dim=512, batch_size=4096).validate()
    with pytest.raises(TinyBTError, match=r"^--dim: training would need about .* GiB of memory .* 1 GiB is "
                                          r"available; use a smaller --batch-size, --max-len, --dim$"):
        memory.check(cfg, 1000, have=2**30)
    cfg = TrainConfig(projector="30000-30000").validate()
    with pytest.raises(TinyBTError, match="^--projector: .* use a smaller --projector, --batch-size$"):
        memory.check(cfg, 1000, have=2**30)
    assert memory.check(TrainConfig().validate(), 1000, have=2**40).startswith("training needs about")


def test_available_memory_is_known_here():
    have = memory.available()
    assert have is None or 2**20 < have < 2**50


def test_train_and_data_info_report_the_estimate(data_dir, tmp_path):
    r = CliRunner().invoke(cli, ["data", "info", "ml-1m", "--data-dir", str(data_dir)])
    assert r.exit_code == 0 and "training needs about" in r.stdout.splitlines()[-1], r.output
    from train_helpers import tiny_flags

    r = CliRunner().invoke(cli, ["train", *tiny_flags(data_dir, epochs=1), "--out", str(tmp_path / "r"), "--no-probe"])
    assert r.exit_code == 0 and r.stderr.startswith("training needs about"), r.stderr[:500]


def test_probes_that_do_not_fit_are_refused_with_the_flag_that_shrinks_them():
    X = scipy.sparse.random(1000, 500, density=0.1, format="csr", random_state=0)
    assert memory.feature_bytes(X) == 12 * X.nnz + 8 * 1001
    assert memory.feature_bytes(np.zeros((1000, 64), np.float32)) == 8 * 64_000
    assert memory.probe_bytes(X, 7) == memory.PROBE_COPIES * memory.feature_bytes(X) + memory.LBFGS_PER_PARAM * 7 * 500
    largest = 2**30                                     # one probe's peak: 1 GiB
    assert memory.probe_estimate(largest, 1) == largest
    assert memory.probe_estimate(largest, 4) == 4 * (memory.WORKER_BASE + largest)
    with pytest.raises(TinyBTError, match=r"^--jobs: the probes would need about .* GiB of memory \(4 process\(es\), "
                                          r".*, 2 GiB is available; use --jobs 1 \(one arm at a time"):
        memory.check_probe(largest, 4, have=2 * 2**30)
    with pytest.raises(TinyBTError, match=r"^--jobs: .* 0\.5 GiB is available; probe fewer users .* even --jobs 1 needs"):
        memory.check_probe(largest, 4, have=2**29)
    memory.check_probe(largest, 4, have=2**40)          # fits: no error


def test_the_solver_state_per_parameter_is_what_the_probe_estimate_assumes():
    """L-BFGS-B's history dominates a wide probe (bag of items over many items); the estimate's
    bytes per parameter must stay within 10 % of what SciPy allocates (traced, deterministic)."""
    import tracemalloc

    import scipy.optimize

    n = 200_000
    x0 = np.ones(n)
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        scipy.optimize.minimize(lambda x: (0.5 * x @ x, x.copy()), x0, jac=True, method="L-BFGS-B",
                                options={"maxiter": 3})
        per_param = (tracemalloc.get_traced_memory()[1] - start) / n
    finally:
        tracemalloc.stop()
    assert 0.9 * memory.LBFGS_PER_PARAM <= per_param <= 1.1 * memory.LBFGS_PER_PARAM, per_param


def test_tinybt_probe_refuses_before_any_fit_when_memory_is_short(data_dir, tmp_path, monkeypatch):
    """The check runs after the arms are embedded and before the pool starts: one error line."""
    from train_helpers import tiny_flags

    r = CliRunner().invoke(cli, ["train", *tiny_flags(data_dir, epochs=1), "--out", str(tmp_path / "r"), "--no-probe"])
    assert r.exit_code == 0, r.output
    monkeypatch.setattr(memory, "available", lambda: 2**20)
    monkeypatch.setattr("tinybt.probe.evaluate.run_tasks", lambda *a, **k: pytest.fail("a probe started"))
    r = CliRunner().invoke(cli, ["probe", str(tmp_path / "r"), "--jobs", "2"])
    assert r.exit_code != 0 and r.stderr.startswith("error: --jobs: the probes would need about"), r.output
    assert len(r.stderr.strip().splitlines()) == 1 and not (tmp_path / "r" / "results.json").exists()
