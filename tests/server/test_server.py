"""`cerebro serve` over real HTTP: an index of the eight sample images built
with the bundled model, the server on a free loopback port; and one of the
samples in each other format (tests/format_samples.py: WebP, GIF, TIFF, BMP,
HEIC, AVIF, JPEG XL), sent as they are or transcoded to JPEG.

The environment names the program and data (tests/server/CMakeLists.txt):
CEREBRO_PROGRAM, CEREBRO_TEST_MODEL, CEREBRO_SAMPLE_IMAGES, CEREBRO_WEB,
CEREBRO_TEST_WORK, CEREBRO_VIDEO_MEDIA (tests/video's generated videos).
"""

from __future__ import annotations

import hashlib
import http.client
import io
import json
import math
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
from PIL import Image

PROGRAM = Path(os.environ["CEREBRO_PROGRAM"])
MODEL = Path(os.environ["CEREBRO_TEST_MODEL"])
IMAGES = Path(os.environ["CEREBRO_SAMPLE_IMAGES"])
WEB = Path(os.environ["CEREBRO_WEB"])
WORK = Path(os.environ["CEREBRO_TEST_WORK"])
VIDEOS = Path(os.environ["CEREBRO_VIDEO_MEDIA"])

# Queries the bundled (small, weak) model answers right on the samples:
# each one's best hit, checked with `cerebro search`.
KNOWN = {"a frog": "frog.png", "a flamingo": "birds/flamingo.png", "a penguin": "birds/penguin.png",
         "an owl": "birds/owl.png"}
HIT_KEYS = {"id", "score", "path", "width", "height", "timestamp", "kind", "thumb", "image", "relevance"}


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> dict:
        assert self.headers["Content-Type"] == "application/json", self.headers["Content-Type"]
        return json.loads(self.body)


