"""What a run was trained on: counts and content hashes of the parsed dataset.

A run's vectors and probe rows mean something only for the data its sequences were
cut from. The run folder records this fingerprint (data.json) when training starts;
embed, probe and --resume compare it with the data they load and refuse to go on
if anything changed, naming what (interactions, users or items).

The hash covers the parsed arrays (not the files' bytes or dates), so a copy of the
same data in another folder, or a re-download, still matches.
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


def fingerprint(ds):
    """{"dataset", "counts": {part: n}, "sha256": {part: hex}} of a Dataset."""
    hashes = {p: hashlib.sha256() for p in PARTS}
    for key, a in sorted(ds.arrays().items()):
        part = _part(key)
        if part is None:
            continue
        a = np.ascontiguousarray(a)
        hashes[part].update(f"{key}:{a.dtype.str}:{a.shape};".encode())
        hashes[part].update(a.tobytes() if a.dtype.kind in "OU" else memoryview(a).cast("B"))
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
