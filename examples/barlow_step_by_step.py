"""Barlow Twins pretraining written out by hand: the steps `tinybt train` takes, without its plumbing.

Every setting is tinybt train's default (TrainConfig, tinybt/run/config.py) and every layer
runs on the reference backend (plain NumPy, tinybt/nn/): this is the model the trainer trains,
the goldens check and the ports reproduce. tests/test_examples.py checks that after an epoch
the parameters are, bit for bit, those of `tinybt train --backend reference` with the same
settings. What the trainer adds: checkpoints, metrics, the NaN guards, the probes.

    python examples/barlow_step_by_step.py              # 2 epochs on the synthetic data
    python examples/barlow_step_by_step.py --epochs 30  # the whole default run (slow: plain NumPy)
"""

import argparse

import numpy as np
from threadpoolctl import threadpool_limits

from tinybt.backend import use_backend
from tinybt.data.augment import augment_batch
from tinybt.data.batching import epoch_batches, pad_batch
from tinybt.data.load import load_dataset
from tinybt.data.sequences import build_sequences
from tinybt.models.barlow_model import barlow_backward, barlow_forward, barlow_init
from tinybt.models.encoder import EncoderConfig
from tinybt.optim import AdamW
from tinybt.optim.clip import clip_grad_norm
from tinybt.optim.schedule import warmup_cosine
from tinybt.run.config import TrainConfig


def main(cfg=None, echo=print):
    """Pretrain with `cfg` (default: tinybt train's defaults, 2 epochs) -> (params, buffers)."""
    cfg = (cfg or TrainConfig(epochs=2)).validate()     # validate resolves lr = 3e-2·√(B/128)
    rng = np.random.default_rng(cfg.seed)                # one Generator: init, shuffles, views

    # 1. Interactions -> one time-ordered history per user (items 1..V; 0 = padding, V+1 = [MASK]).
    seqs = build_sequences(load_dataset(cfg.dataset, cfg.data_dir), cfg.max_len, cfg.min_interactions,
                           cfg.split_seed)
    users = np.arange(seqs.n_users)                      # every user's history; never a label
    echo(f"{seqs.n_users} users, {seqs.n_items} items")

    # 2. The model: item embedding -> GRU -> mean of its states = user vector (D = --dim)
    #    -> projector (--projector widths) -> Barlow Twins loss. PyTorch state_dict names.
    enc = EncoderConfig(cfg.encoder, seqs.n_items, cfg.dim, cfg.layers, cfg.heads, cfg.max_len, cfg.pooling)
    params, buffers = barlow_init(rng, enc, cfg.projector_dims())
    opt = AdamW(lr=cfg.lr, weight_decay=cfg.weight_decay)  # weight decay 0: plain Adam
    aug = cfg.augment_config()                             # each view: one of crop / mask / reorder
    steps = len(users) // cfg.batch_size                   # full batches only (BatchNorm wants B rows)
    total = cfg.epochs * steps

    # the reference layers, and one BLAS thread as in the trainer (so that the bits match it)
    with use_backend("reference"), threadpool_limits(1, user_api="blas"):
        for epoch in range(cfg.epochs):
            for i, batch in enumerate(epoch_batches(len(users), cfg.batch_size, rng, drop_last=True)):
                # 3. The batch's histories (last max_len items), right-padded, and two random views.
                ids, lengths = pad_batch(seqs.hist_values, seqs.hist_offsets, users[batch], cfg.max_len)
                views = [augment_batch(ids, lengths, rng, aug, seqs.mask_id) for _ in range(2)]

                # 4. Forward to the loss, then the hand-written backward from dloss = 1.
                res, cache = barlow_forward(params, buffers, views, cfg.lambd, enc)
                _, grads = barlow_backward(1.0, cache)

                # 5. Linear warm-up over the first --warmup of all steps, then cosine to min_lr; AdamW.
                lr = warmup_cosine(epoch * steps + i, total, int(cfg.warmup * total), cfg.lr, cfg.min_lr)
                if cfg.grad_clip > 0:                      # off by default
                    clip_grad_norm(grads, cfg.grad_clip)
                opt.step(params, grads, lr=lr)
            # on-diagonal: the two views disagree; off-diagonal: features are redundant (both per P)
            echo(f"epoch {epoch + 1}  loss {res.loss:7.2f}  on-diag/P {res.on_diag_per_p:.3f}  "
                 f"off-diag/P {res.off_diag_per_p:.3f}")
    return params, buffers


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=2)
    main(TrainConfig(epochs=ap.parse_args().epochs))
