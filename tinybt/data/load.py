"""`load_dataset(name)`: the one entry point from a dataset name to a `Dataset`."""

from pathlib import Path

from tinybt.data import movielens, yelp
from tinybt.data.cache import cached
from tinybt.data.download import locate
from tinybt.errors import TinyBTError

LOADERS = {"ml-1m": movielens.load_ml1m, "ml-20m": movielens.load_ml20m,
           "ml-100k": movielens.load_ml100k, "yelp": yelp.load_yelp}
NAMES = (*LOADERS, "synthetic")


def check_name(name):
    if name not in NAMES:
        raise TinyBTError(f"unknown dataset {name!r}; expected one of {', '.join(NAMES)}")


def source_files(name, folder):
    """The files a dataset is parsed from (what the cache key is made of)."""
    if name == "yelp":
        return yelp.find_files(folder)
    optional = ["u.occupation"] if name == "ml-100k" else []
    return [folder / f for f in (*movielens.FILES[name], *optional) if (folder / f).is_file()]


def parse_folder(name, folder, use_cache=True):
    """Parse dataset `name` from `folder`, through the parsed cache."""
    folder = Path(folder)
    if not use_cache:
        return LOADERS[name](folder)
    return cached(name, source_files(name, folder), lambda: LOADERS[name](folder))


def load_dataset(name, data_dir=None, synthetic_options=None, download=True, use_cache=True):
    """Dataset `name` (ml-1m, ml-20m, ml-100k, yelp, synthetic).

    data_dir: a folder holding the files (or its parent holding NAME/); without it a
    copy under $TINYBT_HOME is used, downloaded first if `download` (MovieLens only).
    synthetic_options: keyword arguments of `tinybt.data.synthetic.generate`.
    """
    check_name(name)
    if name == "synthetic":
        from tinybt.data.synthetic import generate

        return generate(**(synthetic_options or {}))
    folder = locate(name, data_dir, download)
    return parse_folder(name, folder, use_cache)
