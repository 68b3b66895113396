"""Interner: ids added chunk by chunk get the codes np.unique over all of them would give."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tinybt.data.intern import Interner


@settings(max_examples=80, deadline=None)
@given(st.lists(st.lists(st.binary(min_size=1, max_size=5).filter(lambda b: not b.endswith(b"\0")),
                         max_size=12), max_size=6))
def test_chunked_codes_renumbered_equal_unique(chunks):
    interner, codes, seen = Interner(), [], set()
    for chunk in chunks:
        raw = np.array(chunk, dtype=bytes) if chunk else np.zeros(0, "S1")
        code, first = interner.add(raw)
        assert code.dtype == np.int32
        new = [b for k, b in enumerate(chunk) if b not in seen and b not in chunk[:k]]
        assert [chunk[k] for k in first] == sorted(new)       # first use of each new id, by id
        seen.update(chunk)
        codes.append(code)
    keys, rank = interner.finish()
    flat = [b for c in chunks for b in c]
    assert list(keys) == sorted(set(flat))
    got = rank[np.concatenate(codes)] if flat else np.zeros(0, np.int32)
    assert [keys[c] for c in got] == flat
