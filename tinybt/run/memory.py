"""Peak memory of a training run, estimated from the shapes before any work starts.

A run that cannot fit is refused at once, with the estimate and the flags that shrink it,
instead of being killed by the OS an hour in. The estimate (bytes, float32 training):

    base        the interpreter, NumPy, Numba and the compiled kernels (BASE)
    data        the loaded interactions and the cut sequences: ~48 bytes per interaction
    parameters  value, gradient, Adam's two moments and the update's temporary: 5 copies
    activations both views of one batch: the GRU keeps ~5 (B, T, D) tensors; a transformer
                layer ~12 (its FFN is 4D wide) and 3 (B, H, T, T); the projector's (B, P)
                activations and (P, P) cross-correlation

The factors were fitted to the peak RSS of four 1-epoch synthetic runs (base, GRU
D=256 B=512 T=100, projector 2048-2048-2048, transformer D=128 B=256 T=100);
tests/test_memory.py checks three of them stay within ±25 %. Not counted: Numba compiling
the kernels the first time (LLVM adds up to ~0.4 GiB once; later runs load them cached).
"""

import os

import numpy as np
import scipy.sparse

from tinybt.errors import TinyBTError

BASE = 215 * 2**20          # peak RSS of a tiny run, less its model (measured, see above)
PER_INTERACTION = 48
# The probes: each spawned worker imports NumPy, SciPy and tinybt (~200 MB, measured) and holds
# float64 working copies of the one arm it probes (the pool's rows, a fold's standardised
# rows, its principal axes): peak − start measured 2.9× (138k × 256) to 3.7× (138k × 64)
# the float64 features, so 4× is the estimate.
WORKER_BASE = 200 * 2**20
PROBE_COPIES = 4
# ... plus the solver's own state: SciPy's L-BFGS-B keeps 10 correction pairs and its workspace,
# 296 bytes per parameter (measured, tests/test_memory.py). A probe fits classes × columns
# weights: on a bag of items over 150 k businesses with 20 classes that is 0.9 GB, far more
# than the features themselves.
LBFGS_PER_PARAM = 296


def estimate(cfg, n_items, n_interactions=0):
    """{"base", "data", "--dim", "--projector"}: bytes, by what drives them."""
    D, T, B = cfg.dim, cfg.max_len, cfg.batch_size
    L = cfg.layers if cfg.encoder == "transformer" else 1
    enc = (n_items + 2) * D + (12 * L * D * D + T * D if cfg.encoder == "transformer" else 6 * D * D)
    if cfg.encoder == "transformer":
        act = 2 * L * (12 * B * T * D + 3 * B * cfg.heads * T * T)
    else:
        act = 2 * 5 * B * T * D
    widths = [D] + (cfg.projector_dims() if cfg.objective == "barlow" else [])
    proj = sum(a * b for a, b in zip(widths, widths[1:]))
    proj_act = 6 * B * sum(widths[1:]) + 3 * widths[-1] ** 2 if cfg.objective == "barlow" else 0
    return {"base": BASE, "data": PER_INTERACTION * n_interactions,
            "--dim": 4 * (5 * enc + act), "--projector": 4 * (5 * proj + proj_act)}


def available():
    """Bytes this process may still use: Linux's MemAvailable, else free physical pages
    (os.sysconf), else None (unknown: nothing is refused)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    for pages in ("SC_AVPHYS_PAGES", "SC_PHYS_PAGES"):
        try:
            return os.sysconf(pages) * os.sysconf("SC_PAGE_SIZE")
        except (AttributeError, ValueError, OSError):
            continue
    return None


def gib(n):
    return f"{n / 2**30:.2g} GiB"


def describe(cfg, n_items, n_interactions=0):
    """'training needs about X GiB (of Y GiB available)' for data info and the start of train."""
    need, have = sum(estimate(cfg, n_items, n_interactions).values()), available()
    return f"training needs about {gib(need)} of memory" + (f" ({gib(have)} available)" if have else "")


def check(cfg, n_items, n_interactions=0, have=None):
    """Refuse settings whose run would not fit in the memory available now; else describe()."""
    parts = estimate(cfg, n_items, n_interactions)
    have = available() if have is None else have
    if have and sum(parts.values()) > have:
        flag = max(("--dim", "--projector"), key=parts.get)
        others = {"--dim": "--batch-size, --max-len, --dim", "--projector": "--projector, --batch-size"}
        raise TinyBTError(f"{flag}: training would need about {gib(sum(parts.values()))} of memory "
                          f"(parameters, gradients, Adam moments, one batch), {gib(have)} is available; "
                          f"use a smaller {others[flag]}")
    return describe(cfg, n_items, n_interactions)


def feature_bytes(X):
    """Bytes of X as the probe holds it: float64 values (+ int32 indices for CSR)."""
    if scipy.sparse.issparse(X):
        return 12 * X.nnz + 8 * (X.shape[0] + 1)
    return 8 * int(np.prod(X.shape))


def probe_bytes(X, n_classes):
    """Bytes one probe of features X holds at its peak: PROBE_COPIES float64 copies of X and
    the solver's state for n_classes × columns weights."""
    return PROBE_COPIES * feature_bytes(X) + LBFGS_PER_PARAM * n_classes * X.shape[1]


def probe_estimate(largest, jobs):
    """Bytes the probes add to this process, `largest` the probe_bytes of the largest probe:
    `jobs` spawned workers each holding one probe at a time (jobs = 1 probes in this process)."""
    return largest if jobs == 1 else jobs * (WORKER_BASE + largest)


def check_probe(largest, jobs, have=None):
    """Refuse probes that would not fit in the memory available now, before any fit starts."""
    need, have = probe_estimate(largest, jobs), available() if have is None else have
    if have and need > have:
        one = probe_estimate(largest, 1)
        fix = "use --jobs 1 (one arm at a time, in this process)" if jobs > 1 and one <= have else \
            "probe fewer users (--split val) or free memory; even --jobs 1 needs " + gib(one)
        raise TinyBTError(f"--jobs: the probes would need about {gib(need)} of memory ({jobs} process(es), "
                          f"each with float64 copies of the largest feature matrix and its solver's state), "
                          f"{gib(have)} is available; {fix}")