class Server:
    """A running `cerebro serve`; its access log goes to a file."""

    def __init__(self, db: Path, roots: list[Path], log: Path, *extra: str, env: dict[str, str] | None = None,
                 preexec_fn=None, listening: str = r"http://127\.0\.0\.1") -> None:
        self.log_path = log
        self.log = open(log, "wb")
        self.proc = subprocess.Popen(
            [str(PROGRAM), "--db", str(db), "--model", str(MODEL), "serve", "--port", "0", *extra,
             *map(str, roots)],
            stdout=subprocess.PIPE, stderr=self.log, env=env or clean_env(), preexec_fn=preexec_fn)
        line = read_line(self.proc, 120)
        m = re.fullmatch(rf"listening on {listening}:(\d+)/\n", line)
        assert m, f"unexpected first line {line!r}; log:\n{log.read_text()}"
        self.port = int(m.group(1))

    def request(self, path: str, method: str = "GET", headers: dict[str, str] | None = None,
                body: bytes | None = None) -> Reply:
        """Sends `path` byte for byte (http.client does not normalise it)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            conn.putrequest(method, path, skip_host="Host" in (headers or {}), skip_accept_encoding=True)
            for k, v in (headers or {}).items():
                conn.putheader(k, v)
            if body is not None:
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
            r = conn.getresponse()
            return Reply(r.status, r.headers, r.read())
        finally:
            conn.close()

    def get(self, path: str, **headers: str) -> Reply:
        return self.request(path, headers={k.replace("_", "-"): v for k, v in headers.items()})

    def api(self, path: str) -> dict:
        r = self.get(path)
        assert r.status == 200, f"{path}: {r.status} {r.body!r}"
        return r.json()

    def wait_for_log(self, pattern: str, timeout: float = 60) -> str:
        """The log once a line matches `pattern` (a request's line is written
        when it completes, after the answer has gone out)."""
        deadline = time.monotonic() + timeout
        while not re.search(pattern, log := self.log_path.read_text(), re.M):
            assert self.proc.poll() is None, f"the server exited with {self.proc.returncode}:\n{log[-2000:]}"
            assert time.monotonic() < deadline, f"no log line matching {pattern!r}:\n{log[-2000:]}"
            time.sleep(0.01)
        return log

    def has_read(self, clients: list[socket.socket]) -> bool:
        """Whether the server has read what each client sent (/proc/net/tcp):
        its end of the connection is established with an empty receive queue,
        or it has answered already (the client's end holds data, or the
        server's FIN: CLOSE_WAIT)."""
        want = {c.getsockname()[1] for c in clients}
        done = set()
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
            f = line.split()
            local, remote = int(f[1].split(":")[1], 16), int(f[2].split(":")[1], 16)
            state, received = f[3], int(f[4].split(":")[1], 16)
            if local == self.port and remote in want and state == "01" and received == 0:
                done.add(remote)
            elif remote == self.port and local in want and (received > 0 or state == "08"):
                done.add(local)
        return want <= done

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        finally:
            self.log.close()


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CEREBRO_")}
    env["OMP_WAIT_POLICY"] = "PASSIVE"
    return env


def read_line(proc: subprocess.Popen, timeout: float) -> str:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    if not ready:
        proc.kill()
        raise AssertionError(f"no line from the server in {timeout} s")
    return proc.stdout.readline().decode()


def make_index(name: str, videos: list[str] | None = None) -> tuple[Path, Path]:
    """WORK/name/photos: the samples, birds in birds/ (or the videos named,
    from VIDEOS); indexed into WORK/name/db."""
    base = WORK / name
    shutil.rmtree(base, ignore_errors=True)
    photos = base / "photos"
    (photos / "birds").mkdir(parents=True)
    if videos is not None:
        for v in videos:
            shutil.copy(VIDEOS / v, photos / v)
    else:
        for p in IMAGES.iterdir():
            if p.suffix in (".jpg", ".png"):
                dest = photos / "birds" if p.stem in ("owl", "penguin", "flamingo") else photos
                shutil.copy(p, dest / p.name)
    db = base / "db"
    r = subprocess.run([str(PROGRAM), "--db", str(db), "--model", str(MODEL), "index", str(photos)],
                       capture_output=True, text=True, env=clean_env(), timeout=600)
    expected = f"indexed {len(videos) if videos is not None else 8},"
    assert r.returncode == 0 and expected in r.stdout, r.stdout + r.stderr
    return db, photos


@pytest.fixture(scope="module")
def index() -> tuple[Path, Path]:
    return make_index("main")


@pytest.fixture(scope="module")
def server(index: tuple[Path, Path]) -> Iterator[Server]:
    db, photos = index
    # The concurrency test opens 32 connections at once and a new one per
    # request: more than the default 32 per client while closed ones drain.
    s = Server(db, [photos], WORK / "main" / "server.log", "--max-per-client", "256")
    yield s
    assert s.stop() == 0, s.log_path.read_text()


def search(server: Server, q: str, **params: str) -> dict:
    from urllib.parse import urlencode
    return server.api("/api/search?" + urlencode({"q": q, **params}))


def by_path(server: Server) -> dict[str, dict]:
    """Every item, by relative path (a search with k over the count)."""
    return {h["path"]: h for h in search(server, "anything", k="200")["results"]}


# ---- the API -------------------------------------------------------------------------------


def test_search_fields_and_relative_paths(server: Server, index: tuple[Path, Path]) -> None:
    db, photos = index
    j = search(server, "a frog", k="5")
    assert j["query"] == "a frog" and j["k"] == 5 and j["count"] == 5 == len(j["results"])
    assert isinstance(j["took_ms"], float) and isinstance(j["cached"], bool)
    scores = [h["score"] for h in j["results"]]
    assert scores == sorted(scores, reverse=True)
    for h in j["results"]:
        assert set(h) == HIT_KEYS, h
        assert not h["path"].startswith("/") and (photos / h["path"]).is_file(), h["path"]
        assert h["kind"] == "image" and h["timestamp"] is None
        assert h["thumb"] == f"/api/thumb/{h['id']}" and h["image"] == f"/api/image/{h['id']}"
        with Image.open(photos / h["path"]) as im:
            assert (h["width"], h["height"]) == im.size
    # The scores are the library's: the same as `cerebro search` gives on
    # the same index (4 decimals here, 6 there).
    r = subprocess.run([str(PROGRAM), "--db", str(db), "--model", str(MODEL), "search", "a frog", "-k", "5",
                        "--json"], capture_output=True, text=True, env=clean_env(), timeout=300)
    assert r.returncode == 0, r.stderr
    cli = [json.loads(line) for line in r.stdout.splitlines()]
    assert [h["id"] for h in cli] == [h["id"] for h in j["results"]], (cli, j["results"])
    assert scores == pytest.approx([h["score"] for h in cli], abs=5e-5 + 1e-6)
    everything = search(server, "a frog")
    assert everything["k"] == 24 and everything["count"] == 8
    # Eight items are too few for a relevance: null, and no cutoff.
    assert all(h["relevance"] is None for h in everything["results"])
    assert search(server, "zxqv blorp", min="100")["count"] == 8


def test_known_answers(server: Server) -> None:
    for q, best in KNOWN.items():
        assert search(server, q, k="3")["results"][0]["path"] == best, q


def test_prefix_is_relative_to_the_root(server: Server) -> None:
    j = search(server, "an owl", prefix="birds")
    assert j["count"] == 3 and all(h["path"].startswith("birds/") for h in j["results"]), j
    assert search(server, "an owl", prefix="birds/")["count"] == 3
    assert search(server, "an owl", prefix="bi")["count"] == 3  # a plain prefix when not a folder
    assert search(server, "an owl", prefix="nothing-here")["count"] == 0
    assert search(server, "an owl", prefix="")["count"] == 8
    r = server.get("/api/search?q=owl&prefix=../photos")
    assert r.status == 400 and "error" in r.json()


def test_repeated_query_hits_the_caches(server: Server) -> None:
    def caches() -> tuple[dict, dict]:
        s = server.api("/api/stats")
        return s["cache"], s["results"]

    emb0, res0 = caches()
    first = search(server, "a frog on a lily pad")
    again = search(server, "a frog on a lily pad")
    # Texts that tokenize alike share the entries.
    variant = search(server, "  A FROG on a  lily pad ")
    emb1, res1 = caches()
    assert (first["cached"], again["cached"], variant["cached"]) == (False, True, True)
    assert variant["query"] == "  A FROG on a  lily pad "
    assert first["results"] == again["results"] == variant["results"]
    assert (res1["hits"] - res0["hits"], res1["misses"] - res0["misses"]) == (2, 1)
    assert (emb1["misses"] - emb0["misses"], emb1["entries"] - emb0["entries"]) == (1, 1)
    # Another k is another search, from the cached embedding.
    fewer = search(server, "a frog on a lily pad", k="3")
    emb2, res2 = caches()
    assert fewer["cached"] and fewer["results"] == first["results"][:3]
    assert emb2["hits"] - emb1["hits"] == 1 and res2["misses"] - res1["misses"] == 1


def test_similar_leaves_the_item_out(server: Server) -> None:
    frog = by_path(server)["frog.png"]["id"]
    j = server.api(f"/api/similar/{frog}?k=7")
    assert j["id"] == frog and j["k"] == 7 and j["count"] == 7
    assert frog not in [h["id"] for h in j["results"]]
    assert all(set(h) == HIT_KEYS for h in j["results"])
    assert server.api(f"/api/similar/{frog}")["count"] == 7
    assert server.api(f"/api/similar/{frog}?k=2")["count"] == 2
    for path in ("/api/similar/999999", "/api/similar/abc", "/api/similar/", "/api/similar/-1"):
        r = server.get(path)
        assert r.status == 404 and r.json()["error"], path
    assert server.get(f"/api/similar/{frog}?k=0").status == 400


def test_item_and_stats(server: Server, index: tuple[Path, Path]) -> None:
    _, photos = index
    items = by_path(server)
    owl = server.api(f"/api/item/{items['birds/owl.png']['id']}")
    assert set(owl) == HIT_KEYS and owl["path"] == "birds/owl.png" and owl["score"] == 1.0
    assert owl["relevance"] is None
    assert server.get("/api/item/123456").status == 404
    s = server.api("/api/stats")
    assert (s["items"], s["files"], s["failed"], s["dim"], s["structure"]) == (8, 8, 0, 128, "Flat")
    assert re.fullmatch(r"[0-9a-f]{64}", s["model"]), s["model"]
    version = subprocess.run([str(PROGRAM), "--version"], capture_output=True, text=True).stdout
    assert f"(libcerebro {s['version']})" in version
    assert s["root"] == str(photos.resolve())
    assert s["requests"] >= 1 and s["uptime_s"] >= 0
    assert set(s["cache"]) >= {"entries", "hits", "misses"}


def test_image_bytes_type_and_validators(server: Server, index: tuple[Path, Path]) -> None:
    _, photos = index
    for path, hit in by_path(server).items():
        r = server.get(hit["image"])
        data = (photos / path).read_bytes()
        assert r.status == 200 and r.body == data, path
        assert r.headers["Content-Type"] == ("image/png" if path.endswith(".png") else "image/jpeg")
        assert r.headers["ETag"] and "max-age" in r.headers["Cache-Control"]
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        again = server.get(hit["image"], If_None_Match=r.headers["ETag"])
        assert again.status == 304 and again.body == b""
    assert server.get("/api/image/999999").status == 404


def test_image_ranges(server: Server, index: tuple[Path, Path]) -> None:
    _, photos = index
    hit = by_path(server)["lion.jpg"]
    data = (photos / "lion.jpg").read_bytes()
    n = len(data)
    for spec, lo, hi in (("10-19", 10, 19), ("-5", n - 5, n - 1), (f"{n - 7}-", n - 7, n - 1),
                         (f"0-{n + 100}", 0, n - 1)):
        r = server.get(hit["image"], Range=f"bytes={spec}")
        assert r.status == 206, spec
        assert r.body == data[lo:hi + 1], spec
        assert r.headers["Content-Range"] == f"bytes {lo}-{hi}/{n}", spec
    r = server.get(hit["image"], Range=f"bytes={n}-")
    assert r.status == 416 and r.headers["Content-Range"] == f"bytes */{n}"
    # A stale If-Range gets the whole file; junk ranges are ignored.
    assert server.get(hit["image"], Range="bytes=0-9", If_Range='"stale"').body == data
    assert server.get(hit["image"], Range="bytes=x-y").body == data
    head = server.request(hit["image"], method="HEAD")
    assert head.status == 200 and head.body == b"" and int(head.headers["Content-Length"]) == n


def test_thumbnails(server: Server, index: tuple[Path, Path]) -> None:
    _, photos = index
    items = by_path(server)
    for path, size in (("giraffe.jpg", 64), ("frog.png", 100), ("birds/penguin.png", 512)):
        r = server.get(f"{items[path]['thumb']}?size={size}")
        assert r.status == 200 and r.headers["Content-Type"] == "image/jpeg", path
        with Image.open(io.BytesIO(r.body)) as t, Image.open(photos / path) as orig:
            assert t.format == "JPEG" and max(t.size) == size, (path, t.size)
            w, h = orig.size
            assert abs(t.size[0] / t.size[1] - w / h) < 0.05, (path, t.size, orig.size)
            if path.endswith(".jpg"):
                # Decoded at half size (CEREBRO_IMAGE_DRAFT): still the picture PIL's
                # full-size resize gives, within JPEG's and the reduced IDCT's rounding.
                want = np.asarray(orig.convert("RGB").resize(t.size, Image.BICUBIC), np.float32)
                diff = np.abs(np.asarray(t.convert("RGB"), np.float32) - want)
                assert diff.mean() < 4.0, (path, diff.mean())
        assert r.headers["ETag"] and r.headers["Cache-Control"]
        assert server.get(f"{items[path]['thumb']}?size={size}", If_None_Match=r.headers["ETag"]).status == 304
    r = server.get(items["lion.jpg"]["thumb"])
    with Image.open(io.BytesIO(r.body)) as t:
        assert max(t.size) == 256
    before = server.api("/api/stats")["thumbs"]["hits"]
    assert server.get(items["lion.jpg"]["thumb"]).body == r.body
    assert server.api("/api/stats")["thumbs"]["hits"] == before + 1
    for bad in ("31", "1025", "abc", "", "-64"):
        assert server.get(f"{items['lion.jpg']['thumb']}?size={bad}").status == 400, bad
    assert server.get("/api/thumb/999999").status == 404


def test_web_page_and_static_files(server: Server) -> None:
    types = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
             ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml", ".png": "image/png",
             ".ico": "image/x-icon"}
    assert (WEB / "index.html").is_file(), "programs/web/index.html is missing"
    r = server.get("/")
    assert r.status == 200 and r.headers["Content-Type"] == "text/html; charset=utf-8"
    assert r.body == (WEB / "index.html").read_bytes()
    assert server.get("/", If_None_Match=r.headers["ETag"]).status == 304
    for f in WEB.rglob("*"):
        if f.is_file() and not any(part.startswith(".") for part in f.relative_to(WEB).parts):
            r = server.get("/static/" + f.relative_to(WEB).as_posix())
            assert r.status == 200 and r.body == f.read_bytes(), f
            if f.suffix in types:
                assert r.headers["Content-Type"] == types[f.suffix], f
    assert server.get("/static/no-such-file.js").status == 404


