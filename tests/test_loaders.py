"""Loaders: fixtures written here in the real formats, bad input, and the real files if present.

Every test runs on both paths (the parsers' reference and tinybt/data/parse.py), so
both give the same data and the same error lines; tests/test_kernels_parse.py compares
them on generated files.
"""

import warnings
from pathlib import Path

import numpy as np
import pytest

from tinybt.backend import BACKENDS, use_backend
from tinybt.data import movielens, textio, yelp
from tinybt.data.load import load_dataset
from tinybt.errors import TinyBTError

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(autouse=True, params=BACKENDS)
def parser_path(request):
    with use_backend(request.param):
        yield request.param


def _write(folder, files, encoding="utf-8"):
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_bytes(text.encode(encoding))
    return folder


ML1M = {
    "ratings.dat": "1::10::5::978300760\n1::20::3::978302109\n2::10::4::978301968\n",
    "users.dat": "1::F::1::10::48067\n2::M::56::16::70072\n3::M::25::15::55117\n",
    "movies.dat": "10::Café (1995)::Animation|Children's\n20::Heat (1995)::Action\n"
                  "30::Nothing (1996)::(no genres listed)\n",
}


def test_ml1m_fixture(tmp_path):
    ds = movielens.load_ml1m(_write(tmp_path, ML1M, "latin-1"))
    assert list(ds.user_keys) == [1, 2, 3] and list(ds.item_keys) == [10, 20, 30]
    assert list(zip(ds.user_keys[ds.user], ds.item_keys[ds.item], ds.rating, ds.timestamp)) == [
        (1, 10, 5, 978300760), (1, 20, 3, 978302109), (2, 10, 4, 978301968)]
    assert [list(ds.genre_names[ds.item_genres(i)]) for i in range(3)] == [
        ["Animation", "Children's"], ["Action"], []]
    assert list(ds.demographics["gender"]) == [0, 1, 1]
    assert [ds.demographic_names["age"][a] for a in ds.demographics["age"]] == [
        "Under 18", "56+", "25-34"]
    assert [ds.demographic_names["occupation"][o] for o in ds.demographics["occupation"]] == [
        "K-12 student", "self-employed", "scientist"]
    assert ds.rating.dtype == np.float32 and ds.user.dtype == ds.item.dtype == np.int32


def test_ml100k_fixture_bins_ages_and_drops_unknown_genre(tmp_path):
    files = {
        "u.data": "1\t1\t5\t881250949\r\n2\t2\t1\t891717742\r\n",  # CRLF line ends
        "u.user": "1|17|M|student|85711\n2|18|F|writer|94043\n3|56|F|writer|1\n",
        "u.item": "1|A (1995)|01-Jan-1995||http://x|0|1|1\n2|B (1995)|01-Jan-1995||http://x|1|0|0\n",
        "u.genre": "unknown|0\nAction|1\nComedy|2\n\n",
        "u.occupation": "student\nwriter\nother\n",
    }
    ds = movielens.load_ml100k(_write(tmp_path, files))
    assert list(ds.genre_names) == ["Action", "Comedy"]
    assert [list(ds.genre_names[ds.item_genres(i)]) for i in range(2)] == [["Action", "Comedy"], []]
    assert list(ds.demographics["age"]) == [0, 1, 6]
    assert ds.demographic_names["occupation"] == ["student", "writer", "other"]
    assert list(ds.demographics["occupation"]) == [0, 1, 1]
    assert list(ds.timestamp) == [881250949, 891717742]


def test_age_group_matches_ml1m_codes():
    assert list(movielens.age_group(movielens.AGE_CODES)) == list(range(7))
    assert list(movielens.age_group([0, 17, 24, 34, 44, 49, 55, 99])) == [0, 0, 1, 2, 3, 4, 5, 6]


@pytest.mark.parametrize("bad", ["1::2::x::4", "1::2::3", "1::2::3::4::5", "1:2:3:4", "",
                                 "1::2::3.::4", "-1::2::3::4"])
