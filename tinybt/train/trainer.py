"""The training loop: `train(cfg, out)` makes a run folder, `train(resume=dir)` continues one.

One epoch = one seeded shuffle of the train users into full batches (the last
partial batch is dropped: BatchNorm and the in-batch softmax want equal-sized
batches). Per step: draw the batch's examples (examples.py), forward, hand-written
backward, optional global-norm clipping, Adam/AdamW at the warm-up + cosine
learning rate. After every epoch: one line in metrics.jsonl, then checkpoint.npz
(atomically). A resumed run reloads parameters, BatchNorm buffers, optimiser
moments and the RNG state of the last finished epoch and repeats the epoch that
was cut short from its start, so it ends bit-identical to an uninterrupted run
(with the same --threads: the parallel reductions of the Numba kernels split
their sums by thread count, so another count may change the last bits).

A non-finite loss or gradient, or non-finite parameters or optimiser state at the
end of an epoch, stop the run with TinyBTError; the checkpoint on disk is the last
good one (checkpoints are only written after finite epochs).

The run folder is locked (lock.py) from setup to the end of train, and records the
fingerprint of the data (data.json) that --resume, embed and probe check.
"""

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from tinybt import __version__
from tinybt.atomic import check_folder
from tinybt.data.batching import epoch_batches
from tinybt.data.fingerprint import fingerprint
from tinybt.data.views import barlow_views, history_lengths, next_item_log_q, next_item_pairs
from tinybt.errors import TinyBTError
from tinybt.losses.barlow import LossInputError
from tinybt.models.barlow_model import barlow_backward, barlow_forward, barlow_init
from tinybt.models.dual_model import dual_backward, dual_forward, dual_init
from tinybt.models.encoder import EncoderConfig
from tinybt.nn.embedding import embedding_grad, grad_array
from tinybt.optim import Adam, AdamW
from tinybt.optim.clip import clip_grad_norm
from tinybt.optim.schedule import warmup_cosine
from tinybt.progress import PLAIN_EVERY, Progress, duration, is_terminal
from tinybt.run import checkpoint, lock, memory, run_dir
from tinybt.run.config import TrainConfig, use_threads
from tinybt.train import diagnostics, plots

BT_PARTS = ("on_diag", "off_diag", "on_diag_per_p", "off_diag_per_p")


def load_sequences(cfg):
    """The dataset and its user sequences exactly as this config cuts them."""
    from tinybt.data.load import load_dataset
    from tinybt.data.sequences import build_sequences

    ds = load_dataset(cfg.dataset, data_dir=cfg.data_dir)
    return ds, build_sequences(ds, cfg.max_len, cfg.min_interactions, cfg.split_seed)


def encoder_config(cfg, seqs):
    return EncoderConfig(cfg.encoder, seqs.n_items, cfg.dim, cfg.layers, cfg.heads, cfg.max_len, cfg.pooling)


def init_model(cfg, enc, rng):
    """-> (params, buffers) in float32."""
    if cfg.objective == "barlow":
        return barlow_init(rng, enc, cfg.projector_dims(), np.float32)
    return dual_init(rng, enc, np.float32)


@dataclass
class Run:
    """Everything a training step reads or changes."""
    cfg: TrainConfig
    path: Path
    seqs: object
    enc: EncoderConfig
    rows: np.ndarray          # the users this objective draws from (cfg.pretrain_users)
    params: dict
    buffers: dict
    opt: Adam
    rng: np.random.Generator
    aug: object               # AugmentConfig (Barlow Twins views)
    log_q: np.ndarray | None  # (V+2,) log target frequency for the dual loss's logQ correction, or None
    epoch: int = 0            # finished epochs
    lock: object = None       # lock.RunLock on the run folder, held until train() returns
    memory: str = ""          # the memory estimate (run/memory.py), shown at the start
    steady_epoch: float | None = None   # an epoch's step seconds from the last one's second half (ETA)

    @property
    def steps_per_epoch(self):
        return len(self.rows) // self.cfg.batch_size


def make_optimizer(cfg):
    """AdamW at the config's peak lr (weight decay 0 by default: plain Adam)."""
    return AdamW(lr=cfg.lr, weight_decay=cfg.weight_decay)


def learning_rate(cfg, step, total):
    """The lr of optimiser step `step` (0-based) of a run of `total` steps: linear warm-up over
    the first int(warmup·total) steps, then cosine from the peak cfg.lr down to cfg.min_lr."""
    return warmup_cosine(step, total, int(cfg.warmup * total), cfg.lr, cfg.min_lr)