# ---- what the server refuses -----------------------------------------------------------------


def assert_error(r: Reply, status: int, what: str) -> None:
    assert r.status == status, f"{what}: {r.status} {r.body!r}"
    assert isinstance(r.json()["error"], str) and r.json()["error"], what


def test_bad_parameters(server: Server) -> None:
    cases = {
        "/api/search": "missing q", "/api/search?q=": "empty q", "/api/search?q=+%20%09": "blank q",
        "/api/search?q=" + "a" * 513: "q over 512 bytes", "/api/search?q=" + "%C3%A9" * 256 + "a": "513 bytes",
        "/api/search?q=x&k=0": "k 0", "/api/search?q=x&k=201": "k 201", "/api/search?q=x&k=ten": "k ten",
        "/api/search?q=x&k=-1": "k -1", "/api/search?q=x&k=": "k empty",
        "/api/search?q=%zz": "bad escape", "/api/search?q=%e9": "Latin-1 byte, not UTF-8",
        "/api/search?q=%": "truncated escape", "/api/search?q=ab%4": "truncated escape",
        "/api/search?q=a%00b": "encoded NUL", "/api/search?q=%C0%AF": "overlong UTF-8",
        "/api/search?q=%ED%A0%80": "surrogate", "/api/item/1%zz": "bad escape in the path",
        "/api/search?" + "&".join(f"p{i}=1" for i in range(17)) + "&q=x": "too many parameters",
    }
    for path, what in cases.items():
        assert_error(server.get(path), 400, what)
    for bad in ["abc", "-1", "100.5", "101", "nan", "inf", "", "%204", "0x10", "4,5"]:
        for path in (f"/api/search?q=x&min={bad}", f"/api/similar/1?min={bad}"):
            r = server.get(path)
            assert_error(r, 400, f"min={bad}")
            assert "min (the minimum relevance) must be a number from 0 to 100" in r.json()["error"], r.body
    assert server.get("/api/search?q=" + "%C3%A9" * 256).status == 200  # exactly 512 bytes
    assert search(server, "café")["query"] == "café"


