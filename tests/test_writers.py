"""Writers: a random Dataset written in each format and read back is the same data."""

import csv

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinybt.data.dataset import Dataset
from tinybt.data.registry import parse_folder
from tinybt.data.movielens import AGE_NAMES, GENDERS, OCCUPATIONS_1M
from tinybt.data.writers import write_dataset
from tinybt.errors import TinyBTError

# random datasets repeat (user, item) pairs and leave out users: what the loaders warn
# about (tested in test_loaders.py), not what these tests check
pytestmark = [pytest.mark.filterwarnings("ignore:.*repeat a \\(user, item\\) pair"),
              pytest.mark.filterwarnings("ignore:.*users who rate are missing")]

GENRES = ["Action", "Comedy", "Drama", "Film-Noir", "Children's", "Sci & Fi", "Café"]


def random_dataset(seed, n, n_users, n_items, fmt, str_keys=False):
    rng = np.random.default_rng(seed)
    stars = np.arange(1, 11) / 2 if fmt == "ml-20m" else np.arange(1, 6)
    k = rng.integers(0, 4, n_items)  # 0..3 genres, some items have none
    genre_values = np.concatenate(
        [rng.choice(len(GENRES), size=j, replace=False) for j in k] + [np.zeros(0, int)])
    occupations = OCCUPATIONS_1M if fmt != "ml-100k" else ["student", "writer", "none"]
    demo = {"gender": rng.integers(0, 2, n_users), "age": rng.integers(0, 7, n_users),
            "occupation": rng.integers(0, len(occupations), n_users)}
    if str_keys:  # Yelp-like ids, in any order
        user_keys = np.array([f"u{x}-{rng.integers(1e6)}" for x in range(n_users)])
        item_keys = np.array([f"b_{x}" for x in rng.permutation(n_items)])
    else:  # sparse positive ids, as MovieLens has
        user_keys = np.sort(rng.choice(10**6, n_users, replace=False)) + 1
        item_keys = np.sort(rng.choice(10**5, n_items, replace=False)) + 1
    return Dataset(
        name=fmt, user=rng.integers(0, n_users, n), item=rng.integers(0, n_items, n),
        rating=rng.choice(stars, n).astype(np.float32),
        timestamp=rng.integers(0, 2**31, n), user_keys=user_keys, item_keys=item_keys,
        genre_offsets=np.concatenate([[0], np.cumsum(k)]),
        genre_values=genre_values.astype(np.int32), genre_names=np.array(GENRES),
        demographics={key: v.astype(np.int16) for key, v in demo.items()},
        demographic_names={"gender": list(GENDERS), "age": list(AGE_NAMES),
                           "occupation": list(occupations)})


def interactions(ds):
    """Rows as (user key, item key, rating, timestamp), order-free."""
    return sorted(zip(ds.user_keys.astype(str)[ds.user], ds.item_keys.astype(str)[ds.item],
                      ds.rating.tolist(), ds.timestamp.tolist()))


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 2**31), n=st.integers(1, 60), n_users=st.integers(1, 12),
       n_items=st.integers(1, 15), fmt=st.sampled_from(["ml-1m", "ml-20m", "ml-100k", "yelp"]))
def test_round_trip(tmp_path_factory, seed, n, n_users, n_items, fmt):
    ds = random_dataset(seed, n, n_users, n_items, fmt, str_keys=fmt == "yelp" and seed % 2 == 0)
    if fmt == "ml-1m":
        ds.genre_names = np.array([g.replace("é", "e") for g in GENRES])  # ML-1M is latin-1
    out = write_dataset(ds, fmt, tmp_path_factory.mktemp(fmt))
    back = parse_folder(fmt, out, use_cache=False)
    assert interactions(back) == interactions(ds)
    assert back.rating.dtype == np.float32 and back.timestamp.dtype == np.int64
    # every user and item of the dataset is in the files (users via users file, items via catalog)
    assert back.n_items == ds.n_items
    item_pos = {str(k): i for i, k in enumerate(back.item_keys)}
    for i, key in enumerate(ds.item_keys.astype(str)):
        j = item_pos[key]
        assert set(ds.genre_names[ds.item_genres(i)]) == set(back.genre_names[back.item_genres(j)])
    if fmt in ("ml-1m", "ml-100k"):
        assert back.n_users == ds.n_users and list(back.user_keys) == list(ds.user_keys)
        for key in ("gender", "age", "occupation"):
            np.testing.assert_array_equal(back.demographics[key], ds.demographics[key])
            assert back.demographic_names[key] == ds.demographic_names[key]
    else:
        assert back.demographics == {}


