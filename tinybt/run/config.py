"""Every setting of a training run, validated once, saved as the run's config.json.

The CLI flags map one to one onto these fields (`--batch-size` -> batch_size).
A resumed run reads config.json back, so this file is the whole recipe of a run:
with the same config (seeds included) training is bit-identical, run after run.

Defaults are our documented choice (the paper's sizes are unknown), tuned on
validation users (docs/tuning.md): ML-1M-sized data (6040 users, ~165
interactions each) trains in 1-5 minutes on two cores, `--dataset synthetic` in
about 20 seconds.
"""

import json
import math
import typing
import warnings
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from tinybt.errors import TinyBTError

PRETRAIN_USERS = ("all", "train")
LR = 3e-2             # the peak lr tuned at batch LR_BATCH on validation users (docs/tuning.md)
LR_BATCH = 128


def default_lr(batch_size):
    """LR·√(B/LR_BATCH): smaller batches take more, noisier steps, so each is smaller (the
    square-root rule for Adam); validated at B = 16, 64, 256 in docs/tuning.md."""
    return LR * math.sqrt(batch_size / LR_BATCH)


@dataclass
class TrainConfig:
    dataset: str = "synthetic"
    data_dir: str | None = None
    objective: str = "barlow"          # barlow | dual
    encoder: str = "gru"               # gru | transformer
    epochs: int = 30
    batch_size: int = 128
    max_len: int | str = 50            # the encoder sees the last max_len history items; "all": the longest history
    dim: int = 64                      # D: item embedding size = user vector size
    layers: int = 2                    # transformer blocks (the GRU has one layer)
    heads: int = 2                     # attention heads; must divide dim
    pooling: str = "mean"              # GRU user vector: mean of the states | last hidden state; docs/tuning.md
    projector: str = "256-256-256"     # Barlow Twins projector widths (P = the last one)
    lambd: float = 0.005               # off-diagonal weight, ~1/P as in the BT paper
    tau: float = 0.1                   # dual-encoder softmax temperature
    sampling_correction: str = "logq"  # dual encoder: logq (subtract log target frequency) | none; docs/tuning.md
    lr: float | None = None            # peak learning rate (after warm-up); None: default_lr(batch_size)
    min_lr: float = 0.0                # cosine floor
    warmup: float = 0.05               # fraction of all steps spent warming up linearly
    weight_decay: float = 0.0          # decoupled (AdamW); 0 = plain Adam
    grad_clip: float = 0.0             # global-norm clip; 0 = off
    embedding_grad: str = "dense"      # item table: dense gradient + Adam | sparse: its touched rows + lazy Adam (optim/adam.py)
    augment: str = "crop:0.6,mask:0.3,reorder:0.6"
    seed: int = 0                      # init, shuffling, augmentations, cut points
    split_seed: int = 0                # train/val/test user split (independent of seed)
    min_interactions: int = 5
    pretrain_users: str = "all"        # all: every user's history (never a future or label) | train: train users only
    threads: int | None = None         # numba threads; not part of the maths
    version: str = ""                  # tinybt.__version__ that wrote the run

    def projector_dims(self):
        """"256-256-256" -> [256, 256, 256] (validated)."""
        return parse_projector(self.projector)

    def validate(self, saved=False):
        """Raise TinyBTError naming the first bad flag; return self.

        Makes data_dir absolute (the run must find its data from any folder). saved: the
        config comes from a run folder, where threads is this machine's business: a count
        above this machine's cores is lowered to them (with a warning), not refused.
        """
        def need(ok, flag, msg):
            if not ok:
                raise TinyBTError(f"{flag}: {msg}")

        from tinybt.data.registry import NAMES

        need(self.dataset in NAMES, "--dataset", f"expected one of {', '.join(NAMES)}, got {self.dataset!r}")
        need(self.dataset != "synthetic" or self.data_dir is None, "--data-dir",
             "the synthetic dataset is generated, not read from files; drop --data-dir")
        if self.data_dir is not None:
            self.data_dir = str(Path(self.data_dir).expanduser().absolute())
        need(self.objective in ("barlow", "dual"), "--objective", f"expected barlow or dual, got {self.objective!r}")
        need(self.encoder in ("gru", "transformer"), "--encoder", f"expected gru or transformer, got {self.encoder!r}")
        need(self.pooling in ("last", "mean"), "--pooling", f"expected last or mean, got {self.pooling!r}")
        need(self.epochs >= 1, "--epochs", f"must be at least 1, got {self.epochs}")
        # BT standardises each feature over the batch; the dual loss needs in-batch negatives
        need(self.batch_size >= 2, "--batch-size",
             f"must be at least 2 ({'batch statistics' if self.objective == 'barlow' else 'in-batch negatives'}"
             f" need two users), got {self.batch_size}")
        need(self.max_len == "all" or _is(self.max_len, int) and self.max_len >= 1, "--max-len",
             f"expected an integer >= 1 or all, got {self.max_len!r}")
        need(self.dim >= 1, "--dim", f"must be at least 1, got {self.dim}")
        need(self.layers >= 1, "--layers", f"must be at least 1, got {self.layers}")
        need(self.heads >= 1, "--heads", f"must be at least 1, got {self.heads}")
        if self.encoder == "transformer":
            need(self.dim % self.heads == 0, "--heads", f"must divide --dim {self.dim}, got {self.heads}")
        self.projector_dims()
        need(math.isfinite(self.lambd) and self.lambd >= 0, "--lambd", f"must be >= 0, got {self.lambd}")
        need(math.isfinite(self.tau) and self.tau > 0, "--tau", f"must be > 0, got {self.tau}")
        need(self.sampling_correction in ("logq", "none"), "--sampling-correction",
             f"expected logq or none, got {self.sampling_correction!r}")
        if self.lr is None:                     # resolved once: config.json records the number used
            self.lr = default_lr(self.batch_size)
        need(math.isfinite(self.lr) and self.lr > 0, "--lr", f"must be > 0, got {self.lr}")
        need(0 <= self.min_lr <= self.lr, "--min-lr", f"must lie in [0, --lr], got {self.min_lr}")
        need(0 <= self.warmup < 1, "--warmup", f"must be a fraction in [0, 1), got {self.warmup}")
        need(math.isfinite(self.weight_decay) and self.weight_decay >= 0, "--weight-decay",
             f"must be >= 0, got {self.weight_decay}")
        need(math.isfinite(self.grad_clip) and self.grad_clip >= 0, "--grad-clip", f"must be >= 0, got {self.grad_clip}")
        need(self.embedding_grad in ("dense", "sparse"), "--embedding-grad",
             f"expected dense or sparse, got {self.embedding_grad!r}")
        need(self.pretrain_users in PRETRAIN_USERS, "--pretrain-users",
             f"expected all or train, got {self.pretrain_users!r}")
        need(self.min_interactions >= 2, "--min-interactions", f"must be at least 2, got {self.min_interactions}")
        need(self.seed >= 0, "--seed", f"must be >= 0, got {self.seed}")
        need(self.split_seed >= 0, "--split-seed", f"must be >= 0, got {self.split_seed}")
        if self.max_len == "all":               # resolved once, like the lr: config.json records the number
            self.max_len = longest_history(self)
        if self.threads is not None:
            top = machine_threads()
            if saved and self.threads > top:
                warnings.warn(f"the run used {self.threads} threads, this machine has {top}: using {top} "
                              "(results may differ in the last bits)", stacklevel=2)
                self.threads = top
            need(1 <= self.threads <= top, "--threads", f"must lie in [1, {top}], got {self.threads}")
        self.augment_config()
        return self

    def augment_config(self):
        from tinybt.data.augment import AugmentConfig

        try:
            return AugmentConfig.parse(self.augment)
        except (ValueError, TinyBTError) as e:
            raise TinyBTError(f"--augment: {e}") from None

    def to_json(self):
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text, source="config.json"):
        try:
            d = json.loads(text)
        except json.JSONDecodeError as e:
            raise TinyBTError(f"{source}: not valid JSON ({e})") from None
        types = {f.name: f.type for f in fields(cls)}
        if not isinstance(d, dict) or set(d) - set(types):
            extra = sorted(set(d) - set(types)) if isinstance(d, dict) else d
            raise TinyBTError(f"{source}: unexpected settings {extra}")
        for k, v in d.items():
            allowed = typing.get_args(types[k]) or (types[k],)
            if not any(_is(v, t) for t in allowed):
                names = " or ".join(_TYPE_NAMES[t] for t in allowed)
                raise TinyBTError(f"{source}: \"{k}\" must be {names}, got {json.dumps(v)}")
            if types[k] is float:
                d[k] = float(v)
        # runs written before these fields existed: the GRU's last state, pretraining on train
        # users, the dual loss without logQ correction
        return cls(**({"pooling": "last", "pretrain_users": "train", "sampling_correction": "none"} | d))