def test_unknown_routes_and_methods(server: Server) -> None:
    for path in ("/api/nope", "/nope", "/api", "/api/search/extra", "/static/"):
        assert_error(server.get(path), 404, path)
    for method in ("POST", "PUT", "DELETE", "PATCH", "OPTIONS"):
        r = server.request("/api/search?q=x", method=method, body=b"{}" if method != "OPTIONS" else None)
        assert_error(r, 405, method)
        assert r.headers["Allow"] == "GET, HEAD"
    assert_error(server.request("/api/stats", body=b"x" * 100), 413, "GET with a body")


def test_size_limits(server: Server) -> None:
    assert_error(server.get("/api/search?q=x&pad=" + "a" * 9000), 414, "9 kB URL")
    assert_error(server.get("/api/stats", **{f"X-Pad-{i}": "b" * 4000 for i in range(5)}), 431, "20 kB headers")
    # Past the connection's memory MHD answers by itself; the status is what counts.
    assert server.get("/api/search?q=" + "a" * 200_000).status == 414
    assert server.get("/api/stats", X_Pad="c" * 200_000).status == 431
    assert server.api("/api/stats")["items"] == 8  # still serving


def test_no_file_outside_the_index(server: Server) -> None:
    secret = b"root:"
    attempts = ["/static/../index.html", "/static/../../../../etc/passwd", "/api/image/../../etc/passwd",
                "/static/%2e%2e/%2e%2e/etc/passwd", "/static/..%2f..%2f..%2fetc%2fpasswd",
                "/static//etc/passwd", "/static/%2fetc%2fpasswd", "/api/image/1/../../../../etc/passwd",
                "/api/image/%2e%2e%2f%2e%2e%2fetc%2fpasswd", "/api/thumb/..%2f..%2fetc%2fpasswd",
                "/static/./index.html", "/static/index.html%00.png", "//etc/passwd", "/etc/passwd"]
    for path in attempts:
        r = server.get(path)
        assert r.status in (400, 404), f"{path}: {r.status}"
        assert secret not in r.body and r.json()["error"], path


