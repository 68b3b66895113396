"""Barlow Twins and dual-encoder training with the PyTorch port on N processes (CPU, gloo).

    torchrun --nproc_per_node N examples/torch_port/train_ddp.py --config CONFIG.json --out RUN_DIR

CONFIG.json is a tinybt run's config.json (tinybt.run.config.TrainConfig; any subset
of its settings, the rest default). RUN_DIR becomes a tinybt run folder: config.json,
metrics.jsonl and a float32 checkpoint.npz written by tinybt's own functions, so
`tinybt embed RUN_DIR` and `tinybt probe RUN_DIR` evaluate it with the reference.

N processes compute what one process computes on the whole batch B:
- Data. Every process draws the whole global batch from the same seeded Generator, with
  tinybt's own functions (epoch_batches, barlow_views, next_item_pairs) and tinybt's
  initial parameters, then keeps its B/N rows. A run sees exactly the examples a
  1-process run (or tinybt itself) sees with the same config; augmenting B rows per
  process costs little next to the model.
- Barlow Twins. The projector's BatchNorm and the loss's standardisation use the mean
  and variance over all B rows (all-reduced sums); the cross-correlation C is summed
  over processes before the loss.
- Dual encoder. The next-item embeddings and ids are gathered from every process
  (all_gather with gradient); each process scores its B/N users against all B items and
  the per-row losses are summed over processes.
So every process holds the same global loss L. The collectives' backward sums over
processes, hence each process ends up with N × its share of ∂L/∂θ, and DDP's gradient
average gives exactly ∂L/∂θ (tests/test_ddp.py: ≤ 1e-10 relative in float64).

nn.SyncBatchNorm would be the standard tool, but in torch 2.13 it refuses CPU tensors
("SyncBatchNorm expected input tensor to be on GPU or XPU ..."), so SyncedBatchNorm1d
below all-reduces the batch moments itself. The collectives are the differentiable ones
of torch.distributed._functional_collectives (all_reduce: backward all_reduce; all_gather:
backward reduce-scatter), which torch 2.13 names as the replacement of the deprecated
torch.distributed.nn.functional; they run on their own process group, apart from DDP's
gradient buckets.
"""

import argparse
import contextlib
import os
import sys
import time
from dataclasses import fields
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.distributed._functional_collectives as funcol
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # so `torch_port` imports as a package

from tinybt import __version__  # noqa: E402
from tinybt.data.batching import epoch_batches  # noqa: E402
from tinybt.errors import TinyBTError  # noqa: E402
from tinybt.run import checkpoint, lock, run_dir  # noqa: E402
from tinybt.run.config import TrainConfig  # noqa: E402
from tinybt.data.fingerprint import fingerprint  # noqa: E402
from tinybt.data.views import barlow_views, next_item_pairs  # noqa: E402
from tinybt.train.trainer import (BT_PARTS, encoder_config, init_model, learning_rate, load_sequences,  # noqa: E402
                                  training_log_q, training_rows)
from torch_port import losses, models  # noqa: E402

# The settings this script implements. A setting tinybt gains later is refused whatever its
# value (even its default may change what is trained), so the port never silently trains
# another model than `tinybt train` would with the same config.json.
HONOURED = {"dataset", "data_dir", "objective", "encoder", "epochs", "batch_size", "max_len", "dim", "layers",
            "heads", "projector", "lambd", "tau", "lr", "min_lr", "warmup", "weight_decay", "grad_clip",
            "augment", "seed", "split_seed", "min_interactions", "pretrain_users", "pooling", "sampling_correction",
            "threads", "version", "embedding_grad"}
GROUP = None        # the process group of the model's own collectives (None: a single process)


def init(rank=-1, world=-1, init_method="env://"):
    """Join the gloo process group (torchrun's environment by default) -> (rank, world)."""
    global GROUP
    dist.init_process_group("gloo", init_method=init_method, rank=rank, world_size=world)
    GROUP = dist.new_group(backend="gloo")
    return dist.get_rank(), dist.get_world_size()


def world():
    return dist.get_world_size() if GROUP is not None else 1


def allsum(t):
    """Σ over processes, differentiable (its backward sums the gradients over processes too)."""
    return funcol.all_reduce(t, "sum", GROUP) if world() > 1 else t


def global_moments(x):
    """x (n, C) this process's rows -> mean (C,), biased variance (C,) over all processes'
    rows, and their count N. Two passes, as a single process computes them."""
    n = allsum(torch.tensor(float(len(x)), dtype=x.dtype))
    mean = allsum(x.sum(0)) / n
    return mean, allsum(((x - mean) ** 2).sum(0)) / n, n


