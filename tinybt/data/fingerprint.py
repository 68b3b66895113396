"""What a run was trained on: counts and content hashes of the parsed dataset.

A run's vectors and probe rows mean something only for the data its sequences were
cut from. The run folder records this fingerprint (data.json) when training starts;
embed, probe and --resume compare it with the data they load and refuse to go on
if anything changed, naming what (interactions, users or items).

The hash covers the parsed arrays (not the files' bytes or dates), so a copy of the
same data in another folder, or a re-download, still matches. Integer interaction
columns are hashed as int64 whatever their storage dtype (the loaders keep int32), so
fingerprints recorded before the compact dtypes still match. The parse cache stores a
dataset's fingerprint and `remember`s it on the loaded Dataset: hashing ML-20M takes ~1 s.
"""

import hashlib

import numpy as np

# which arrays of Dataset.arrays() make up each named part
PARTS = {"interactions": ("user", "item", "rating", "timestamp"),
         "users": ("user_keys", "demo/", "demo_names/"),
         "items": ("item_keys", "genre_offsets", "genre_values", "genre_names")}


def _part(key):
    return next((p for p, keys in PARTS.items() if any(key == k or (k.endswith("/") and key.startswith(k))
                                                      for k in keys)), None)


WIDENED = ("user", "item", "timestamp")   # hashed as int64
CHUNK = 1 << 20


def _update(h, key, a):
    if key in WIDENED and a.dtype.kind in "iu":
        h.update(f"{key}:{np.dtype(np.int64).str}:{a.shape};".encode())
        for s in range(0, len(a), CHUNK):          # chunks: no int64 copy of the whole column
            h.update(memoryview(np.ascontiguousarray(a[s:s + CHUNK], np.int64)).cast("B"))
        return
    a = np.ascontiguousarray(a)
    h.update(f"{key}:{a.dtype.str}:{a.shape};".encode())
    h.update(a.tobytes() if a.dtype.kind in "OU" else memoryview(a).cast("B"))


def _state(ds):
    """What a fingerprint depends on: the arrays themselves (by identity) and the small names."""
    arrays = [getattr(ds, k) for k in (*PARTS["interactions"], "user_keys", "item_keys", *PARTS["items"][1:])]
    return arrays + list(ds.demographics.values()), (ds.name, repr(ds.demographic_names))


def remember(ds, fp):
    """Attach the known fingerprint `fp` to `ds`; used only while ds holds these very arrays."""
    ds._fingerprint = (_state(ds), fp)


def _known(ds):
    if not hasattr(ds, "_fingerprint"):
        return None
    (arrays, names), fp = ds._fingerprint
    now, now_names = _state(ds)
    same = names == now_names and len(arrays) == len(now) and all(a is b for a, b in zip(arrays, now))
    return fp if same else None


def fingerprint(ds):
    """{"dataset", "counts": {part: n}, "sha256": {part: hex}} of a Dataset."""
    if (fp := _known(ds)) is not None:
        return fp
    hashes = {p: hashlib.sha256() for p in PARTS}
    for key, a in sorted(ds.arrays().items()):
        part = _part(key)
        if part is not None:
            _update(hashes[part], key, a)
    return {"dataset": ds.name,
            "counts": {"interactions": len(ds.user), "users": ds.n_users, "items": ds.n_items},
            "sha256": {p: h.hexdigest() for p, h in hashes.items()}}


def changes(recorded, current):
    """Human-readable differences between two fingerprints ([] when they match)."""
    if recorded.get("dataset") != current["dataset"]:
        return [f"dataset {recorded.get('dataset')!r} -> {current['dataset']!r}"]
    out = []
    for part in PARTS:
        was, now = recorded.get("counts", {}).get(part), current["counts"][part]
        if was != now:
            out.append(f"{part} {was:,} -> {now:,}" if isinstance(was, int) else f"{part} (not recorded)")
        elif recorded.get("sha256", {}).get(part) != current["sha256"][part]:
            out.append(f"{part} (same count {now:,}, different contents)")
    return out