def optimizer_step(cfg, opt, params, grads, lr):
    """The update every step makes: global-norm clipping (if --grad-clip), then AdamW at lr."""
    if cfg.grad_clip > 0:
        clip_grad_norm(grads, cfg.grad_clip)
    opt.step(params, grads, lr=lr)


def barlow_step(run, rows):
    """Forward pass on two fresh views of the batch -> (loss, its BT parts, cache for barlow_backward)."""
    views = barlow_views(run.seqs, rows, run.rng, run.aug, run.cfg.max_len)
    res, cache = barlow_forward(run.params, run.buffers, views, run.cfg.lambd, run.enc)
    return float(res.loss), {k: float(getattr(res, k)) for k in BT_PARTS}, cache


def dual_step(run, rows):
    """Forward pass on (history prefix, next item) pairs -> (loss, {}, cache for dual_backward)."""
    ids, lengths, targets = next_item_pairs(run.seqs, rows, run.rng, run.cfg.max_len)
    log_q = None if run.log_q is None else run.log_q[targets]
    loss, cache = dual_forward(run.params, ids, lengths, targets, run.cfg.tau, run.enc, log_q)
    return float(loss), {}, cache


def run_epoch(run, progress=True):
    """One epoch; returns its metrics row. Raises TinyBTError on a non-finite loss, gradient,
    parameter or optimiser state."""
    cfg, guard = run.cfg, _Guard(run)
    forward, backward = (barlow_step, barlow_backward) if cfg.objective == "barlow" else (dual_step, dual_backward)
    n_steps, meter = run.steps_per_epoch, _Meter(cfg, progress, run.epoch + 1, run.steps_per_epoch)
    for i, batch in enumerate(epoch_batches(len(run.rows), cfg.batch_size, run.rng, drop_last=True)):
        guard.step = i + 1
        loss, parts, cache = guard.forward(forward, run, run.rows[batch])
        with embedding_grad(cfg.embedding_grad):             # sparse: item_emb's grad is a RowGrad
            _, grads = backward(1.0, cache)                  # ∂loss/∂params, from dloss = 1
        lr = learning_rate(cfg, run.epoch * n_steps + i, cfg.epochs * n_steps)
        optimizer_step(cfg, run.opt, run.params, guard.finite(grads), lr)
        meter.add(loss, parts, lr)
    guard.after_epoch()
    run.steady_epoch = meter.steady()
    return meter.row()


class _Guard:
    """The checks around a step: a non-finite loss, gradient, parameter or optimiser state
    stops the run with one line saying where, and that the last good checkpoint is kept."""

    def __init__(self, run):
        self.run, self.step = run, 0

    def error(self, what):
        ck = self.run.path / run_dir.CHECKPOINT
        kept = (f"last good checkpoint kept at {ck}" if ck.exists()
                else "no checkpoint yet (it happened in the first epoch)")
        return TinyBTError(f"{what} at epoch {self.run.epoch + 1} step {self.step}; {kept}; try a lower --lr "
                           "(or a less extreme --lambd / --tau)")

    def forward(self, step_fn, run, rows):
        try:
            loss, parts, cache = step_fn(run, rows)
        except LossInputError as err:           # NaN/Inf reached the projector output
            raise self.error(f"the model output became non-finite ({err})") from None
        if not np.isfinite(loss):
            raise self.error(f"loss became {loss}")
        return loss, parts, cache

    def finite(self, grads):
        if not all(np.isfinite(grad_array(g)).all() for g in grads.values()):
            raise self.error("gradients became non-finite")
        return grads

    def after_epoch(self):
        if not all(np.isfinite(p).all() for p in self.run.params.values()):
            raise self.error("parameters became non-finite")
        if not all(np.isfinite(v).all() for v in self.run.opt.state_dict().values()):
            raise self.error("the optimiser state (Adam moments) became non-finite")