def standardize(z, eps=1e-5):
    """BatchNorm1d(affine=False) in training mode over the global batch."""
    mean, var, _ = global_moments(z)
    return (z - mean) / torch.sqrt(var + eps)


class SyncedBatchNorm1d(nn.BatchNorm1d):
    """nn.BatchNorm1d whose training mode normalises with the global batch moments; the
    running statistics get the global mean and unbiased variance (momentum as BatchNorm1d),
    so every process keeps the same buffers."""

    def forward(self, x):
        if not self.training:
            return super().forward(x)
        mean, var, n = global_moments(x)
        with torch.no_grad():
            self.running_mean.lerp_(mean, self.momentum)
            self.running_var.lerp_(var * n / (n - 1), self.momentum)
            self.num_batches_tracked += 1
        return (x - mean) / torch.sqrt(var + self.eps) * self.weight + self.bias


class BarlowTwins(models.BarlowTwins):
    def forward(self, ids1, lengths1, ids2, lengths2):
        """This process's rows of the two views -> (global loss, on_diag, off_diag)."""
        z1 = self.projector(models.Encoder.forward(self, ids1, lengths1))
        z2 = self.projector(models.Encoder.forward(self, ids2, lengths2))
        n = allsum(torch.tensor(float(len(z1)), dtype=z1.dtype))
        return losses.barlow_twins_terms(allsum(standardize(z1).T @ standardize(z2)) / n, self.lambd)


class DualEncoder(models.DualEncoder):
    def forward(self, ids, lengths, targets, log_q=None):
        """This process's users against every process's next items -> (global loss,); log_q: the
        targets' log frequencies (logQ correction) or None."""
        u, e = models.Encoder.forward(self, ids, lengths), self.item_emb(targets)
        pos = torch.arange(len(u))                  # row i's positive column
        if world() > 1:                             # equal slices: process r holds global rows r·n ... r·n + n − 1
            pos = pos + dist.get_rank() * len(u)
            e = funcol.all_gather_single(e, 0, GROUP)           # backward: reduce-scatter, Σ over processes
            targets = funcol.all_gather_single(targets, 0, GROUP)
            log_q = None if log_q is None else funcol.all_gather_single(log_q, 0, GROUP)
        loss = losses.dual_encoder_loss(u, e, targets, self.tau, pos, reduction="sum", log_q=log_q)
        return (allsum(loss) / len(e),)


def encoder_kwargs(enc):
    """tinybt's EncoderConfig -> the port's Encoder(**kwargs)."""
    return {"kind": enc.kind, "n_items": enc.n_items, "dim": enc.dim, "n_layers": enc.n_layers,
            "n_heads": enc.n_heads, "max_len": enc.max_len, "pooling": enc.pooling}


def build_model(cfg, enc, params, buffers, dtype=torch.float32):
    """The port's model for this config, holding tinybt's (numpy) params and buffers."""
    e = encoder_kwargs(enc)
    if cfg.objective == "barlow":
        model = BarlowTwins(e, cfg.projector, cfg.lambd)
        for i, m in enumerate(model.projector):
            if isinstance(m, nn.BatchNorm1d):
                model.projector[i] = SyncedBatchNorm1d(m.num_features)
    else:
        model = DualEncoder(e, cfg.tau)
    model = model.to(dtype)
    model.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in (params | buffers).items()})
    return model


def draw(cfg, seqs, rows, rng, aug, log_q=None):
    """The global batch's examples, exactly as tinybt's trainer draws them (numpy arrays);
    log_q: the dual loss's (V+2,) log target frequencies, or None."""
    if cfg.objective == "barlow":
        (ids1, len1), (ids2, len2) = barlow_views(seqs, rows, rng, aug, cfg.max_len)
        return ids1, len1, ids2, len2
    ids, lengths, targets = next_item_pairs(seqs, rows, rng, cfg.max_len)
    return (ids, lengths, targets) if log_q is None else (ids, lengths, targets, log_q[targets])


def local(examples, rank, world_size):
    """This process's equal share of the global batch's rows, as torch tensors."""
    n = len(examples[0]) // world_size
    return tuple(torch.from_numpy(np.ascontiguousarray(a[rank * n:(rank + 1) * n])) for a in examples)


def tinybt_state(model, opt):
    """(params, buffers, optim state) as tinybt's checkpoint holds them: float32 arrays under
    the state_dict names; Adam's moments and per-parameter step counts (tinybt.optim.Adam)."""
    def np32(t):
        a = t.detach().cpu().numpy()
        return a.astype(np.float32) if a.dtype.kind == "f" else a

    params = {k: np32(p) for k, p in model.named_parameters()}
    buffers = {k: np32(b) for k, b in model.named_buffers()}
    optim = {}
    for k, p in model.named_parameters():
        s = opt.state.get(p)
        if s:
            optim |= {f"step/{k}": np.array(int(s["step"]), np.int64), f"exp_avg/{k}": np32(s["exp_avg"]),
                      f"exp_avg_sq/{k}": np32(s["exp_avg_sq"])}
    return params, buffers, optim