def test_malformed_rating_line_names_file_line_and_text(tmp_path, bad):
    path = tmp_path / "ratings.dat"
    path.write_text(f"1::2::3::4\n5::6::4::8\n{bad}\n9::9::1::1\n")
    with pytest.raises(TinyBTError, match=r"ratings\.dat:3: .*got " + repr(bad).replace(".", r"\.")):
        movielens.read_ratings(path, b"::")


def test_long_offending_text_is_truncated(tmp_path):
    path = tmp_path / "u.data"
    path.write_text("1\t2\t3\t4\n" + "x" * 500 + "\n")
    with pytest.raises(TinyBTError, match=r"u\.data:2: .*'x{80}\.\.\.'$"):
        movielens.read_ratings(path, b"\t")


def test_ml20m_header_and_quoted_titles(tmp_path):
    folder = _write(tmp_path, {
        "ratings.csv": "userId,movieId,rating,timestamp\n1,2,3.5,1112486027\n",
        "movies.csv": 'movieId,title,genres\n2,"Jumanji, The (1995)",Adventure|Children\n'
                      '3,"Say ""Hi"" (2001)",(no genres listed)\n'})
    ds = movielens.load_ml20m(folder)
    assert ds.rating[0] == 3.5 and list(ds.item_keys) == [2, 3]
    assert list(ds.genre_names[ds.item_genres(0)]) == ["Adventure", "Children"]
    assert len(ds.item_genres(1)) == 0
    (folder / "ratings.csv").write_text("user,movie,rating,timestamp\n1,2,3.5,1\n")
    with pytest.raises(TinyBTError, match=r"ratings\.csv:1: expected the header"):
        movielens.load_ml20m(folder)


def test_metadata_errors_name_the_line(tmp_path):
    folder = _write(tmp_path, dict(ML1M, **{"users.dat": "1::F::1::10::1\n2::X::1::10::1\n"}))
    with pytest.raises(TinyBTError, match=r"users\.dat:2: .*'2::X::1::10::1'"):
        movielens.load_ml1m(folder)
    folder = _write(tmp_path, dict(ML1M, **{"users.dat": "1::F::2::10::1\n"}))
    with pytest.raises(TinyBTError, match=r"users\.dat:1: .*AgeCode"):
        movielens.load_ml1m(folder)


def test_missing_files_listed(tmp_path):
    (tmp_path / "ratings.dat").write_text("1::2::3::4\n")
    with pytest.raises(TinyBTError, match="missing users.dat, movies.dat.*must contain "
                                          "ratings.dat, users.dat, movies.dat"):
        load_dataset("ml-1m", data_dir=tmp_path, download=False)
    with pytest.raises(TinyBTError, match="review.json and business.json"):
        load_dataset("yelp", data_dir=tmp_path)


def test_unknown_name_lists_valid_names():
    with pytest.raises(TinyBTError, match="ml-1m, ml-20m, ml-100k, yelp, synthetic"):
        load_dataset("netflix")


