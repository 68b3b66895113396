"""Byte-string ids -> dense int32 codes, chunk by chunk, holding each distinct id once.

Yelp's review.json names 2 M users and 150 k businesses across 7 M lines. Gathering every
row's id and sorting them all at the end holds 7 M x 22 bytes per column plus np.unique's
copies (3 GB peak measured for the whole load); an `Interner` keeps only the distinct ids,
sorted, and gives each row the code of its id's first appearance. `finish` then says
which sorted position each code has, so the caller can renumber its rows to sorted order.
"""

import numpy as np


class Interner:
    def __init__(self):
        self.keys = np.zeros(0, "S1")          # the distinct ids seen so far, sorted
        self.codes = np.zeros(0, np.int32)     # each one's code (order of first appearance)

    def add(self, raw):
        """Codes (int32) of the ids `raw` ('S' array) and the index in `raw` of each new id's first use."""
        u, first, inverse = np.unique(raw, return_index=True, return_inverse=True)
        if u.dtype.itemsize > self.keys.dtype.itemsize:
            self.keys = self.keys.astype(u.dtype)
        u = u.astype(self.keys.dtype)
        pos = np.searchsorted(self.keys, u)
        found = pos < len(self.keys)
        found[found] = self.keys[pos[found]] == u[found]
        new = ~found
        code = np.empty(len(u), np.int32)
        code[found] = self.codes[pos[found]]
        code[new] = len(self.codes) + np.arange(np.count_nonzero(new), dtype=np.int32)
        self.keys = np.insert(self.keys, pos[new], u[new])     # before pos: the keys stay sorted
        self.codes = np.insert(self.codes, pos[new], code[new])
        return code[inverse.ravel()], first[new]

    def finish(self):
        """(sorted distinct ids, rank): rank[code] is the sorted position of the id with that code."""
        rank = np.empty(len(self.codes), np.int32)
        rank[self.codes] = np.arange(len(self.codes), dtype=np.int32)
        return self.keys, rank