class _Meter:
    """The epoch's running means, its step bar and its metrics row."""

    def __init__(self, cfg, progress, epoch, n_steps):
        self.cfg, self.epoch, self.n = cfg, epoch, n_steps
        self.loss, self.lr = 0.0, cfg.lr
        self.sums = dict.fromkeys(BT_PARTS if cfg.objective == "barlow" else (), 0.0)
        # the epoch line replaces the step bar; in a log that line suffices unless the epoch
        # outlasts PLAIN_EVERY, while a terminal redraws the bar in place from the first step
        self.bar = Progress(n_steps, f"epoch {epoch}/{cfg.epochs}", show=progress, transient=True,
                            delay=0.0 if is_terminal(sys.stderr) else PLAIN_EVERY)
        self.t0 = self.t_half = time.perf_counter()
        self.done = 0

    def add(self, loss, parts, lr):
        self.loss, self.lr = self.loss + loss, lr
        for k, v in parts.items():
            self.sums[k] += v
        self.bar.update(1, _status(loss, parts))
        self.done += 1
        if self.done == self.n // 2:
            self.t_half = time.perf_counter()

    def steady(self):
        """The epoch's step time extrapolated from its second half: the first steps of a cold
        process include Numba's compilation, which no later epoch pays."""
        rest = self.done - self.n // 2
        return (time.perf_counter() - self.t_half) * self.done / rest if rest > 0 else None

    def row(self):
        self.bar.close()
        seconds = time.perf_counter() - self.t0
        row = {"epoch": self.epoch, "loss": self.loss / self.n} | {k: v / self.n for k, v in self.sums.items()}
        return row | {"lr": float(self.lr), "steps": self.n, "seconds": round(seconds, 3),
                      "examples_per_s": round(self.n * self.cfg.batch_size / seconds, 1)}


def _status(loss, parts):
    s = f"loss {loss:.4g}"
    if parts:
        s += f"  on/P {parts['on_diag_per_p']:.3g}  off/P {parts['off_diag_per_p']:.3g}"
    return s


def time_left(times, remaining, steady=None):
    """Seconds the `remaining` epochs should take: the mean of the epoch times so far, leaving out
    the first once there are others (it carries the Numba compilation of a cold cache). After the
    first alone, its `steady` estimate (`_Meter.steady`) when that is shorter."""
    if len(times) == 1 and steady is not None:
        return min(times[0], steady) * remaining
    return float(np.mean(times[1:] or times)) * remaining


def epoch_line(row, epochs, eta):
    """The screen's line for a finished epoch, within 100 columns: the numbers worth watching
    (the loss, BT's on/off-diagonal parts per projector dimension, the effective rank, time),
    and `eta`, the seconds the remaining epochs should take. metrics.jsonl has the whole row."""
    parts = [f"epoch {row['epoch']}/{epochs}", f"loss {row['loss']:.4g}"]
    if "on_diag_per_p" in row:
        parts += [f"on/P {row['on_diag_per_p']:.3g}", f"off/P {row['off_diag_per_p']:.3g}"]
    s = row["seconds"]
    parts += [f"eff_rank {row['eff_rank']:.4g}", f"{s:.1f}s" if s < 60 else duration(s), f"ETA {duration(eta)}"]
    return "  ".join(parts)


def training_rows(cfg, seqs):
    """The users this run pretrains on. "all": every user's history (never a future window or a
    label), the few-labels setting; "train": the train split only (held-out users)."""
    rows = np.arange(seqs.n_users) if cfg.pretrain_users == "all" else seqs.rows("train")
    if cfg.objective == "dual":
        rows = rows[history_lengths(seqs, rows) >= 2]      # a next-item pair needs two items
    if len(rows) < cfg.batch_size:
        raise TinyBTError(f"--batch-size: {cfg.batch_size} is more than the {len(rows)} training users "
                          f"of {cfg.dataset!r}; use a smaller batch")
    return rows


def training_log_q(cfg, seqs, rows):
    """(V+2,) log target frequencies for the dual loss's logQ correction, or None (BT, or the
    correction off)."""
    if cfg.objective == "dual" and cfg.sampling_correction == "logq":
        return next_item_log_q(seqs, rows)
    return None