def test_ml20m_titles_with_commas_are_quoted(tmp_path):
    ds = random_dataset(0, 50, 5, 30, "ml-20m")
    write_dataset(ds, "ml-20m", tmp_path)
    rows = list(csv.reader(open(tmp_path / "movies.csv", newline="", encoding="utf-8")))
    assert rows[0] == ["movieId", "title", "genres"] and all(len(r) == 3 for r in rows)
    assert any("," in r[1] for r in rows[1:])
    assert '"' in (tmp_path / "movies.csv").read_text()


def test_non_integer_keys_become_1_to_n_in_movielens(tmp_path):
    ds = random_dataset(1, 40, 6, 8, "ml-20m", str_keys=True)
    back = parse_folder("ml-20m", write_dataset(ds, "ml-20m", tmp_path), use_cache=False)
    assert list(back.item_keys) == list(range(1, 9))
    renamed = sorted(zip((ds.user + 1).astype(str), (ds.item + 1).astype(str),
                         ds.rating.tolist(), ds.timestamp.tolist()))
    assert interactions(back) == renamed


def test_writer_refuses_what_the_format_cannot_hold(tmp_path):
    ds = random_dataset(2, 20, 4, 5, "ml-20m")
    with pytest.raises(TinyBTError, match="at most 0 decimals"):
        write_dataset(ds, "ml-1m", tmp_path)  # half stars
    ds = random_dataset(2, 20, 4, 5, "ml-1m")
    del ds.demographics["age"]
    with pytest.raises(TinyBTError, match="gender, age and occupation"):
        write_dataset(ds, "ml-100k", tmp_path)
    ds.genre_names = np.array(["A|B"] * len(GENRES))
    with pytest.raises(TinyBTError, match="separator"):
        write_dataset(ds, "ml-20m", tmp_path)
    with pytest.raises(TinyBTError, match="unknown format"):
        write_dataset(ds, "netflix", tmp_path)
    assert not list(tmp_path.glob(".*.tmp"))


def test_large_write_is_chunked_and_exact(tmp_path, monkeypatch):
    import tinybt.data.writers as w

    monkeypatch.setattr(w, "CHUNK", 7)  # many chunks with varying digit widths
    ds = random_dataset(3, 100, 9, 9, "yelp")
    back = parse_folder("yelp", write_dataset(ds, "yelp", tmp_path), use_cache=False)
    assert interactions(back) == interactions(ds)


def test_cli_synthesize_then_info(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from tinybt.cli import cli

    monkeypatch.setenv("TINYBT_HOME", str(tmp_path / "home"))
    out = tmp_path / "syn"
    r = CliRunner().invoke(cli, ["data", "synthesize", "--format", "ml-100k", "--users", "60",
                                 "--items", "40", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in out.iterdir()) == [
        "u.data", "u.genre", "u.item", "u.occupation", "u.user"]
    r = CliRunner().invoke(cli, ["data", "info", "ml-100k", "--data-dir", str(out)])
    assert r.exit_code == 0, r.output
    assert "users 60" in r.output and "history (last 50)" in r.output
    for task in ("favorite_genre", "rating_level", "mainstream", "gender", "age", "occupation"):
        assert f"  {task} " in r.output
