"""MovieLens loaders: ML-1M (`::`, latin-1), ML-20M (CSV, UTF-8), ML-100K (tab / pipe).

All three ratings files are lines of `user SEP item SEP rating SEP timestamp`,
parsed by `parse_ratings`: a regular expression per line here, a Numba kernel
over the file's bytes on the fast path (tinybt/data/parse.py; benchmarks/bench_parse.py
times both). The small metadata files (movies, users) are read line by line in Python.

Items are the union of the catalog (movies file) and the rated ids; users the
union of the users file and the raters. Genres keep the files' names;
"(no genres listed)" (ML-20M) and "unknown" (ML-100K's genre 0) mean no genre.
"""

import csv
import io
import re

import numpy as np

from tinybt import backend
from tinybt.data import parse
from tinybt.data.dataset import Dataset
from tinybt.data.textio import (Columns, aligned, content_end, count_lines, decode, dense_index, expect_files,
                                genre_arrays, line_error, nonempty, shown_chunks, text_error, text_lines,
                                warn_anomalies)

FILES = {"ml-1m": ("ratings.dat", "users.dat", "movies.dat"),
         "ml-20m": ("ratings.csv", "movies.csv"),
         "ml-100k": ("u.data", "u.user", "u.item", "u.genre")}
NO_GENRE = ("(no genres listed)", "unknown")
GENDERS = ("F", "M")
SCALES = {"ml-1m": (1, 5), "ml-20m": (0.5, 5), "ml-100k": (1, 5)}   # the READMEs' rating scales
# ML-1M's age codes (the lower bound of each group) and their README names.
AGE_CODES = (1, 18, 25, 35, 45, 50, 56)
AGE_NAMES = ("Under 18", "18-24", "25-34", "35-44", "45-49", "50-55", "56+")
OCCUPATIONS_1M = (
    "other or not specified", "academic/educator", "artist", "clerical/admin",
    "college/grad student", "customer service", "doctor/health care", "executive/managerial",
    "farmer", "homemaker", "K-12 student", "lawyer", "programmer", "retired", "sales/marketing",
    "scientist", "self-employed", "technician/engineer", "tradesman/craftsman", "unemployed",
    "writer")


def age_group(age):
    """ML-1M age group index (0..6) of ages in years: ML-100K's ages → ML-1M's groups."""
    return np.searchsorted(np.array(AGE_CODES[1:]), np.asarray(age), side="right")


# ---------------------------------------------------------------- ratings file

def parse_ratings(buf, pos, sep):
    """Lines `user SEP item SEP rating SEP timestamp` of the bytes buf[pos:].

    buf: uint8 array, pos: first byte of the first line, sep: b"::", b",", b"\\t".
    Returns the (user, item, rating, timestamp) columns of the lines before the
    first bad one, and that line's byte offset (-1 when every line is good).
    A field is 1 to 18 ASCII digits (no sign); the rating may add `.digits`;
    a line may end in CR LF; the last line may lack its newline.
    """
    if backend.fast():
        return parse.parse_ratings(buf, pos, sep)
    s = re.escape(sep)
    line_re = re.compile(rb"(\d{1,18})" + s + rb"(\d{1,18})" + s + rb"(\d{1,18}(?:\.\d+)?)" + s
                         + rb"(\d{1,18})\r?")
    text = bytes(buf[pos:])
    lines = text.split(b"\n")
    if lines[-1] == b"":                    # the newline after the last line, or no lines at all
        lines.pop()
    rows, bad = [], -1
    for line in lines:
        m = line_re.fullmatch(line)
        if m is None:
            bad = pos
            break
        u, i, r, t = m.groups()
        rows.append((int(u), int(i), float(r), int(t)))
        pos += len(line) + 1
    cols = list(zip(*rows)) or [(), (), (), ()]
    return (np.array(cols[0], np.int64), np.array(cols[1], np.int64),
            np.array(cols[2], np.float32), np.array(cols[3], np.int64), bad)


