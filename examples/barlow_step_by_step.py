"""Barlow Twins pretraining written out by hand, from raw interactions to a falling loss.

`tinybt train` runs these same pieces with a learning-rate schedule, checkpoints,
logging and the probe at the end; this script shows the pieces themselves:

    python examples/barlow_step_by_step.py            # 60 steps on the synthetic data
    python examples/barlow_step_by_step.py --steps 5
"""

import argparse

import numpy as np

from tinybt.data.augment import AugmentConfig, augment_batch
from tinybt.data.batching import pad_batch
from tinybt.data.sequences import build_sequences
from tinybt.data.synthetic import generate
from tinybt.models.barlow_model import barlow_backward, barlow_forward, barlow_init
from tinybt.models.encoder import EncoderConfig
from tinybt.optim import Adam


def main(steps=60, batch_size=128, seed=0):
    rng = np.random.default_rng(seed)

    # 1. Interactions -> one time-ordered history per user (item ids 1..V, 0 = padding).
    seqs = build_sequences(generate(seed=seed), max_len=50)
    train_users = seqs.rows("train")
    print(f"{len(train_users)} train users, {seqs.n_items} items")

    # 2. The model: item embedding -> GRU -> user vector (D = 64) -> projector (P = 256).
    enc = EncoderConfig("gru", n_items=seqs.n_items, dim=64)
    params, buffers = barlow_init(rng, enc, widths=[256, 256, 256])   # PyTorch state_dict names
    lambd = 5e-3                                                     # off-diagonal weight λ ≈ 1/P
    opt = Adam(lr=1e-2)
    aug = AugmentConfig()                                            # crop 0.6, mask 0.3, reorder 0.6

    for step in range(1, steps + 1):
        # 3. A batch of users, right-padded, and two random views of each history.
        rows = rng.choice(train_users, batch_size, replace=False)
        ids, lengths = pad_batch(seqs.hist_values, seqs.hist_offsets, rows)
        views = [augment_batch(ids, lengths, rng, aug, seqs.mask_id) for _ in range(2)]

        # 4. Forward to the Barlow Twins loss, backward by hand, one Adam step.
        res, cache = barlow_forward(params, buffers, views, lambd, enc)
        _, grads = barlow_backward(1.0, cache)             # ∂loss/∂params, loss gradient first
        opt.step(params, grads)

        if step == 1 or step % 10 == 0:
            # on-diagonal: the views disagree; off-diagonal: features are redundant (both / P)
            print(f"step {step:3d}  loss {res.loss:7.2f}  on-diag/P {res.on_diag_per_p:.3f}  "
                  f"off-diag/P {res.off_diag_per_p:.3f}")
    return res


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=60)
    main(ap.parse_args().steps)
