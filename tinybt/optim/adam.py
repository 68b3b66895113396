"""Adam and AdamW over a dict of parameters, with torch.optim.Adam / AdamW semantics.

Per parameter p with gradient g, at step t = 1, 2, ... (each parameter counts its own
steps, like torch, so a parameter without a gradient in a step is left alone):

    Adam:   g ← g + wd·p                    (L2 penalty folded into the gradient)
    AdamW:  p ← p − lr·wd·p                 (decoupled: shrink p, independent of g's scale)
    m ← m + (1 − β1)(g − m)                 (= β1 m + (1 − β1) g, written as torch's lerp)
    v ← β2 v + (1 − β2) g²
    p ← p − (lr / (1 − β1ᵗ)) · m / (√v / √(1 − β2ᵗ) + eps)     (eps outside the sqrt)

The bias corrections undo the zero initialisation of m and v: at t = 1, m̂ = g and
√v̂ = |g|, so the first step is lr·sign(g) (up to eps). The operations follow torch's
order so float64 results agree with it to the last bits or nearly so.

Lazy (row-wise) update, for a row-sparse gradient (tinybt.nn.embedding.RowGrad: the rows
R a batch touched and their gradient rows): the update above runs on the rows in R only,
with the same operations in the same order, and t still counts the parameter's steps (so
the bias corrections are the dense ones). Rows outside R are left exactly as they are,
which is where it differs from dense Adam, whose gradient there is 0 but which still

    decays their moments          m ← β1 m,  v ← β2 v
    moves them by the momentum    p ← p − (lr / (1 − β1ᵗ)) · m / (√v / √(1 − β2ᵗ) + eps)
    decays their weights          p ← p(1 − lr·wd) (AdamW), or g = wd·p (Adam)

So the two agree bit for bit when every row is in R at every step, and on any row whose
m, v are still 0 with wd = 0 (never touched: its dense update is 0 too); otherwise a row
coming back after k untouched steps finds m, v undecayed, and has missed k momentum
steps and k weight decays. torch.optim.SparseAdam's semantics, plus weight decay on the
touched rows.
"""

import numpy as np

from tinybt import backend
from tinybt.kernels import adam as kernel
from tinybt.nn.embedding import RowGrad


class Adam:
    """Adam (decoupled=False) or AdamW (decoupled=True). `step` updates params in place."""

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, decoupled=False):
        if not lr >= 0 or not eps >= 0 or not weight_decay >= 0 or not all(0 <= b < 1 for b in betas):
            raise ValueError(f"Adam: need lr, eps, weight_decay >= 0 and betas in [0, 1), "
                             f"got lr={lr}, betas={betas}, eps={eps}, weight_decay={weight_decay}")
        self.lr, self.betas, self.eps = lr, tuple(betas), eps
        self.weight_decay, self.decoupled = weight_decay, decoupled
        self.steps: dict[str, int] = {}
        self.exp_avg: dict[str, np.ndarray] = {}
        self.exp_avg_sq: dict[str, np.ndarray] = {}

    def step(self, params, grads, lr=None):
        """One update of every params[name] that has a grads[name] (not None; an array, or a
        RowGrad for the lazy row-wise update); lr overrides self.lr."""
        lr = self.lr if lr is None else lr
        for name, g in grads.items():
            if g is None:
                continue
            p = params[name]
            if name not in self.steps:
                self.steps[name] = 0
                self.exp_avg[name] = np.zeros_like(p)
                self.exp_avg_sq[name] = np.zeros_like(p)
            self.steps[name] += 1
            t = self.steps[name]
            full = (p, self.exp_avg[name], self.exp_avg_sq[name])
            rows, g = (g.rows, g.values) if isinstance(g, RowGrad) else (..., g)
            p, m, v = (a[rows] for a in full)          # views of the whole arrays, or copies of rows
            if backend.fast() and g.dtype == p.dtype and all(a.flags.c_contiguous for a in (p, m, v)):
                self._fused(p, np.ascontiguousarray(g, p.dtype), m, v, lr, t)
            else:
                self._numpy(p, g, m, v, lr, t)
            if rows is not ...:                        # write the updated rows back
                for a, r in zip(full, (p, m, v)):
                    a[rows] = r

    def _numpy(self, p, g, m, v, lr, t):
        b1, b2 = self.betas
        wd = self.weight_decay
        if wd and self.decoupled:
            p *= 1 - lr * wd
        elif wd:
            g = g + wd * p
        # m += (1 − β1)(g − m); v = β2 v + (1 − β2)·g·g; p += −(lr/(1 − β1ᵗ))·m / (√v/√(1 − β2ᵗ) + eps),
        # each product in that order, in place: the same bits in two scratch arrays instead of
        # nine temporaries, which for a wide projector's 8192 × 8192 weights were most of the step
        tmp = np.subtract(g, m)
        tmp *= 1 - b1
        m += tmp
        v *= b2
        np.multiply(g, 1 - b2, out=tmp)
        tmp *= g
        v += tmp
        denom = np.sqrt(v, out=tmp)
        denom /= (1 - b2 ** t) ** 0.5
        denom += self.eps
        update = np.multiply(m, -(lr / (1 - b1 ** t)))
        update /= denom
        p += update

    def _fused(self, p, g, m, v, lr, t):
        """The same update in one pass (tinybt/kernels/adam.py), every scalar cast to p's dtype as
        NumPy casts a Python float meeting an array of that dtype."""
        b1, b2 = self.betas
        wd = self.weight_decay
        f = p.dtype.type
        decay = (1 if self.decoupled else 2) if wd else 0
        kernel.adam_update(p.reshape(-1), g.reshape(-1), m.reshape(-1), v.reshape(-1), decay, f(1 - lr * wd), f(wd),
                           f(1 - b1), f(b2), f(1 - b2), f((1 - b2 ** t) ** 0.5), f(self.eps),
                           f(-(lr / (1 - b1 ** t))))

    def state_dict(self):
        """Flat {"step/<name>", "exp_avg/<name>", "exp_avg_sq/<name>": array}: np.savez-able, no pickle."""
        d = {f"step/{k}": np.array(t, dtype=np.int64) for k, t in self.steps.items()}
        d |= {f"exp_avg/{k}": a.copy() for k, a in self.exp_avg.items()}
        d |= {f"exp_avg_sq/{k}": a.copy() for k, a in self.exp_avg_sq.items()}
        return d

    def load_state_dict(self, d):
        """Restore exactly what state_dict returned (hyper-parameters come from the constructor)."""
        names = [k[len("step/"):] for k in d if k.startswith("step/")]
        want = {f"{kind}/{n}" for n in names for kind in ("step", "exp_avg", "exp_avg_sq")}
        if set(d) != want:
            raise ValueError(f"Adam.load_state_dict: unexpected or missing keys {sorted(set(d) ^ want)[:5]}")
        self.steps = {n: int(d[f"step/{n}"]) for n in names}
        self.exp_avg = {n: np.array(d[f"exp_avg/{n}"], copy=True) for n in names}
        self.exp_avg_sq = {n: np.array(d[f"exp_avg_sq/{n}"], copy=True) for n in names}


def AdamW(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
    """torch.optim.AdamW: Adam with decoupled weight decay (torch's default wd = 0.01)."""
    return Adam(lr, betas, eps, weight_decay, decoupled=True)