def test_host_header_guard(server: Server) -> None:
    assert_error(server.get("/api/stats", Host="evil.example"), 403, "DNS rebinding")
    assert_error(server.get("/api/stats", Host=f"evil.example:{server.port}"), 403, "with a port")
    # Two Host headers are malformed (RFC 9112, 3.2).
    conn = socket.create_connection(("127.0.0.1", server.port))
    conn.sendall(b"GET /api/stats HTTP/1.1\r\nHost: localhost\r\nHost: evil.example\r\n\r\n")
    assert conn.recv(100).startswith(b"HTTP/1.1 400 ")
    conn.close()
    for host in (f"localhost:{server.port}", f"127.0.0.1:{server.port}", "LOCALHOST", f"[::1]:{server.port}"):
        assert server.get("/api/stats", Host=host).status == 200, host


def test_concurrent_requests_are_all_right(server: Server) -> None:
    queries = [f"{q}{' ' * (i % 3)}{'!' * (i % 2)}" for i in range(8) for q in KNOWN]
    expected = {q: search(server, q, k="8")["results"] for q in set(queries)}
    frog = by_path(server)["frog.png"]["id"]
    similar = server.api(f"/api/similar/{frog}?k=7")["results"]

    def one(i: int) -> None:
        q = queries[i % len(queries)]
        j = search(server, q, k="8")
        assert j["query"] == q and j["results"] == expected[q], q
        assert server.api(f"/api/similar/{frog}?k=7")["results"] == similar
        assert server.get(f"/api/thumb/{frog}?size={32 + i}").status == 200

    with ThreadPoolExecutor(max_workers=32) as pool:
        list(pool.map(one, range(96)))


def test_keep_alive(server: Server) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        for q in ("a", "a f", "a fr", "a frog"):
            conn.request("GET", f"/api/search?q={q.replace(' ', '+')}")
            r = conn.getresponse()
            assert r.status == 200 and json.loads(r.read())["query"] == q
            assert r.getheader("Connection") != "close"
    finally:
        conn.close()


def test_access_log(server: Server) -> None:
    server.get("/api/stats?marker=1")
    server.get("/nope?marker=2")
    # Each line is written when its request completes, by the thread that
    # served it: the two may come in either order.
    for marker in ("marker=1", "marker=2"):
        log = server.wait_for_log(f'"GET [^"]*{marker}"')
    assert re.search(r'^127\.0\.0\.1 "GET /api/stats\?marker=1" 200 \d+ [\d.]+ms$', log, re.M), log[-2000:]
    assert re.search(r'^127\.0\.0\.1 "GET /nope\?marker=2" 404 \d+ [\d.]+ms$', log, re.M), log[-2000:]


# ---- a second server: several roots, vanished files, shutdown, the command line -----------------