def read_ratings(path, sep, header=None):
    """(user, item, rating, timestamp) arrays of a MovieLens ratings file.

    sep: the field separator (b"::", b",", b"\\t"); header: the expected first line.
    Blank lines at the end of the file are ignored (content_end). Parsed chunk by chunk
    into int32 ids (int64 if an id needs it), float32 ratings and int64 timestamps.
    """
    pos, first = 0, 1
    if header is not None:
        with open(path, "rb") as f:
            head = f.read(4096)
        end = head.find(b"\n") if b"\n" in head else len(head)
        if head[:end].decode("latin-1").strip() != header:
            raise line_error(path, np.frombuffer(head, np.uint8), 0, 1, f"expected the header {header!r}")
        pos, first = min(end + 1, content_end(path)), 2
    cols = Columns(count_lines(path, pos), (np.int32, np.int32, np.float32, np.int64))
    with shown_chunks(path, "parse", pos) as chunks:
        for _, buf in chunks:
            *parts, bad = parse_ratings(buf, 0, sep)
            cols.put(*parts)
            if bad >= 0:
                raise line_error(path, buf, bad, first + cols.n,
                                 "expected 'user" + sep.decode() + "item" + sep.decode() + "rating"
                                 + sep.decode() + "timestamp'")
    return cols.arrays()


# ---------------------------------------------------------------- metadata files

def _int(path, lineno, line, text, what):
    try:
        return int(text)
    except ValueError:
        raise text_error(path, lineno, f"expected an integer {what}", line) from None


def _genres(text):
    return [g for g in text.split("|") if g and g not in NO_GENRE]


def read_movies_dat(path):
    """ML-1M movies.dat: MovieID::Title::Genres → (ids, genre lists)."""
    ids, genres = [], []
    for lineno, line in nonempty(path, list(text_lines(path, "latin-1")), "'MovieID::Title::Genres' lines"):
        parts = line.split("::")
        if len(parts) < 3:
            raise text_error(path, lineno, "expected 'MovieID::Title::Genres'", line)
        ids.append(_int(path, lineno, line, parts[0], "MovieID"))
        genres.append(_genres(parts[-1]))
    return np.array(ids, np.int64), genres


def read_users_dat(path):
    """ML-1M users.dat: UserID::Gender::Age::Occupation::Zip → (ids, {demographic: classes})."""
    ids, gender, age, occ = [], [], [], []
    for lineno, line in text_lines(path, "latin-1"):
        parts = line.split("::")
        if (len(parts) != 5 or parts[1] not in GENDERS or not parts[2].isdigit()
                or int(parts[2]) not in AGE_CODES or not parts[3].isdigit()
                or int(parts[3]) >= len(OCCUPATIONS_1M)):
            raise text_error(path, lineno, "expected 'UserID::F|M::AgeCode::Occupation 0-20::Zip' "
                             f"with AgeCode in {AGE_CODES}", line)
        ids.append(_int(path, lineno, line, parts[0], "UserID"))
        gender.append(GENDERS.index(parts[1]))
        age.append(AGE_CODES.index(int(parts[2])))
        occ.append(int(parts[3]))
    return np.array(ids, np.int64), {"gender": gender, "age": age, "occupation": occ}


def read_movies_csv(path):
    """ML-20M movies.csv: movieId,title,genres (quoted titles) → (ids, genre lists)."""
    ids, genres = [], []
    text = decode(path, "utf-8")
    reader = csv.reader(io.StringIO(text, newline=""))
    if next(reader, None) != ["movieId", "title", "genres"]:
        raise text_error(path, 1, "expected the header 'movieId,title,genres'", text.split("\n")[0])
    for row in reader:
        lineno = reader.line_num
        if len(row) != 3:
            raise text_error(path, lineno, "expected 'movieId,title,genres'", ",".join(row))
        ids.append(_int(path, lineno, ",".join(row), row[0], "movieId"))
        genres.append(_genres(row[2]))
    nonempty(path, ids, "one line per movie after the header")
    return np.array(ids, np.int64), genres


def read_u_genre(path):
    """ML-100K u.genre: name|index lines → genre names in flag-column order."""
    names = []
    for lineno, line in nonempty(path, list(text_lines(path, "latin-1")), "'name|index' lines"):
        parts = line.split("|")
        if len(parts) != 2 or parts[1] != str(len(names)):
            raise text_error(path, lineno, f"expected 'name|{len(names)}'", line)
        names.append(parts[0])
    return names


