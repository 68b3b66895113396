"""`load_dataset(name)`: the one entry point from a dataset name to a `Dataset`."""

from tinybt.data.download import locate
from tinybt.data.registry import check_name, parse_folder


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