def test_roots_vanished_files_and_shutdown() -> None:
    db, photos = make_index("second")
    s = Server(db, [photos, photos / "birds"], WORK / "second" / "server.log", "--threads", "3",
               "--max-per-client", "64")
    try:
        items = by_path(s)
        # The deepest root holding a file names it.
        assert set(items) == {"elephant.jpg", "frog.png", "giraffe.jpg", "lion.jpg", "tiger.jpg", "owl.png",
                              "penguin.png", "flamingo.png"}
        assert s.api("/api/stats")["roots"] == [str(photos.resolve()), str((photos / "birds").resolve())]
        # prefix applies under every root: "o" is owl.png in birds/.
        assert [h["path"] for h in search(s, "an owl", prefix="o")["results"]] == ["owl.png"]
        (photos / "tiger.jpg").unlink()
        tiger = items["tiger.jpg"]
        assert_error(s.get(tiger["image"]), 410, "vanished image")
        assert_error(s.get(tiger["thumb"]), 410, "vanished thumbnail")
        assert s.get(items["lion.jpg"]["image"]).status == 200
        # Requests in flight when SIGTERM comes are answered in full; an idle
        # keep-alive connection does not hold the shutdown up (a shutdown that
        # waited for it would sit out CONNECTION_TIMEOUT, 30 s, and stop()'s
        # 30 s wait would fail).
        idle = http.client.HTTPConnection("127.0.0.1", s.port, timeout=60)
        idle.request("GET", "/api/stats")
        assert idle.getresponse().read() and idle.sock is not None
        ids = [h["id"] for h in items.values() if h["path"] != "tiger.jpg"]
        busy = []
        for i in range(40):
            conn = socket.create_connection(("127.0.0.1", s.port))
            conn.sendall(f"GET /api/thumb/{ids[i % len(ids)]}?size={1024 - i} HTTP/1.1\r\n"
                         f"Host: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
            busy.append(conn)
        # SIGTERM only once the server has read every request, so that each
        # one is in flight rather than waiting in the listen queue (which a
        # stopping server closes). The answers are still being made: the
        # 40 thumbnails share 3 threads.
        deadline = time.monotonic() + 60
        while not s.has_read(busy):
            assert time.monotonic() < deadline and s.proc.poll() is None, "the server never read the requests"
            time.sleep(0.005)
        s.proc.send_signal(signal.SIGTERM)
        for conn in busy:
            conn.settimeout(30)
            reply = b""
            while chunk := conn.recv(65536):
                reply += chunk
            conn.close()
            head, _, body = reply.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200 ") and body[:2] == b"\xff\xd8", head[:200]
            length = re.search(rb"Content-Length: (\d+)", head, re.I)
            assert length and int(length.group(1)) == len(body), head
        assert s.stop(signal.SIGTERM) == 0, s.log_path.read_text()
        assert idle.sock.recv(1) == b"", "the idle connection is closed"
        idle.close()
        assert "cerebro serve: terminated: stopping" in s.log_path.read_text()
    finally:
        if s.proc.poll() is None:
            s.proc.kill()
    s = Server(db, [photos], WORK / "second" / "server2.log")
    assert s.stop(signal.SIGINT) == 0


def test_indexing_while_serving_is_taken_up() -> None:
    """Files indexed, changed or removed by another process while the server
    runs are searched within --refresh seconds; answers cached for the old
    state are not served again."""
    db, photos = make_index("refresh")
    s = Server(db, [photos], WORK / "refresh" / "server.log", "--refresh", "1")

    def index() -> None:
        r = subprocess.run([str(PROGRAM), "--db", str(db), "index", str(photos)],
                           capture_output=True, text=True, env=clean_env(), timeout=600)
        assert r.returncode == 0, r.stdout + r.stderr

    def wait_for(count: int, changes: int) -> None:
        """Until the server logged its changes-th new state, of count items."""
        deadline = time.monotonic() + 30
        while s.log_path.read_text().count("cerebro serve: the index changed:") < changes:
            assert time.monotonic() < deadline, s.log_path.read_text()
            time.sleep(0.2)
        assert f"the index changed: {count} items" in s.log_path.read_text()
        assert len(by_path(s)) == count

    try:
        before = search(s, "a frog")
        assert before["results"][0]["path"] == "frog.png"
        (photos / "frog.png").rename(WORK / "refresh" / "frog.png")
        (photos / "lion.jpg").unlink()
        index()
        wait_for(6, 1)
        after = search(s, "a frog")
        assert "frog.png" not in [h["path"] for h in after["results"]]
        assert "lion.jpg" not in by_path(s)
        shutil.copy(WORK / "refresh" / "frog.png", photos / "pond-frog.png")
        index()
        wait_for(7, 2)
        assert search(s, "a frog")["results"][0]["path"] == "pond-frog.png"
        assert "the index changed" in s.log_path.read_text()
        assert s.stop() == 0, s.log_path.read_text()
    finally:
        if s.proc.poll() is None:
            s.proc.kill()


def test_video_frames() -> None:
    videos = {"scenes.mp4": "video/mp4", "scenes.webm": "video/webm", "scenes.mkv": "video/x-matroska"}
    db, photos = make_index("video", list(videos))
    s = Server(db, [photos], WORK / "video" / "server.log")
    try:
        hits = search(s, "a frog", k="200")["results"]
        assert hits and {h["path"] for h in hits} == set(videos), hits
        for h in hits:
            assert h["kind"] == "frame" and isinstance(h["timestamp"], float) and 0 <= h["timestamp"] < 6.5, h
            assert (h["width"], h["height"]) == (320, 240), h
        for path, media_type in videos.items():
            h = next(h for h in hits if h["path"] == path)
            r = s.get(h["image"])
            assert r.status == 200 and r.headers["Content-Type"] == media_type, (path, r.headers)
            assert r.body == (photos / path).read_bytes()
            part = s.get(h["image"], Range="bytes=100-1099")
            assert part.status == 206 and part.body == r.body[100:1100]
            # The thumbnail is the frame at the hit's time: 320x240 scaled to 128 wide.
            t = s.get(f"{h['thumb']}?size=128")
            assert t.status == 200 and t.headers["Content-Type"] == "image/jpeg", (path, t.body[:200])
            with Image.open(io.BytesIO(t.body)) as im:
                assert im.size == (128, 96), (path, im.size)
        # The tiger's scene (0-3 s) and the frog's (3-6 s) give different thumbnails.
        mp4 = sorted((h for h in hits if h["path"] == "scenes.mp4"), key=lambda h: h["timestamp"])
        if mp4[0]["timestamp"] < 3 <= mp4[-1]["timestamp"]:
            assert s.get(mp4[0]["thumb"]).body != s.get(mp4[-1]["thumb"]).body
    finally:
        assert s.stop() == 0, s.log_path.read_text()


def default_min_relevance() -> float:
    """The library's default cutoff, as `cerebro search --help` names it."""
    out = subprocess.run([str(PROGRAM), "search", "--help"], capture_output=True, text=True, timeout=120).stdout
    m = re.search(r"--min-relevance X\n.*\(default ([0-9.]+)\)", out)
    assert m, out
    return float(m.group(1))


def relevance_calibration(bundle: Path) -> tuple:
    """The bundle's "relevance" record (size_slope, threshold), else the library's fallback
    (0.38 and its default cutoff)."""
    with zipfile.ZipFile(bundle) as archive:
        name = next(n for n in archive.namelist() if n.endswith("extra/cerebro/config.json"))
        record = json.loads(archive.read(name)).get("relevance")
    return (record["size_slope"], record["threshold"]) if record else (0.38, default_min_relevance())


def test_relevance_and_min() -> None:
    """An index of 58 items (the samples and 50 noise pictures): every hit
    has its relevance (size-adjusted standard score); min (default: the library's) leaves out the hits
    below it, and the answer says which min it used."""
    db, photos = make_index("relevance")
    rng = np.random.default_rng(5)
    for i in range(50):
        Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(photos / f"noise{i:02d}.png")
    r = subprocess.run([str(PROGRAM), "--db", str(db), "--model", str(MODEL), "index", str(photos)],
                       capture_output=True, text=True, env=clean_env(), timeout=600)
    assert r.returncode == 0 and "indexed 50," in r.stdout, r.stdout + r.stderr
    default = default_min_relevance()
    s = Server(db, [photos], WORK / "relevance" / "server.log")
    try:
        for q in ["a frog", "zxqv blorp"]:
            every = search(s, q, k="200", min="0")
            assert every["min"] == 0 and every["count"] == 58, every
            hits = every["results"]
            scores = np.array([h["score"] for h in hits])
            # the standard score less the store-size term of cerebro.h, moved by the
            # bundle's calibration when it carries one (docs/bundle-format.md)
            slope, threshold = relevance_calibration(MODEL)
            size = slope * (math.sqrt(2 * math.log(58)) - math.sqrt(2 * math.log(2000)))
            want = (scores - scores.mean()) / scores.std() - size - (threshold - default)
            assert [h["relevance"] for h in hits] == pytest.approx(want, abs=0.03), q
            rels = [h["relevance"] for h in hits]
            for cut in (default, (rels[0] + rels[1]) / 2, (rels[5] + rels[6]) / 2):
                j = search(s, q, k="10", min=f"{cut:.4f}")
                assert j["min"] == pytest.approx(cut, abs=1e-4)
                assert [h["id"] for h in j["results"]] == [h["id"] for h in hits if h["relevance"] >= cut][:10]
            j = search(s, q)
            assert j["min"] == pytest.approx(default) and j["k"] == 24
            assert [h["id"] for h in j["results"]] == [h["id"] for h in hits if h["relevance"] >= default][:24]
            none = search(s, q, min="100")
            assert none["min"] == 100 and none["count"] == 0 and none["results"] == [], none
            # Nothing left: how relevant the best hit was ("no close match").
            assert none["best_relevance"] == pytest.approx(rels[0], abs=0.011), (none, rels[0])
            assert ("best_relevance" in j) == (j["count"] == 0) and "best_relevance" not in every
            nowhere = search(s, q, prefix="nothing-here")
            assert nowhere["count"] == 0 and "best_relevance" not in nowhere, nowhere
        frog = next(h for h in search(s, "a frog", k="200", min="0")["results"] if h["path"] == "frog.png")
        near = s.api(f"/api/similar/{frog['id']}?k=5&min=0")
        assert near["min"] == 0 and near["count"] == 5 and all(isinstance(h["relevance"], float)
                                                              for h in near["results"])
        assert s.api(f"/api/similar/{frog['id']}?min=100")["count"] == 0
        assert s.api(f"/api/similar/{frog['id']}")["min"] == pytest.approx(default)
        assert s.api(f"/api/item/{frog['id']}")["relevance"] is None
        every = search(s, "a frog", k="200", min="0")["results"]
    finally:
        assert s.stop() == 0, s.log_path.read_text()
    # --min-relevance: the server's own default min.
    s = Server(db, [photos], WORK / "relevance" / "server2.log", "--min-relevance", "1.5")
    try:
        j = search(s, "a frog")
        assert j["min"] == 1.5
        assert [h["id"] for h in j["results"]] == [h["id"] for h in every if h["relevance"] >= 1.5][:24]
        assert search(s, "a frog", min="0")["count"] == 24
    finally:
        assert s.stop() == 0, s.log_path.read_text()


def test_command_line() -> None:
    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(PROGRAM), *args], capture_output=True, text=True, env=clean_env(), timeout=120)

    h = run("serve", "--help")
    assert h.returncode == 0 and h.stdout.startswith("usage: cerebro serve") and "ROOT" in h.stdout
    assert run("help", "serve").stdout == h.stdout
    assert "serve" in run("--help").stdout
    assert re.search(r"--min-relevance X .*\n.*\(default [0-9.]+, as", h.stdout), h.stdout
    for args in (["--port", "70000"], ["--port", "x"], ["--threads", "0"], ["--bogus"], ["--cache", "0"],
                 ["--min-relevance", "-1"], ["--min-relevance", "nan"], ["--min-relevance", "101"]):
        r = run("serve", *args)
        assert r.returncode == 2 and "--help" in r.stderr, (args, r.stderr)
    r = run("--db", str(WORK / "main" / "db"), "serve", str(WORK / "no-such-folder"))
    assert r.returncode == 1 and "not a folder" in r.stderr, r.stderr


