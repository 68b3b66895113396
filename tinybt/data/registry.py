"""The datasets tinybt reads: their names, parsers and source files, and `parse_folder`.

Below both load.py (name -> Dataset, finding or downloading the folder) and
download.py (which parses what it fetched to verify the published counts).
"""

from pathlib import Path

from tinybt.data import movielens, yelp
from tinybt.data.cache import cached
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
