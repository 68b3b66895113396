"""User vectors for many users at once: the encoder in inference batches."""

import numpy as np

from tinybt.data.batching import pad_batch
from tinybt.models.encoder import encoder_forward
from tinybt.progress import DELAY, Progress


def encode_users(params, enc, seqs, rows=None, batch_size=512):
    """rows (U,) of seqs (default all) -> user vectors (U, D) in the params' dtype."""
    rows = np.arange(seqs.n_users) if rows is None else np.asarray(rows)
    out = []
    # a bar only past DELAY seconds: the diagnostics' sample after each epoch takes far less
    with Progress(len(rows), f"embed {len(rows):,} users", delay=DELAY) as bar:
        for i in range(0, len(rows), batch_size):
            ids, lengths = pad_batch(seqs.hist_values, seqs.hist_offsets, rows[i:i + batch_size], enc.max_len)
            u, _ = encoder_forward(ids, lengths, params, enc)
            out.append(u)
            bar.update(len(u))
    D = params["item_emb.weight"].shape[1]
    return np.concatenate(out) if out else np.zeros((0, D), params["item_emb.weight"].dtype)