def setup(cfg=None, out=None, resume=None, threads=None):
    """A Run ready to train: fresh (cfg, out) or continued from a run folder (resume)."""
    if resume is not None:
        path = Path(resume)
        cfg = run_dir.load_config(path)
        if threads is not None:                 # a machine setting, not part of the maths
            cfg.threads = threads
    else:
        cfg.version = __version__
        path = Path(out) if out is not None else None
        check_folder(path or "runs", "--out")   # an unwritable --out fails before any work
    cfg.validate()
    use_threads(cfg.threads)

    ds, seqs = load_sequences(cfg)
    data = fingerprint(ds)
    if resume is not None:
        run_dir.check_data(path, data)
    rows = training_rows(cfg, seqs)
    enc = encoder_config(cfg, seqs)
    memory_note = memory.check(cfg, seqs.n_items, len(ds.user))
    rng = np.random.default_rng(cfg.seed)
    params, buffers = init_model(cfg, enc, rng)
    opt = make_optimizer(cfg)
    run = Run(cfg, path, seqs, enc, rows, params, buffers, opt, rng, cfg.augment_config(),
              training_log_q(cfg, seqs, rows), memory=memory_note)

    if resume is None:
        run.path = path = run_dir.make_folder(path, cfg)
    run.lock = lock.acquire(path, "--out" if resume is None else "--resume")
    with run.lock.released_on_error():
        if resume is None:
            run_dir.create(path, cfg, data)
        elif (path / run_dir.CHECKPOINT).exists():
            _restore(run)
        elif finished := run_dir.read_metrics(path):
            raise TinyBTError(f"{path / run_dir.CHECKPOINT}: missing, but {path / run_dir.METRICS} records "
                              f"{len(finished)} finished epoch(s): the checkpoint was "
                              "deleted; restore it, or delete metrics.jsonl to train again from epoch 1")
        else:                                   # killed before the first checkpoint: start over
            run_dir.write_metrics(path, [])
    return run


def _restore(run):
    ck = run.path / run_dir.CHECKPOINT
    params, buffers, opt_state, rng, epoch = checkpoint.load(ck)
    for fresh, saved in ((run.params, params), (run.buffers, buffers)):
        bad = sorted(k for k in fresh.keys() | saved.keys()
                     if k not in fresh or k not in saved or fresh[k].shape != saved[k].shape
                     or fresh[k].dtype != saved[k].dtype)
        if bad:
            raise TinyBTError(f"{ck}: does not match {run.path / run_dir.CONFIG} (tensors {bad[:3]})")
    try:
        run.opt.load_state_dict(opt_state)
    except ValueError as e:
        raise TinyBTError(f"{ck}: optimiser state does not match the model ({e})") from None
    run.params, run.buffers, run.rng, run.epoch = params, buffers, rng, epoch
    # drop metric lines of an epoch that ended after the checkpoint was taken; restore the
    # checkpoint's own line if the process died before writing it to metrics.jsonl
    rows = [r for r in run_dir.read_metrics(run.path) if r["epoch"] <= epoch]
    saved_row = checkpoint.metrics_row(ck)
    if saved_row is not None and (not rows or rows[-1]["epoch"] < epoch):
        rows.append(saved_row)
    run_dir.write_metrics(run.path, rows)


def train(cfg=None, out=None, resume=None, threads=None, progress=True, echo=None):
    """Train (or continue) a run; returns its folder."""
    run = setup(cfg, out, resume, threads)
    echo = echo or (lambda s: print(s, file=sys.stderr))
    diag_rows, final = diagnostics.sample_rows(run.seqs.rows("val"), run.cfg.seed), None
    if progress:
        echo(run.memory)
    times = []                                  # wall seconds of this call's epochs, for the ETA
    with run.lock:                               # released on return and on error; the OS drops it on a crash
        while run.epoch < run.cfg.epochs:
            t0 = time.perf_counter()
            # one BLAS thread: a second one waits for a core Numba's threads hold (benchmarks/bench_step.py)
            with threadpool_limits(1, user_api="blas"):
                row = run_epoch(run, progress)
                diag, final = diagnostics.measure(run, diag_rows, run.cfg.seed)
            row |= diag
            run.epoch += 1
            # checkpoint first: it carries this epoch's metrics line, so a crash between the
            # two writes never leaves a metrics line without its checkpoint
            checkpoint.save(run.path / run_dir.CHECKPOINT, run.params, run.buffers, run.opt.state_dict(),
                            run.rng, run.epoch, row)
            run_dir.append_metrics(run.path, row)
            if progress:
                times.append(time.perf_counter() - t0)
                eta = time_left(times, run.cfg.epochs - run.epoch, run.steady_epoch)
                echo(epoch_line(row, run.cfg.epochs, eta))
        if final is not None:                   # this call trained at least one epoch
            for f in plots.write_diagnostics(run.path, run_dir.read_metrics(run.path), final):
                if progress:
                    echo(f"diagnostics: {f}")
    return run.path