_TYPE_NAMES = {int: "an integer", float: "a number", str: "a string", type(None): "null"}


def _is(value, t):
    """JSON value `value` has field type t (an int is a number; a bool is neither)."""
    if isinstance(value, bool):
        return False
    return isinstance(value, (int, float) if t is float else t)


def longest_history(cfg):
    """The most history items any user of cfg's data has, after its filter and history cut."""
    from tinybt.data.load import load_dataset
    from tinybt.data.sequences import build_sequences

    seqs = build_sequences(load_dataset(cfg.dataset, data_dir=cfg.data_dir), 1, cfg.min_interactions,
                           cfg.split_seed)
    return int((seqs.seen_offsets[1:] - seqs.seen_offsets[:-1]).max())   # seen = the whole history


def machine_threads():
    """The most Numba threads this machine runs."""
    import numba

    return numba.config.NUMBA_NUM_THREADS


def use_threads(threads):
    """Set Numba's thread count from a --threads flag (None: leave all cores)."""
    if threads is None:
        return
    top = machine_threads()
    if not 1 <= threads <= top:
        raise TinyBTError(f"--threads: must lie in [1, {top}], got {threads}")
    import numba

    numba.set_num_threads(threads)


def parse_projector(text):
    """'256-256-256' -> [256, 256, 256]; one or more positive widths joined by '-'."""
    try:
        dims = [int(p) for p in str(text).split("-")]
    except ValueError:
        dims = []
    if not dims or min(dims) < 1:
        raise TinyBTError(f"--projector: expected widths like 256-256-256, got {text!r}")
    return dims
