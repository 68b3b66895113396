"""User vectors from a trained run: `tinybt embed RUN_DIR --out FILE`.

The vector of a user is the encoder's output (dimension D = --dim) on the last
max_len items of their history — the encoder only, never the projector. The
encoder has no dropout or batch statistics, so evaluation mode needs nothing
special. Rows follow the run's sequences: every user that passed the
minimum-interaction filter, in dataset order; the .csv carries the original
user ids from the dataset files. The data is checked against the fingerprint the
run recorded (data.json), so changed files are an error, not silently other vectors.
"""

from pathlib import Path

import numpy as np

from tinybt.atomic import atomic_open, check_writable
from tinybt.data.fingerprint import fingerprint
from tinybt.errors import TinyBTError
from tinybt.models.encode import encode_users
from tinybt.run import checkpoint, run_dir
from tinybt.train.trainer import encoder_config, load_sequences


def load_run(path):
    """-> (cfg, ds, seqs, enc, params) of a run folder's last checkpoint."""
    path = Path(path)
    cfg = run_dir.load_config(path, flag="RUN_DIR")
    params, _, _, _, _ = checkpoint.load(path / run_dir.CHECKPOINT)
    ds, seqs = load_sequences(cfg)
    run_dir.check_data(path, fingerprint(ds))
    return cfg, ds, seqs, encoder_config(cfg, seqs), params


def embed(path, out):
    """Write every user's vector of run `path` to `out` (.npy or .csv), atomically."""
    out = Path(out)
    if out.suffix not in (".npy", ".csv"):
        raise TinyBTError(f"--out: expected a file ending in .npy or .csv, got {out}")
    check_writable(out, "--out")
    _, ds, seqs, enc, params = load_run(path)
    U = encode_users(params, enc, seqs)
    with atomic_open(out) as f:
        if out.suffix == ".npy":
            np.save(f, U)
        else:
            header = ",".join(["user_id"] + [f"d{j}" for j in range(U.shape[1])])
            keys = ds.user_keys[seqs.users].astype(str)
            table = np.column_stack([keys, np.char.mod("%.9g", U)])
            np.savetxt(f, table, fmt="%s", delimiter=",", header=header, comments="")
    return U.shape
