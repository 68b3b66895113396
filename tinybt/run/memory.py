"""Peak memory of a training run, estimated from the shapes before any work starts.

A run that cannot fit is refused at once, with the estimate and the flags that shrink it,
instead of being killed by the OS an hour in. The estimate (bytes, float32 training):

    base        the interpreter, NumPy, Numba and the compiled kernels (BASE)
    data        the loaded interactions and the cut sequences: ~48 bytes per interaction
    parameters  value, gradient, Adam's two moments and the update's temporary: 5 copies
    activations both views of one batch: the GRU keeps ~8 (B, T, D) tensors; a transformer
                layer ~12 (its FFN is 4D wide) and 3 (B, H, T, T); the projector's (B, P)
                activations and (P, P) cross-correlation

The factors were fitted to the peak RSS of four 1-epoch synthetic runs (base, GRU
D=256 B=512 T=100, projector 2048-2048-2048, transformer D=128 B=256 T=100);
tests/test_memory.py checks three of them stay within ±25 %. Not counted: Numba compiling
the kernels the first time (LLVM adds up to ~0.4 GiB once; later runs load them cached).
"""

import os

from tinybt.errors import TinyBTError

BASE = 215 * 2**20          # peak RSS of a tiny run, less its model (measured, see above)
PER_INTERACTION = 48


def estimate(cfg, n_items, n_interactions=0):
    """{"base", "data", "--dim", "--projector"}: bytes, by what drives them."""
    D, T, B = cfg.dim, cfg.max_len, cfg.batch_size
    L = cfg.layers if cfg.encoder == "transformer" else 1
    enc = (n_items + 2) * D + (12 * L * D * D + T * D if cfg.encoder == "transformer" else 6 * D * D)
    if cfg.encoder == "transformer":
        act = 2 * L * (12 * B * T * D + 3 * B * cfg.heads * T * T)
    else:
        act = 2 * 8 * B * T * D
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