def test_data_dir_parent_is_accepted(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYBT_HOME", str(tmp_path / "home"))
    _write(tmp_path / "ml-1m", ML1M, "latin-1")
    assert len(load_dataset("ml-1m", data_dir=tmp_path).user) == 3


def test_large_ids_use_the_sorting_path(tmp_path):
    path = tmp_path / "u.data"
    path.write_text("9000000000\t5\t1\t1\n7\t5\t2\t2\n9000000000\t6\t3\t3\n")
    keys, codes = movielens.dense_index(movielens.read_ratings(path, b"\t")[0])
    assert list(keys) == [7, 9000000000] and list(codes) == [1, 0, 1]


def _review(user, item, stars, date, text="ok"):
    return (f'{{"review_id":"r","user_id":"{user}","business_id":"{item}","stars":{stars},'
            f'"text":"{text}","date":"{date}"}}\n')


def test_yelp_fixture_keys_dates_and_truncated_last_line(tmp_path):
    reviews = (_review("u2", "b1", 4, "2016-01-30 02:18:30")
               + _review("u1", "b2", "2.0", "1970-01-02 00:00:01", 'say \\"user_id\\":\\"zz\\"')
               + ' { "user_id" : "u1", "business_id": "b1", "stars": 5, "date": "2000-02-29"}\r\n'
               + '{"review_id":"x","user_id":"u3","busin')
    folder = _write(tmp_path, {
        "review.json": reviews,
        "business.json": '{"business_id":"b1","categories":"Food, Bars"}\n'
                         '{"business_id":"b2","categories":null}\n'
                         '{"business_id":"b3","categories":"Bars"}'})
    with pytest.warns(UserWarning, match=r"review\.json:4: skipping the truncated last line"):
        ds = yelp.load_yelp(folder)
    assert list(ds.user_keys) == ["u1", "u2"] and list(ds.item_keys) == ["b1", "b2", "b3"]
    assert ds.user_keys.dtype.kind == "U"
    assert list(ds.user_keys[ds.user]) == ["u2", "u1", "u1"]
    assert list(ds.rating) == [4, 2, 5]
    want = [np.datetime64("2016-01-30T02:18:30"), np.datetime64("1970-01-02T00:00:01"),
            np.datetime64("2000-02-29T00:00:00")]
    assert list(ds.timestamp) == [int(w.astype("datetime64[s]").astype(np.int64)) for w in want]
    assert list(ds.genre_names) == ["Bars", "Food"]
    assert [len(ds.item_genres(i)) for i in range(3)] == [2, 0, 1]


@pytest.mark.parametrize("bad", [
    '{"user_id":"u","business_id":"b","stars":4}',                          # no date
    '{"user_id":"u","business_id":"b","stars":4,"date":"2016-13-01 00:00:00"}',
    '{"user_id":"u","business_id":"b","stars":x,"date":"2016-01-01"}',
    'not json at all'])
def test_yelp_malformed_middle_line_is_an_error(tmp_path, bad):
    good = _review("u", "b", 4, "2016-01-01 00:00:00")
    path = tmp_path / "review.json"
    path.write_text(good + bad + "\n" + good)
    with pytest.raises(TinyBTError, match=r"review\.json:2: expected a JSON object"):
        yelp.read_reviews(path)


def test_yelp_business_errors(tmp_path):
    path = tmp_path / "business.json"
    path.write_text('{"business_id":"b1","categories":"A"}\n{"business_id":3}\n')
    with pytest.raises(TinyBTError, match=r"business\.json:2: "):
        yelp.read_businesses(path)


# ---------------------------------------------------------------- real files, if present

def _real(*parts):
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} not present")
    return path


