"""Downloads against a local HTTP server (127.0.0.1, random port) serving fixture zips."""

import http.server
import io
import threading
import zipfile

import pytest

from tinybt.data import download
from tinybt.data.load import load_dataset
from tinybt.errors import TinyBTError
from test_loaders import ML1M


class Server:
    """Serves `files` (name -> bytes) with HTTP Range support; records the Range headers."""

    def __init__(self):
        self.files, self.ranges = {}, []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                data = outer.files.get(self.path.lstrip("/"))
                if data is None:
                    self.send_error(404)
                    return
                rng = self.headers.get("Range")
                outer.ranges.append(rng)
                start = int(rng.split("=")[1].split("-")[0]) if rng else 0
                if start >= len(data):
                    self.send_error(416)
                    return
                self.send_response(206 if rng else 200)
                self.send_header("Content-Length", str(len(data) - start))
                self.end_headers()
                self.wfile.write(data[start:])

            def log_message(self, *args):
                pass

        self.httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture
def server(tmp_path, monkeypatch):
    s = Server()
    monkeypatch.setenv("TINYBT_DOWNLOAD_URL", s.url)
    monkeypatch.setenv("TINYBT_HOME", str(tmp_path / "home"))
    yield s
    s.httpd.shutdown()
    s.httpd.server_close()


def _zip(members):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, text in members.items():
            z.writestr(name, text)
    return buf.getvalue()


def _ml1m_zip():
    return _zip({f"ml-1m/{k}": v.encode("latin-1") for k, v in ML1M.items()})


def _fixture_counts():
    return {"ratings": 3, "users": 2, "rated_items": 2, "items": 3}


def test_download_extract_verify_and_load(server, tmp_path):
    server.files["ml-1m.zip"] = _ml1m_zip()
    folder = download.download_dataset("ml-1m", expected=_fixture_counts())
    assert folder == tmp_path / "home" / "ml-1m"
    assert sorted(p.name for p in folder.iterdir()) == sorted(ML1M)
    assert [p.name for p in (tmp_path / "home").iterdir() if p.name.startswith(".")] == []
    assert not list((tmp_path / "home" / "downloads").iterdir())  # archive removed
    assert len(load_dataset("ml-1m").user) == 3  # found locally, no second request
    assert len(server.ranges) == 1


def test_published_counts_are_checked(server, tmp_path):
    server.files["ml-1m.zip"] = _ml1m_zip()
    with pytest.raises(TinyBTError, match=r"ratings 3 \(expected 1,000,209\)"):
        download.download_dataset("ml-1m")
    assert not (tmp_path / "home" / "ml-1m").exists()


def test_resumes_a_truncated_partial_download(server, tmp_path):
    data = _ml1m_zip()
    server.files["ml-1m.zip"] = data
    part = tmp_path / "home" / "downloads" / "ml-1m.zip.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(data[:len(data) // 2])
    download.download_dataset("ml-1m", expected=_fixture_counts())
    assert server.ranges == [f"bytes={len(data) // 2}-"]
    assert (tmp_path / "home" / "ml-1m" / "ratings.dat").read_text() == ML1M["ratings.dat"]


def test_corrupt_zip_is_an_error_and_leaves_nothing(server, tmp_path):
    data = _ml1m_zip()
    server.files["ml-1m.zip"] = data[:20] + b"\0" * 50 + data[70:]
    with pytest.raises(TinyBTError, match="not a valid zip archive|does not contain"):
        download.download_dataset("ml-1m", expected=_fixture_counts())
    home = tmp_path / "home"
    assert sorted(p.name for p in home.iterdir()) == ["downloads"]
    assert not list((home / "downloads").iterdir())
    server.files["ml-1m.zip"] = b"this is not a zip file at all"
    with pytest.raises(TinyBTError, match="not a valid zip archive"):
        download.download_dataset("ml-1m", expected=_fixture_counts())
    assert sorted(p.name for p in home.iterdir()) == ["downloads"]


@pytest.mark.parametrize("evil", ["../evil.txt", "/abs/evil.txt", "ml-1m/../../evil.txt"])
def test_path_escaping_member_is_refused(server, tmp_path, evil):
    server.files["ml-1m.zip"] = _zip({**{f"ml-1m/{k}": v for k, v in ML1M.items()}, evil: "x"})
    with pytest.raises(TinyBTError, match="refusing to extract"):
        download.download_dataset("ml-1m", expected=_fixture_counts())
    assert not list(tmp_path.rglob("evil.txt"))
    assert sorted(p.name for p in (tmp_path / "home").iterdir()) == ["downloads"]


def test_offline_gives_one_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("TINYBT_HOME", str(tmp_path))
    monkeypatch.setenv("TINYBT_DOWNLOAD_URL", "http://127.0.0.1:9")  # discard port: refused
    with pytest.raises(TinyBTError, match="could not download .*pass --data-dir"):
        load_dataset("ml-100k")
    with pytest.raises(TinyBTError, match="tinybt data download ml-100k.*--data-dir"):
        load_dataset("ml-100k", download=False)
    with pytest.raises(TinyBTError, match="https://www.yelp.com/dataset.*--data-dir"):
        load_dataset("yelp")


def test_missing_archive_is_http_error(server):
    with pytest.raises(TinyBTError, match="HTTP 404"):
        download.download_dataset("ml-100k", expected=None)