# ---- the other image formats ---------------------------------------------------------------

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from format_samples import FORMATS, write_sample  # noqa: E402

# One sample picture per format, so each is a different item.
FORMAT_SOURCES = {"webp": "frog.png", "gif": "owl.png", "tiff": "giraffe.jpg", "bmp": "lion.jpg",
                  "heic": "penguin.png", "avif": "flamingo.png", "jxl": "tiger.jpg"}


@dataclass
class FormatIndex:
    server: Server
    photos: Path
    refs: Path
    items: dict[str, dict]  # relative path -> hit
    report: str  # what `cerebro index` printed


@pytest.fixture(scope="module")
def formats() -> Iterator[FormatIndex]:
    """WORK/formats/photos: one file of each format; indexed, served."""
    base = WORK / "formats"
    shutil.rmtree(base, ignore_errors=True)
    photos, refs = base / "photos", base / "refs"
    photos.mkdir(parents=True)
    refs.mkdir()
    for fmt, source in FORMAT_SOURCES.items():
        write_sample(fmt, IMAGES / source, photos, Path(source).stem, refs)
    db = base / "db"
    r = subprocess.run([str(PROGRAM), "--db", str(db), "--model", str(MODEL), "index", str(photos)],
                       capture_output=True, text=True, env=clean_env(), timeout=600)
    s = Server(db, [photos], base / "server.log")
    try:
        yield FormatIndex(s, photos, refs, by_path(s), r.stdout + r.stderr)
    finally:
        assert s.stop() == 0, s.log_path.read_text()


