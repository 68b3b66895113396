"""tinybt/data/parse.py == the parsers of tinybt/data/movielens.py and tinybt/data/yelp.py.

Generated files, good and damaged: both paths give the same arrays, or the same
error line, or the same warning.
"""

import json
import warnings

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tinybt.backend import use_backend
from tinybt.data import movielens, yelp
from tinybt.errors import TinyBTError


def outcome(fn, *args):
    """What the user sees: the arrays, or the error message; plus the warnings."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            got = ("ok", fn(*args))
        except TinyBTError as e:
            got = ("error", str(e))
    return got, [str(w.message) for w in caught]


def assert_same(fn, *args):
    """Run fn on both paths, assert they agree; -> the reference's outcome."""
    res = {}
    for name in ("fast", "reference"):
        with use_backend(name):
            res[name] = outcome(fn, *args)
    (fast, fast_warn), (ref, ref_warn) = res["fast"], res["reference"]
    assert fast[0] == ref[0] and fast_warn == ref_warn, (fast, ref)
    if ref[0] == "error":
        assert fast[1] == ref[1]
    else:
        assert len(fast[1]) == len(ref[1])
        for f, r in zip(fast[1], ref[1]):
            assert f.dtype == r.dtype
            np.testing.assert_array_equal(f, r)
    return ref


def damage(data, edits):
    """data with each (position fraction, byte) edit: None deletes a byte, else inserts it."""
    data = bytearray(data)
    for frac, byte in edits:
        k = int(frac * len(data))
        if byte is None:
            del data[k:k + 1]
        else:
            data[k:k] = bytes([byte])
    return bytes(data)


def edit_lists(alphabet):
    return st.lists(st.tuples(st.floats(0, 1), st.one_of(st.none(), st.sampled_from(alphabet))), max_size=3)


_ratings = st.one_of(st.integers(0, 5).map(str),
                     st.tuples(st.integers(0, 999), st.integers(0, 10**5 - 1), st.integers(1, 5))
                     .map(lambda t: f"{t[0]}.{t[1]:0{t[2]}d}"))


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.lists(st.tuples(st.integers(0, 10**12), st.integers(0, 10**6), _ratings, st.integers(0, 2**40)),
                max_size=20),
       st.sampled_from(["::", ",", "\t"]), st.sampled_from(["", "\n", "\r\n", "\n\n \n"]), edit_lists(b":,.\t\r\n -x5"),
       st.booleans())
@example(rows=[(1, 2, "3", 4)] * 3, sep="::", tail="\n", edits=[(0.5, ord("x"))], header=False)
@example(rows=[(1, 2, "3.", 4)], sep=",", tail="", edits=[], header=True)
@example(rows=[(10**18, 2, "3", 4)], sep="\t", tail="\n", edits=[], header=False)
def test_ratings_parsers_agree(tmp_path_factory, rows, sep, tail, edits, header):
    path = tmp_path_factory.mktemp("k") / "r.txt"
    head = "userId,movieId,rating,timestamp" if header else None
    text = "\n".join(sep.join(map(str, r)) for r in rows) + (tail if rows else "")
    path.write_bytes(damage(((head + "\n") if head else "").encode() + text.encode(), edits))
    kind, got = assert_same(movielens.read_ratings, path, sep.encode(), head)
    if not edits and all(u < 10**18 and not r.endswith(".") for u, _, r, _ in rows):   # a good file
        assert kind == "ok"
        assert list(zip(*(c.tolist() for c in got))) == [(u, i, float(np.float32(float(r))), t)
                                                          for u, i, r, t in rows]


_ids = st.text("abcXYZ09-_é", min_size=1, max_size=8)
_texts = st.lists(st.sampled_from(['a', ' ', '"', '\\', '\n', 'é', ':', ',', '{', '}',
                                   '"user_id":"x"', '"date":', 'stars']), max_size=12).map("".join)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.lists(st.tuples(_ids, _ids, st.sampled_from([1, 2.0, 3.5, 5, 4.25]),
                          st.integers(-10**10, 4 * 10**9), _texts, st.permutations(range(5)),
                          st.booleans()), min_size=1, max_size=12),
       st.integers(0, 30), edit_lists(b'0:,.\t\r\n -x"{}\\'))
def test_review_parsers_agree(tmp_path_factory, rows, cut, edits):
    path = tmp_path_factory.mktemp("y") / "review.json"
    lines = []
    for user, item, stars, t, text, order, spaced in rows:
        date = str(np.datetime64(t, "s")).replace("T", " ")
        fields = [("review_id", "r"), ("user_id", user), ("business_id", item),
                  ("stars", stars), ("text", text), ("date", date)]
        fields = [fields[0]] + [fields[1 + k] for k in order]
        sep = (", ", ": ") if spaced else (",", ":")
        lines.append(json.dumps(dict(fields), ensure_ascii=bool(t % 2), separators=sep))
    data = ("\n".join(lines) + "\n").encode()
    data = data[:len(data) - cut] if cut < len(lines[-1]) else data  # maybe truncate the last line
    path.write_bytes(damage(data, edits))
    kind, got = assert_same(yelp.read_reviews, path)
    if not edits:                           # undamaged: the json module reads the same reviews
        want = []
        for line in data.decode("utf-8", "replace").split("\n"):
            try:
                o = json.loads(line)
            except ValueError:              # the cut last line, or the empty tail
                continue
            want.append((o["user_id"], o["business_id"], float(o["stars"]),
                         int(np.datetime64(o["date"], "s").astype(np.int64))))
        if not want:                        # the only line was cut
            assert kind == "error" and got.endswith("no reviews found")
            return
        assert kind == "ok"
        user_keys, user, item_keys, item, stars, ts = got
        assert list(zip(user_keys[user], item_keys[item], stars.tolist(), ts.tolist())) == want
