"""Getting the files: the user's folder (--data-dir), a local copy, or a GroupLens download.

Downloads go to $TINYBT_HOME/downloads/NAME.zip.part and resume with an HTTP
Range request; the archive is extracted member by member into a temporary
folder (members with absolute paths or `..` are refused), parsed and checked
against the counts the dataset's README publishes, and only then renamed to
$TINYBT_HOME/NAME — so a failure never leaves a half-extracted dataset.
"""

import os
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path, PurePosixPath
from urllib.error import HTTPError, URLError
from urllib.request import Request, urlopen

import click
import numpy as np

from tinybt.atomic import check_folder
from tinybt.data import movielens, yelp
from tinybt.data.cache import tinybt_home
from tinybt.data.registry import parse_folder
from tinybt.data.textio import expect_files
from tinybt.errors import TinyBTError

BASE_URL = "https://files.grouplens.org/datasets/movielens"  # override: $TINYBT_DOWNLOAD_URL
# Published in each dataset's README ("items" counts the movies file, "rated_items" rated movies).
EXPECTED = {
    "ml-1m": {"ratings": 1_000_209, "users": 6_040, "rated_items": 3_706},
    "ml-20m": {"ratings": 20_000_263, "users": 138_493, "items": 27_278},
    "ml-100k": {"ratings": 100_000, "users": 943, "items": 1_682},
}
YELP_HELP = ("Yelp cannot be downloaded automatically (its licence needs a click-through): "
             "get the Yelp Open Dataset at https://www.yelp.com/dataset, unpack it and pass "
             "--data-dir to the folder holding its review and business JSON files")


def has_files(name, folder):
    if name == "yelp":
        return all(any((folder / n).is_file() for n in names)
                   for names in (yelp.REVIEW_FILES, yelp.BUSINESS_FILES))
    return all((folder / n).is_file() for n in movielens.FILES[name])


def _require(name, folder):
    """Raise the error listing the files a `name` folder must contain."""
    if name == "yelp":
        yelp.find_files(folder)
    else:
        expect_files(folder, movielens.FILES[name], name)


def locate(name, data_dir=None, download=True):
    """The folder holding dataset `name`'s files, downloading it if needed and allowed."""
    if data_dir is not None:
        folder = Path(data_dir).expanduser()
        if not folder.is_dir():
            raise TinyBTError(f"--data-dir {folder}: no such folder")
        for cand in (folder, folder / name):
            if has_files(name, cand):
                return cand
        _require(name, folder)
    local = tinybt_home() / name
    if has_files(name, local):
        return local
    if name == "yelp":
        raise TinyBTError(YELP_HELP)
    if not download:
        raise TinyBTError(f"no local copy of {name} in {local}: run `tinybt data download "
                          f"{name}`, or download it elsewhere and pass --data-dir DIR")
    return download_dataset(name)


def url_of(name):
    return os.environ.get("TINYBT_DOWNLOAD_URL", BASE_URL).rstrip("/") + f"/{name}.zip"


def download_dataset(name, expected="published"):
    """Download, extract, verify and install `name` into $TINYBT_HOME/name; returns that folder.

    expected: counts to verify (default: the published ones; None skips the check).
    """
    if name == "yelp":
        raise TinyBTError(YELP_HELP)
    if name not in EXPECTED:
        raise TinyBTError(f"cannot download {name!r}; downloadable: {', '.join(EXPECTED)}")
    expected = EXPECTED[name] if expected == "published" else expected
    home = tinybt_home()
    target = home / name
    if has_files(name, target):
        return target
    archive = home / "downloads" / f"{name}.zip"
    check_folder(archive.parent, "download")       # a read-only $TINYBT_HOME fails before fetching
    archive.parent.mkdir(parents=True, exist_ok=True)
    if not archive.is_file():
        fetch(url_of(name), archive)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=home))
    try:
        safe_extract(archive, tmp)
        folder = next((c for c in (tmp / name, tmp) if has_files(name, c)), None)
        if folder is None:
            raise TinyBTError(f"{archive} does not contain the {name} files "
                              f"{', '.join(movielens.FILES[name])}")
        if expected:
            verify(name, parse_folder(name, folder), expected)
        os.replace(folder, target)
    except BaseException:
        archive.unlink(missing_ok=True)  # a bad archive must be fetched again, not reused
        raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    archive.unlink()
    return target


def fetch(url, dest):
    """Download url to dest via dest.part, resuming a partial .part with an HTTP Range request."""
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.is_file() else 0
    headers = {"User-Agent": "tinybt"} | ({"Range": f"bytes={have}-"} if have else {})
    howto = (f"download {url} elsewhere, unzip it and pass --data-dir DIR "
             f"(the folder holding its files); downloads are cached in {tinybt_home()} "
             "(set TINYBT_HOME to use another folder)")
    try:
        resp = urlopen(Request(url, headers=headers), timeout=60)
    except HTTPError as e:
        if e.code == 416 and have:  # nothing left to fetch: the part file is complete
            os.replace(part, dest)
            return
        raise TinyBTError(f"could not download {url}: HTTP {e.code} {e.reason}; {howto}") from None
    except (URLError, OSError) as e:
        raise TinyBTError(f"could not download {url} ({getattr(e, 'reason', e)}); {howto}") from None
    with resp:
        if have and resp.status != 206:  # the server ignored the Range: start over
            have = 0
        size = resp.headers.get("Content-Length")
        total = have + int(size) if size is not None else None
        with open(part, "ab" if have else "wb") as f, click.progressbar(
                length=total or 0, label=f"downloading {url}", file=sys.stderr) as bar:
            bar.update(have)
            try:
                while chunk := resp.read(1 << 16):
                    f.write(chunk)
                    bar.update(len(chunk))
            except OSError as e:
                raise TinyBTError(f"download of {url} interrupted ({e}); run the command again "
                                  f"to resume, or {howto}") from None
            got = f.tell()
    if total is not None and got != total:
        raise TinyBTError(f"download of {url} stopped after {got} of {total} bytes; run the "
                          f"command again to resume, or {howto}")
    os.replace(part, dest)


def safe_extract(archive, folder):
    """Extract a zip into folder, refusing members that would land outside it."""
    try:
        with zipfile.ZipFile(archive) as z:
            for m in z.infolist():
                p = PurePosixPath(m.filename.replace("\\", "/"))
                if p.is_absolute() or ".." in p.parts or (p.parts and ":" in p.parts[0]):
                    raise TinyBTError(f"{archive}: refusing to extract {m.filename!r}, "
                                      "it would be written outside the target folder")
            z.extractall(folder)
    except (zipfile.BadZipFile, EOFError, zipfile.LargeZipFile) as e:
        raise TinyBTError(f"{archive} is not a valid zip archive ({e}); it was deleted: run "
                          "the command again to download it anew") from None


def verify(name, ds, expected):
    """Compare the parsed dataset's counts with the published ones."""
    got = {"ratings": len(ds.user), "users": int(np.count_nonzero(np.bincount(ds.user))),
           "items": ds.n_items, "rated_items": int(np.count_nonzero(np.bincount(ds.item)))}
    bad = [f"{k} {got[k]:,} (expected {v:,})" for k, v in expected.items() if got[k] != v]
    if bad:
        raise TinyBTError(f"the downloaded {name} does not match its published counts: "
                          f"{', '.join(bad)}; the archive may be damaged or a different release")