def train(cfg, out, rank, world_size, echo=print):
    """Train on this process's share of every batch; process 0 writes the run folder."""
    cfg.version = __version__
    cfg.validate()
    other = sorted(f.name for f in fields(cfg) if f.name not in HONOURED)
    if other:
        raise TinyBTError(f"config: train_ddp.py does not implement the setting(s) {other} of this tinybt; "
                          "use tinybt train, or teach train_ddp.py the setting")
    if cfg.embedding_grad != "dense":           # torch.optim.AdamW is the dense update only
        raise TinyBTError(f"--embedding-grad: train_ddp.py trains the dense item table only, got {cfg.embedding_grad!r}")
    if cfg.threads is not None:                 # torch's intra-op threads of this process
        torch.set_num_threads(cfg.threads)
    B = cfg.batch_size
    if B % world_size:
        raise TinyBTError(f"batch_size: {B} is not a multiple of the {world_size} processes (each takes B/N rows)")
    out = Path(out)
    if (out / run_dir.CONFIG).exists():         # every process refuses, before process 0 writes anything
        raise TinyBTError(f"--out: {out} already holds a run; pick another folder (train_ddp.py does not resume)")
    if world_size > 1:
        dist.barrier()
    ds, seqs = load_sequences(cfg)
    rows = training_rows(cfg, seqs)
    log_q = training_log_q(cfg, seqs, rows)
    enc = encoder_config(cfg, seqs)
    rng = np.random.default_rng(cfg.seed)          # tinybt's order of draws: init, then the epochs
    model = build_model(cfg, enc, *init_model(cfg, enc, rng))
    # the BatchNorm running stats are identical on every process by construction: no per-step broadcast
    ddp = nn.parallel.DistributedDataParallel(model, forward_sync_buffers=False) if world_size > 1 else model
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    aug = cfg.augment_config()
    held = contextlib.nullcontext()
    if rank == 0:                               # one writer, as with tinybt train (tinybt.run.lock)
        out.mkdir(parents=True, exist_ok=True)
        held = lock.acquire(out, "--out")
        run_dir.create(out, cfg, fingerprint(ds))
    steps, P = len(rows) // B, cfg.projector_dims()[-1]
    total = cfg.epochs * steps
    with held:
        for epoch in range(cfg.epochs):
            t0, sums = time.perf_counter(), {}
            for i, batch in enumerate(epoch_batches(len(rows), B, rng, drop_last=True)):
                loss, *parts = ddp(*local(draw(cfg, seqs, rows[batch], rng, aug, log_q), rank, world_size))
                if not torch.isfinite(loss):
                    raise TinyBTError(f"loss became {float(loss)} at epoch {epoch + 1} step {i + 1}; try a lower --lr")
                opt.zero_grad()
                loss.backward()
                if cfg.grad_clip > 0:
                    nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
                lr = learning_rate(cfg, epoch * steps + i, total)
                for g in opt.param_groups:
                    g["lr"] = lr
                opt.step()
                values = [loss] + ([parts[0], parts[1], parts[0] / P, parts[1] / P] if parts else [])
                for k, v in zip(("loss",) + (BT_PARTS if parts else ()), values):
                    sums[k] = sums.get(k, 0.0) + v.item()
            seconds = time.perf_counter() - t0
            if rank == 0:
                row = {"epoch": epoch + 1} | {k: v / steps for k, v in sums.items()}
                row |= {"lr": float(lr), "steps": steps, "seconds": round(seconds, 3), "processes": world_size,
                        "examples_per_s": round(steps * B / seconds, 1)}
                checkpoint.save(out / run_dir.CHECKPOINT, *tinybt_state(model, opt), rng, epoch + 1, row)
                run_dir.append_metrics(out, row)
                echo(" ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", help="a config.json (tinybt's TrainConfig fields) [default: tinybt's defaults]")
    ap.add_argument("--out", required=True, help="the run folder to create")
    args = ap.parse_args()
    # under torchrun: join its process group; run as a plain script: one process, no group
    rank, world_size = init() if "WORLD_SIZE" in os.environ else (0, 1)
    try:
        try:
            text = Path(args.config).read_text(encoding="utf-8") if args.config else "{}"
        except OSError as e:
            raise TinyBTError(f"--config: cannot read {args.config} ({e.strerror})") from None
        train(TrainConfig.from_json(text, source=args.config or "defaults"), args.out, rank, world_size)
    except TinyBTError as e:
        if rank == 0:
            print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


if __name__ == "__main__":
    main()
