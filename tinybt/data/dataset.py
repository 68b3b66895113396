"""The in-memory dataset every loader yields (and the parsed cache stores).

Plain arrays, no Python object per row. Users and items are *dense indices*
(0..U-1, 0..I-1) into `user_keys` / `item_keys`, which hold the ids of the
source files (int64, or str for Yelp). The loaders store the interactions in
compact dtypes (16 bytes a row); loaded from the parse cache the arrays are
read-only memory maps, so code below must not write into them. The sequence builder later re-indexes
items to 1..V (0 = padding, V+1 = [MASK]); this file knows nothing of that.
"""

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Dataset:
    name: str
    user: np.ndarray          # (n,) int32 dense user index (int64 accepted)
    item: np.ndarray          # (n,) int32 dense item index (int64 accepted)
    rating: np.ndarray        # (n,) float32 (Yelp stars, MovieLens 1-5)
    timestamp: np.ndarray     # (n,) int64 seconds since the epoch
    user_keys: np.ndarray     # (U,) original user ids
    item_keys: np.ndarray     # (I,) original item ids
    genre_offsets: np.ndarray  # (I+1,) int64: item i's genres are genre_values[off[i]:off[i+1]]
    genre_values: np.ndarray   # (nnz,) int32 indices into genre_names
    genre_names: np.ndarray    # (G,) str
    # Per-user categorical attributes, e.g. "gender", "age", "occupation":
    # int8/int16 (U,) class index, -1 = unknown; class names in demographic_names.
    demographics: dict = field(default_factory=dict)
    demographic_names: dict = field(default_factory=dict)

    @property
    def n_users(self):
        return len(self.user_keys)

    @property
    def n_items(self):
        return len(self.item_keys)

    def item_genres(self, i):
        return self.genre_values[self.genre_offsets[i]:self.genre_offsets[i + 1]]

    def arrays(self):
        """Flat name -> array mapping (what the parse cache stores, one .npy each)."""
        out = {k: getattr(self, k) for k in (
            "user", "item", "rating", "timestamp", "user_keys", "item_keys",
            "genre_offsets", "genre_values", "genre_names")}
        out["name"] = np.array(self.name)
        for k, v in self.demographics.items():
            out[f"demo/{k}"] = v
            out[f"demo_names/{k}"] = np.asarray(self.demographic_names[k], dtype=str)
        return out

    @classmethod
    def from_arrays(cls, a):
        demo = {k[5:]: a[k] for k in a if k.startswith("demo/")}
        names = {k: [str(s) for s in a[f"demo_names/{k}"]] for k in demo}
        return cls(name=str(a["name"]), user=a["user"], item=a["item"], rating=a["rating"],
                   timestamp=a["timestamp"], user_keys=a["user_keys"], item_keys=a["item_keys"],
                   genre_offsets=a["genre_offsets"], genre_values=a["genre_values"],
                   genre_names=a["genre_names"], demographics=demo, demographic_names=names)