def format_hit(f: FormatIndex, fmt: str) -> tuple[str, dict]:
    path = Path(FORMAT_SOURCES[fmt]).stem + FORMATS[fmt][0]
    assert path in f.items, f"{path} was not indexed:\n{f.report}"
    return path, f.items[path]


def mean_diff(a: Image.Image, b: Image.Image) -> float:
    assert a.size == b.size, (a.size, b.size)
    return float(np.abs(np.asarray(a.convert("RGB"), np.float32) - np.asarray(b.convert("RGB"), np.float32)).mean())


@pytest.mark.parametrize("fmt", list(FORMAT_SOURCES))
def test_format_image(formats: FormatIndex, fmt: str) -> None:
    """Browsers' formats as they are, with the type sniffed from the bytes;
    HEIC, TIFF and JPEG XL as JPEG of the same size and picture, cached and
    validated like thumbnails."""
    path, hit = format_hit(formats, fmt)
    s = formats.server
    with Image.open(formats.refs / f"{path}.png") as ref:
        want = ref.convert("RGB")
    assert (hit["width"], hit["height"]) == want.size, hit
    r = s.get(hit["image"])
    assert r.status == 200, (path, r.status, r.body[:300])
    assert r.headers["Content-Type"] == FORMATS[fmt][2], (path, r.headers["Content-Type"])
    assert r.headers["ETag"] and "max-age" in r.headers["Cache-Control"]
    assert s.get(hit["image"], If_None_Match=r.headers["ETag"]).status == 304
    if FORMATS[fmt][2] != "image/jpeg":
        assert r.body == (formats.photos / path).read_bytes(), path
        return
    with Image.open(io.BytesIO(r.body)) as got:
        assert got.format == "JPEG" and got.size == want.size, (path, got.format, got.size)
        # Quality 90 over the decoder's pixels (lossless here, but for HEIC).
        assert mean_diff(got, want) < 4.0, (path, mean_diff(got, want))
    before = s.api("/api/stats")["thumbs"]["hits"]
    again = s.get(hit["image"])
    assert again.body == r.body and again.headers["ETag"] == r.headers["ETag"]
    assert s.api("/api/stats")["thumbs"]["hits"] == before + 1


@pytest.mark.parametrize("fmt", list(FORMAT_SOURCES))
def test_format_thumbnail(formats: FormatIndex, fmt: str) -> None:
    path, hit = format_hit(formats, fmt)
    r = formats.server.get(f"{hit['thumb']}?size=64")
    assert r.status == 200 and r.headers["Content-Type"] == "image/jpeg", (path, r.status, r.body[:300])
    with Image.open(io.BytesIO(r.body)) as t, Image.open(formats.refs / f"{path}.png") as ref:
        assert t.format == "JPEG" and max(t.size) == 64, (path, t.size)
        w, h = ref.size
        assert abs(t.size[0] / t.size[1] - w / h) < 0.05, (path, t.size, ref.size)
        assert mean_diff(t, ref.convert("RGB").resize(t.size, Image.BICUBIC)) < 6.0, path


def test_format_search(formats: FormatIndex) -> None:
    """Every format was indexed, and the searches the samples answer still
    find their picture in its new format."""
    names = {Path(FORMAT_SOURCES[f]).stem + FORMATS[f][0] for f in FORMAT_SOURCES}
    assert set(formats.items) == names, formats.report
    hits = search(formats.server, "a penguin", k="1")["results"]
    assert hits[0]["path"] == "penguin.heic", hits