def read_u_item(path, genre_names):
    """ML-100K u.item: id|title|date|video date|url|one 0/1 flag per genre → (ids, genre lists)."""
    ids, genres = [], []
    g = len(genre_names)
    for lineno, line in text_lines(path, "latin-1"):
        parts = line.split("|")
        flags = parts[5:]
        if len(parts) != 5 + g or any(f not in ("0", "1") for f in flags):
            raise text_error(path, lineno, f"expected 5 fields and {g} genre flags (0/1)", line)
        ids.append(_int(path, lineno, line, parts[0], "item id"))
        genres.append([n for n, f in zip(genre_names, flags) if f == "1" and n not in NO_GENRE])
    return np.array(ids, np.int64), genres


def read_u_user(path, occupations=None):
    """ML-100K u.user: id|age|gender|occupation|zip → (ids, {demographic: classes}, occupation names).

    Ages are binned into ML-1M's 7 groups. Occupation names come from u.occupation
    when given, else the sorted names found in the file.
    """
    rows = []
    for lineno, line in text_lines(path, "latin-1"):
        parts = line.split("|")
        if len(parts) != 5 or not parts[1].isdigit() or parts[2] not in GENDERS:
            raise text_error(path, lineno, "expected 'id|age|F or M|occupation|zip'", line)
        if occupations is not None and parts[3] not in occupations:
            raise text_error(path, lineno, "expected an occupation listed in u.occupation", line)
        rows.append((_int(path, lineno, line, parts[0], "user id"), int(parts[1]),
                     GENDERS.index(parts[2]), parts[3]))
    names = list(occupations) if occupations is not None else sorted({r[3] for r in rows})
    pos = {o: k for k, o in enumerate(names)}
    ids = np.array([r[0] for r in rows], np.int64)
    demo = {"gender": [r[2] for r in rows], "age": age_group([r[1] for r in rows]),
            "occupation": [pos[r[3]] for r in rows]}
    return ids, demo, names


# ---------------------------------------------------------------- datasets

def _build(name, folder, ratings, movie_ids, genre_lists, genre_names=None, user_ids=None, demo=None,
           demo_names=None):
    user, item, rating, ts = ratings
    files = FILES[name]
    warn_anomalies(folder / files[0], user, item, rating, SCALES[name],
                   folder / files[1] if user_ids is not None else None, user_ids, once_per_pair=True)
    user_ids = () if user_ids is None else user_ids
    user_keys, user = dense_index(user, user_ids)
    item_keys, item = dense_index(item, movie_ids)
    off, values, names = genre_arrays(len(item_keys), np.searchsorted(item_keys, movie_ids),
                                      genre_lists, genre_names)
    demographics = {k: aligned(user_keys, user_ids, v) for k, v in (demo or {}).items()}
    return Dataset(name=name, user=user, item=item, rating=rating, timestamp=ts,
                   user_keys=user_keys, item_keys=item_keys, genre_offsets=off,
                   genre_values=values, genre_names=names, demographics=demographics,
                   demographic_names={k: list(v) for k, v in (demo_names or {}).items()})


def load_ml1m(folder):
    expect_files(folder, FILES["ml-1m"], "MovieLens-1M")
    ratings = read_ratings(folder / "ratings.dat", b"::")
    movie_ids, genres = read_movies_dat(folder / "movies.dat")
    user_ids, demo = read_users_dat(folder / "users.dat")
    return _build("ml-1m", folder, ratings, movie_ids, genres, None, user_ids, demo,
                  {"gender": GENDERS, "age": AGE_NAMES, "occupation": OCCUPATIONS_1M})


def load_ml20m(folder):
    expect_files(folder, FILES["ml-20m"], "MovieLens-20M")
    ratings = read_ratings(folder / "ratings.csv", b",", "userId,movieId,rating,timestamp")
    movie_ids, genres = read_movies_csv(folder / "movies.csv")
    return _build("ml-20m", folder, ratings, movie_ids, genres)


def load_ml100k(folder):
    expect_files(folder, FILES["ml-100k"], "MovieLens-100K")
    ratings = read_ratings(folder / "u.data", b"\t")
    genre_names = read_u_genre(folder / "u.genre")
    movie_ids, genres = read_u_item(folder / "u.item", genre_names)
    occ_file = folder / "u.occupation"
    occupations = ([line for _, line in text_lines(occ_file, "latin-1")]
                   if occ_file.is_file() else None)
    user_ids, demo, occ_names = read_u_user(folder / "u.user", occupations)
    return _build("ml-100k", folder, ratings, movie_ids, genres,
                  [g for g in genre_names if g not in NO_GENRE], user_ids, demo,
                  {"gender": GENDERS, "age": AGE_NAMES, "occupation": occ_names})