def test_real_ml100k_published_counts(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYBT_HOME", str(tmp_path))
    ds = load_dataset("ml-100k", data_dir=_real("ml-100k"))
    assert (len(ds.user), ds.n_users, ds.n_items) == (100_000, 943, 1_682)
    assert set(np.unique(ds.rating)) == {1, 2, 3, 4, 5}
    assert len(ds.genre_names) == 18 and "unknown" not in ds.genre_names
    assert len(ds.demographic_names["occupation"]) == 21
    assert min(ds.demographics[k].min() for k in ("gender", "age", "occupation")) == 0
    # user 1 of u.user: 24, M, technician
    assert (ds.demographics["age"][0], ds.demographics["gender"][0]) == (1, 1)
    assert ds.demographic_names["occupation"][ds.demographics["occupation"][0]] == "technician"


def test_real_ml1m_metadata():
    ids, genres = movielens.read_movies_dat(_real("ml-1m", "movies.dat"))
    assert len(ids) == 3883 and genres[0] == ["Animation", "Children's", "Comedy"]
    assert len({g for gs in genres for g in gs}) == 18
    ids, demo = movielens.read_users_dat(_real("ml-1m", "users.dat"))
    assert len(ids) == 6040 and (demo["gender"][0], demo["age"][0], demo["occupation"][0]) == (0, 0, 10)


def test_real_ml20m_metadata_and_sample():
    ids, genres = movielens.read_movies_csv(_real("ml-20m", "movies.csv"))
    assert len(ids) == 27_278 and len({g for gs in genres for g in gs}) == 19
    ds = movielens.load_ml20m(_real("ml-20m-sample"))
    assert len(ds.user) == 1000 and set(np.unique(ds.rating)) <= set(np.arange(0.5, 5.5, 0.5))


def test_real_yelp_samples_truncated_last_line():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = yelp.load_yelp(_real("yelp"))
    assert any("truncated last line" in str(w.message) for w in caught)
    assert len(ds.user) == 3_610 and len(np.unique(ds.user)) == 3_494
    assert len(np.unique(ds.item)) == 2_219
    dates = ds.timestamp.astype("datetime64[s]").astype("datetime64[D]")
    assert str(dates.min()) == "2004-10-19" and str(dates.max()) == "2018-10-04"
    businesses, cats = yelp.read_businesses(_real("yelp", "yelp_academic_dataset_business.json"))
    assert len(businesses) == 1_497 and sum(bool(c) for c in cats) == 1_492


def test_escaped_ids_are_decoded(tmp_path):
    path = tmp_path / "review.json"
    path.write_text(_review("caf\\u00e9", "b\\\"1", 4, "2016-01-01") + _review("café", "b", 3, "2016-01-02"),
                    encoding="utf-8")
    user_keys, user, item_keys, item, _, _ = yelp.read_reviews(path)
    assert list(user_keys) == ["café"] and list(user) == [0, 0]
    assert list(item_keys[item]) == ['b"1', "b"]


# ---------------------------------------------------------------- malformed files: named, never a crash

ML100K = {"u.data": "1\t1\t5\t881250949\n2\t2\t1\t891717742\n",
          "u.user": "1|17|M|student|85711\n2|18|F|writer|94043\n",
          "u.item": "1|A (1995)|01-Jan-1995||http://x|0|1|1\n2|B (1995)|01-Jan-1995||http://x|1|0|0\n",
          "u.genre": "unknown|0\nAction|1\nComedy|2\n"}
ML20M = {"ratings.csv": "userId,movieId,rating,timestamp\n1,2,3.5,1112486027\n",
         "movies.csv": "movieId,title,genres\n2,Jumanji (1995),Adventure\n"}


@pytest.mark.parametrize("name, files, loader, expect", [
    ("movies.csv", dict(ML20M, **{"movies.csv": b"movieId,title,genres\n2,Caf\xe9 (1995),Drama\n"}),
     movielens.load_ml20m, r"movies\.csv:2: not valid UTF-8 \(byte 0xe9\)"),
    ("movies.csv", dict(ML20M, **{"movies.csv": b""}), movielens.load_ml20m,
     r"movies\.csv:1: expected the header"),
    ("movies.csv", dict(ML20M, **{"movies.csv": b"movieId,title,genres\n"}), movielens.load_ml20m,
     r"movies\.csv: empty; expected one line per movie"),
    ("movies.dat", dict(ML1M, **{"movies.dat": b""}), movielens.load_ml1m, r"movies\.dat: empty"),
    ("u.genre", dict(ML100K, **{"u.genre": b"\n"}), movielens.load_ml100k, r"u\.genre: empty"),
])
def test_malformed_metadata_is_named(tmp_path, name, files, loader, expect):
    for f, text in files.items():
        (tmp_path / f).write_bytes(text if isinstance(text, bytes) else text.encode("latin-1"))
    with pytest.raises(TinyBTError, match=expect):
        loader(tmp_path)


@pytest.mark.parametrize("user, why", [(b"u\xff1", "not valid UTF-8"), (b"u\\x1", "a bad JSON escape"),
                                       (b"u\\ud800\\u", "a bad JSON escape")])
def test_yelp_ids_that_are_not_text_are_named(tmp_path, user, why):
    good = _review("u", "b", 4, "2016-01-01").encode()
    (tmp_path / "review.json").write_bytes(good + _review("USER", "b", 3, "2016-01-02").encode()
                                           .replace(b"USER", user))
    with pytest.raises(TinyBTError, match=rf"review\.json:2: the user_id holds {why}"):
        yelp.read_reviews(tmp_path / "review.json")


@pytest.mark.parametrize("text, expect", [
    ('{"business_id":"b1","categories":[1, 2]}\n', r"business\.json:1: expected a JSON object"),
    ('{"business_id":"b1","categories":5}\n', r"business\.json:1: expected a JSON object"),
    ("", r"business\.json: empty"), ("\n\n", r"business\.json: empty")])
def test_yelp_business_file_is_checked(tmp_path, text, expect):
    (tmp_path / "business.json").write_text(text)
    with pytest.raises(TinyBTError, match=expect):
        yelp.read_businesses(tmp_path / "business.json")


@pytest.mark.parametrize("tail", ["\n", "\n\n", "\r\n\r\n", "\n \n"])
def test_trailing_blank_lines_of_a_ratings_file_are_accepted(tmp_path, tail):
    (tmp_path / "ratings.dat").write_text("1::10::5::978300760\n2::10::4::978301968" + tail)
    user, item, rating, ts = movielens.read_ratings(tmp_path / "ratings.dat", b"::")
    assert list(user) == [1, 2] and list(ts) == [978300760, 978301968]


@pytest.mark.parametrize("tail", ["\n", "\r\n\r\n", "\n \n\t"])
def test_trailing_blank_lines_of_review_json_are_accepted(tmp_path, tail):
    (tmp_path / "review.json").write_text(_review("u", "b", 4, "2016-01-01").rstrip("\n") + tail)
    assert list(yelp.read_reviews(tmp_path / "review.json")[4]) == [4]


def test_a_blank_line_in_the_middle_is_still_an_error(tmp_path):
    (tmp_path / "ratings.dat").write_text("1::10::5::978300760\n\n2::10::4::978301968\n")
    with pytest.raises(TinyBTError, match=r"ratings\.dat:2: "):
        movielens.read_ratings(tmp_path / "ratings.dat", b"::")
    good = _review("u", "b", 4, "2016-01-01")
    (tmp_path / "review.json").write_text(good + "\n" + good)
    with pytest.raises(TinyBTError, match=r"review\.json:2: expected a JSON object"):
        yelp.read_reviews(tmp_path / "review.json")


def test_suspicious_rows_warn_once_with_counts(tmp_path):
    ratings = ("1::10::5::978300760\n1::10::4::978300761\n1::10::3::978300762\n"   # one pair, 3 rows
               "2::10::9::978301968\n9::20::0::978301969\n")                     # 9 and 0 off scale
    folder = _write(tmp_path, dict(ML1M, **{"ratings.dat": ratings}), "latin-1")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = movielens.load_ml1m(folder)
    messages = sorted(str(w.message) for w in caught)
    assert len(messages) == 3, messages
    assert "ratings.dat: 2 ratings outside the scale 1..5" in messages[0]
    assert "ratings.dat: 2 rows repeat a (user, item) pair already rated" in messages[1]
    assert "users.dat: 1 users who rate are missing from it" in messages[2]
    assert len(ds.user) == 5                                   # warned, not dropped


def test_ratings_read_in_small_chunks_equal_one_read(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    lines = [f"{u},{i},{r / 2:g},{t}" for u, i, r, t in zip(rng.integers(1, 10**6, 300), rng.integers(1, 99, 300),
                                                           rng.integers(1, 11, 300), rng.integers(0, 2**33, 300))]
    lines[7] = f"{2**40},3,4.5,1"                    # an id past int32: the column widens
    path = tmp_path / "ratings.csv"
    path.write_text("userId,movieId,rating,timestamp\n" + "\n".join(lines) + "\n\n", encoding="utf-8")
    whole = movielens.read_ratings(path, b",", "userId,movieId,rating,timestamp")
    assert whole[0].dtype == np.int64 and whole[1].dtype == np.int32 and whole[0][7] == 2**40
    for size in (1, 7, 64, 1000):                     # 1 and 7: every line is longer than a chunk
        monkeypatch.setattr(textio, "CHUNK_BYTES", size)
        for a, b in zip(movielens.read_ratings(path, b",", "userId,movieId,rating,timestamp"), whole):
            assert a.dtype == b.dtype
            np.testing.assert_array_equal(a, b)
    lines[250] = "1,2,x,3"
    path.write_text("userId,movieId,rating,timestamp\n" + "\n".join(lines), encoding="utf-8")
    with pytest.raises(TinyBTError, match=r"ratings\.csv:252: .*'1,2,x,3'"):
        movielens.read_ratings(path, b",", "userId,movieId,rating,timestamp")


@pytest.mark.parametrize("text", [b"", b"\n\n", b"a\nbb\n", b"a\nbb", b"a\nbb\r\n \n", b"a \n \t"])
def test_line_chunks_cut_at_newlines_and_drop_the_blank_tail(tmp_path, text):
    path = tmp_path / "f.txt"
    path.write_bytes(text)
    kept = len(text.rstrip(b"\r\n \t"))
    whole = text[:kept + 1] if kept < len(text) else text     # one byte after the last non-blank
    for size in (1, 2, 3, 100):
        chunks = list(textio.line_chunks(path, 0, size))
        assert b"".join(bytes(c) for _, c in chunks) == whole
        assert all(bytes(c).endswith(b"\n") for _, c in chunks[:-1])
        assert [o for o, _ in chunks] == list(np.cumsum([0] + [len(c) for _, c in chunks]))[:len(chunks)]
    lines = len(whole.split(b"\n")) - whole.endswith(b"\n") if whole else 0
    assert textio.count_lines(path) == lines


def test_a_long_parse_shows_the_bytes_counted_and_parsed(tmp_path, monkeypatch, capsys):
    path = tmp_path / "ratings.dat"
    path.write_bytes(b"".join(b"%d::%d::3::%d\n" % (u, 10 + u % 7, 978300000 + u) for u in range(1, 41)))
    monkeypatch.setattr(textio, "DELAY", 0.0)              # as if the file took longer than DELAY
    monkeypatch.setattr(textio, "CHUNK_BYTES", 100)
    assert len(movielens.read_ratings(path, b"::")[0]) == 40
    lines = capsys.readouterr().err.splitlines()            # off a terminal: the first chunk, then the end
    assert [s.split(" [")[0] for s in lines] == ["count lines of ratings.dat"] * 2 + ["parse ratings.dat"] * 2
    first = len(path.read_bytes()[:100].rsplit(b"\n", 1)[0]) + 1
    assert f"{100 * first / path.stat().st_size:3.0f}%" in lines[2] and "100%" in lines[3]


def test_review_json_read_in_small_chunks_equals_one_read(tmp_path, monkeypatch):
    rng = np.random.default_rng(1)
    lines = [_review(f"u{rng.integers(40)}", f"b{rng.integers(9)}", int(rng.integers(1, 6)), "2016-01-02")
             for _ in range(200)]
    lines[150] = _review("caf\\u00e9", "b1", 3, "2016-01-02")     # an escape: decoded, sorted as str
    path = tmp_path / "review.json"
    path.write_text("".join(lines), encoding="utf-8")
    whole = yelp.read_reviews(path)
    assert "café" in set(whole[0])
    for size in (7, 300, 5000):
        monkeypatch.setattr(textio, "CHUNK_BYTES", size)
        for a, b in zip(yelp.read_reviews(path), whole):
            assert a.dtype == b.dtype
            np.testing.assert_array_equal(a, b)
    lines[170] = _review("bad\\x", "b1", 3, "2016-01-02")
    path.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(TinyBTError, match=r"review\.json:171: the user_id holds a bad JSON escape"):
        yelp.read_reviews(path)
