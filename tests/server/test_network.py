"""`cerebro serve` facing a network: a flood of half-open connections from
one client, deadlines for request heads and idle connections, the
connection limit sized from the descriptor limit, the access token on every
route, and TLS. Loopback only: the flooding client and the well-behaved one
are told apart by their source addresses (127.0.0.3 and 127.0.0.2; Linux
routes all of 127/8 to the loopback interface).

The environment is test_server.py's (tests/server/CMakeLists.txt).
"""

from __future__ import annotations

import http.client
import os
import re
import resource
import shutil
import signal
import socket
import ssl
import subprocess
import time
from pathlib import Path
from typing import Iterator

import pytest

from test_server import MODEL, PROGRAM, WEB, WORK, Reply, Server, by_path, clean_env, make_index

FLOODER, OTHER = "127.0.0.3", "127.0.0.2"
TOKEN = "s3cret-token-0123456789abcdef"
TCP_STATES = {"01": "ESTABLISHED", "08": "CLOSE_WAIT"}


@pytest.fixture(scope="module")
def index() -> tuple[Path, Path]:
    return make_index("network")


@pytest.fixture(scope="module", autouse=True)
def enough_descriptors() -> None:
    """The flood needs 2,000 sockets in this process; the servers started
    from here inherit the raised limit too."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < 4096:
        want = 4096 if hard == resource.RLIM_INFINITY else min(4096, hard)
        assert want >= 2200, f"the hard limit on open files ({hard}) is too low for the flood test"
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def request(port: int, path: str, source: str = OTHER, headers: dict[str, str] | None = None,
            method: str = "GET", timeout: float = 60) -> Reply:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout, source_address=(source, 0))
    try:
        conn.request(method, path, headers=headers or {})
        r = conn.getresponse()
        return Reply(r.status, r.headers, r.read())
    finally:
        conn.close()


def server_sockets(port: int, remote: str) -> dict[str, int]:
    """The server's TCP sockets on `port` with a peer at address `remote`,
    counted by state (/proc/net/tcp), connections not yet accepted included."""
    want = "".join(f"{int(b):02X}" for b in reversed(remote.split(".")))
    counts: dict[str, int] = {}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        f = line.split()
        local_port = int(f[1].split(":")[1], 16)
        if local_port == port and f[2].split(":")[0] == want:
            state = TCP_STATES.get(f[3], f[3])
            counts[state] = counts.get(state, 0) + 1
    return counts


def wait_until(what: str, cond, timeout: float) -> float:
    start = time.monotonic()
    while not cond():
        assert time.monotonic() - start < timeout, f"{what}: not within {timeout} s"
        time.sleep(0.05)
    return time.monotonic() - start


def stats(s: Server, **headers: str) -> dict:
    r = request(s.port, "/api/stats", headers=headers)
    assert r.status == 200, r
    return r.json()


# ---- floods and deadlines ---------------------------------------------------------------------


def test_a_flood_from_one_client_does_not_stop_another(index: tuple[Path, Path]) -> None:
    db, photos = index
    s = Server(db, [photos], WORK / "network" / "flood.log", "--quiet")
    flood: list[socket.socket] = []
    try:
        limits = stats(s)["connections"]
        per_client = limits["per_client"]
        assert per_client == 32 and limits["head_timeout_s"] == 10 and limits["idle_timeout_s"] == 30, limits
        # 2,000 connections that send half a request line and wait: the
        # server takes 32 of them (the limit per client) and closes the rest.
        for _ in range(2000):
            c = socket.socket()
            c.bind((FLOODER, 0))
            try:
                c.connect(("127.0.0.1", s.port))
                c.sendall(b"GET /api/sea")
            except OSError:  # refused or reset already: that is the point
                c.close()
                continue
            flood.append(c)
        started = time.monotonic()
        r = request(s.port, "/api/search?q=a+frog")
        took = time.monotonic() - started
        assert r.status == 200 and r.json()["results"], r
        # Within 1 s on a quiet machine (about 20 ms here); this one is shared.
        assert took < 5, f"the other client waited {took:.1f} s"
        kept = lambda: server_sockets(s.port, FLOODER).get("ESTABLISHED", 0)  # noqa: E731
        wait_until(f"the flood held down to {per_client} connections", lambda: kept() <= per_client, 30)
        assert stats(s)["connections"]["open"] <= per_client + 2
        # The flooder is refused, not queued: its 33rd connection is closed
        # by the server without an answer.
        refused = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10, source_address=(FLOODER, 0))
        with pytest.raises((ConnectionError, http.client.RemoteDisconnected, OSError)):
            refused.request("GET", "/api/stats")
            refused.getresponse().read()
        refused.close()
        # When the flood ends (the client closes every socket), the server
        # lets go of them at once and answers the flooder itself again.
        for c in flood:
            c.close()
        flood.clear()
        started = time.monotonic()
        r = request(s.port, "/api/search?q=an+owl", source=FLOODER)
        assert r.status == 200, r
        assert time.monotonic() - started < 5
        wait_until("no socket left in CLOSE_WAIT", lambda: "CLOSE_WAIT" not in server_sockets(s.port, FLOODER), 10)
    finally:
        for c in flood:
            c.close()
        assert s.stop() == 0, s.log_path.read_text()[-2000:]
    # libmicrohttpd says something about each refused connection: a few of
    # those a window reach the log, then a count (not 2,000 lines).
    log = s.log_path.read_text().splitlines()
    mhd = [line for line in log if line.startswith("cerebro serve: libmicrohttpd: ")]
    assert 0 < len(mhd) <= 20 and len(log) < 40, "\n".join(log[:50])
    dropped = [int(m.group(1)) for line in mhd
               if (m := re.fullmatch(r"cerebro serve: libmicrohttpd: (\d+) more messages not shown", line))]
    assert dropped and sum(dropped) > 1000, mhd


def test_request_heads_have_a_deadline(index: tuple[Path, Path]) -> None:
    """A client that sends its request a byte at a time is cut at the head
    deadline (MHD's inactivity timeout alone never would), an idle kept-alive
    connection at the idle timeout, and a prompt client is answered."""
    db, photos = index
    s = Server(db, [photos], WORK / "network" / "deadline.log", "--head-timeout", "2", "--idle-timeout", "4")
    try:
        trickle = socket.create_connection(("127.0.0.1", s.port))
        started = time.monotonic()
        closed_after = None
        for ch in b"GET /api/stats HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 400:
            try:
                trickle.sendall(bytes([ch]))
                trickle.settimeout(0.25)
                if trickle.recv(1) == b"":
                    closed_after = time.monotonic() - started
                    break
            except socket.timeout:
                continue
            except OSError:
                closed_after = time.monotonic() - started
                break
        trickle.close()
        assert closed_after is not None, "a request head trickled in for 100 s was never cut"
        assert 1.5 <= closed_after < 30, closed_after
        # Kept alive after an answer: closed once idle for --idle-timeout.
        idle = socket.create_connection(("127.0.0.1", s.port))
        idle.sendall(b"GET /api/stats HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        idle.settimeout(30)
        head = idle.recv(65536)
        assert head.startswith(b"HTTP/1.1 200 "), head[:100]
        started = time.monotonic()
        while idle.recv(65536):  # the rest of the answer, then the end
            pass
        idle_for = time.monotonic() - started
        idle.close()
        assert 3 <= idle_for < 30, idle_for
        assert stats(s)["connections"]["cut"] >= 1
        assert request(s.port, "/api/stats").status == 200
    finally:
        assert s.stop() == 0, s.log_path.read_text()[-2000:]


def test_connection_limit_follows_the_descriptor_limit(index: tuple[Path, Path]) -> None:
    db, photos = index

    def limit_files(n: int):
        return lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (n, n))

    # 300 descriptors: 64 kept back, 4 for each of 2 x 2 threads, then two per connection.
    s = Server(db, [photos], WORK / "network" / "rlimit.log", "--threads", "2", preexec_fn=limit_files(300))
    try:
        assert stats(s)["connections"]["limit"] == (300 - 64 - 16) // 2
    finally:
        assert s.stop() == 0
    r = subprocess.run([str(PROGRAM), "--db", str(db), "--model", str(MODEL), "serve", "--port", "0",
                        "--threads", "2", str(photos)], capture_output=True, text=True, env=clean_env(),
                       timeout=120, preexec_fn=limit_files(100))
    assert r.returncode == 1 and "ulimit -n" in r.stderr, r.stderr


# ---- the access token ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def guarded(index: tuple[Path, Path]) -> Iterator[tuple[Server, dict[str, dict]]]:
    """A server on every address (not loopback) that requires TOKEN."""
    db, photos = index
    token_file = WORK / "network" / "token"
    token_file.write_text(TOKEN + "\n")
    s = Server(db, [photos], WORK / "network" / "token.log", "--host", "0.0.0.0", "--token-file", str(token_file),
               listening=r"http://0\.0\.0\.0")
    items = {}
    for h in request(s.port, "/api/search?q=x&k=200", headers={"Authorization": f"Bearer {TOKEN}"}).json()["results"]:
        items[h["path"]] = h
    try:
        yield s, items
    finally:
        assert s.stop() == 0, s.log_path.read_text()[-2000:]


def routes(items: dict[str, dict]) -> dict[str, int]:
    """Every route, with the status it answers with the token."""
    frog = items["frog.png"]["id"]
    return {"/": 200, "/index.html": 200, "/static/app.js": 200, "/static/style.css": 200,
            "/api/search?q=a+frog": 200, "/api/stats": 200, f"/api/similar/{frog}": 200, f"/api/item/{frog}": 200,
            f"/api/image/{frog}": 200, f"/api/thumb/{frog}?size=64": 200, "/api/item/999999": 404, "/nope": 404}


def test_every_route_needs_the_token(guarded: tuple[Server, dict[str, dict]]) -> None:
    s, items = guarded
    cookie = f"cerebro_token_{s.port}"
    wrong = TOKEN[:-1] + ("x" if TOKEN[-1] != "x" else "y")
    refused = {"none": {}, "wrong bearer": {"Authorization": f"Bearer {wrong}"},
               "short bearer": {"Authorization": f"Bearer {TOKEN[:-1]}"},
               "long bearer": {"Authorization": f"Bearer {TOKEN}x"},
               "empty bearer": {"Authorization": "Bearer "}, "basic": {"Authorization": f"Basic {TOKEN}"},
               "wrong cookie": {"Cookie": f"{cookie}={wrong}"},
               "another port's cookie": {"Cookie": f"cerebro_token_{s.port + 1}={TOKEN}"}}
    allowed = {"bearer": {"Authorization": f"Bearer {TOKEN}"}, "bearer, any case": {"authorization": f"bearer {TOKEN}"},
               "cookie": {"Cookie": f"{cookie}={TOKEN}"},
               "cookie among others": {"Cookie": f"a=b; {cookie}={TOKEN}; c=d"}}
    for path, status in routes(items).items():
        for method in ("GET", "HEAD"):
            for what, headers in refused.items():
                r = request(s.port, path, headers=headers, method=method)
                assert r.status == 401, (path, method, what, r.status)
                assert r.headers["WWW-Authenticate"] == 'Bearer realm="cerebro"'
                assert r.headers["Content-Type"] == "application/json", (path, what)
                if method == "GET":
                    assert "token" in r.json()["error"], (path, what)
            for what, headers in allowed.items():
                r = request(s.port, path, headers=headers, method=method)
                assert r.status == status, (path, method, what, r.status, r.body[:200])
    # What a granted request gets is the real thing.
    r = request(s.port, "/", headers={"Cookie": f"{cookie}={TOKEN}"})
    assert r.body == (WEB / "index.html").read_bytes()


def test_login_sets_a_strict_http_only_cookie(guarded: tuple[Server, dict[str, dict]]) -> None:
    s, items = guarded
    for path in ("/?token=" + TOKEN[:-1], "/?token=", "/index.html?token=nope"):
        assert request(s.port, path).status == 401, path
    # ?token= logs a browser in at the page only; the API takes the header.
    assert request(s.port, f"/api/stats?token={TOKEN}").status == 401
    r = request(s.port, f"/?token={TOKEN}")
    assert r.status == 303 and r.headers["Location"] == "/", r
    cookie = r.headers["Set-Cookie"]
    name, _, rest = cookie.partition("=")
    assert name == f"cerebro_token_{s.port}" and rest.split(";")[0] == TOKEN, cookie
    attributes = {a.strip().split("=")[0].lower() for a in rest.split(";")[1:]}
    assert {"httponly", "path", "samesite", "max-age"} <= attributes and "secure" not in attributes, cookie
    assert "SameSite=Strict" in cookie and "Path=/" in cookie
    assert r.headers["Cache-Control"] == "no-store"
    # The cookie as a browser sends it back opens everything.
    for path, status in routes(items).items():
        assert request(s.port, path, headers={"Cookie": cookie.split(";")[0]}).status == status, path
    # The token never reaches the access log.
    log = s.wait_for_log(r'"GET /\?token=\(redacted\)" 303')
    assert TOKEN not in log and TOKEN[:-1] not in log


def test_exposing_the_server_takes_a_token_or_no_auth(index: tuple[Path, Path]) -> None:
    db, photos = index

    def serve(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([str(PROGRAM), "--db", str(db), "--model", str(MODEL), "serve", "--port", "0", *args,
                               str(photos)], capture_output=True, text=True, env=env or clean_env(), timeout=120)

    for host in ("0.0.0.0", "::", "192.0.2.1"):
        r = serve("--host", host)
        assert r.returncode == 2 and "not a loopback address" in r.stderr and "--no-auth" in r.stderr, r.stderr
    short = WORK / "network" / "short-token"
    short.write_text("abc\n")
    r = serve("--token-file", str(short))
    assert r.returncode == 1 and "shorter than 16" in r.stderr and str(short) in r.stderr, r.stderr
    spaced = WORK / "network" / "spaced-token"
    spaced.write_text("a token with spaces in it\n")
    r = serve("--token-file", str(spaced))
    assert r.returncode == 1 and "printable ASCII" in r.stderr, r.stderr
    r = serve("--token-file", str(WORK / "network" / "no-such-file"))
    assert r.returncode == 1 and "no-such-file" in r.stderr, r.stderr
    r = serve(env={**clean_env(), "CEREBRO_SERVE_TOKEN": "short"})
    assert r.returncode == 1 and "CEREBRO_SERVE_TOKEN" in r.stderr, r.stderr
    # --no-auth says so, and serves.
    s = Server(db, [photos], WORK / "network" / "no-auth.log", "--host", "0.0.0.0", "--no-auth",
               listening=r"http://0\.0\.0\.0")
    try:
        assert request(s.port, "/api/stats").status == 200
    finally:
        assert s.stop() == 0
    # The token from the environment.
    s = Server(db, [photos], WORK / "network" / "env-token.log", "--host", "0.0.0.0",
               env={**clean_env(), "CEREBRO_SERVE_TOKEN": TOKEN}, listening=r"http://0\.0\.0\.0")
    try:
        assert request(s.port, "/api/stats").status == 401
        assert request(s.port, "/api/stats", headers={"Authorization": f"Bearer {TOKEN}"}).status == 200
    finally:
        assert s.stop() == 0


# ---- TLS ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate() -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost, made by openssl."""
    openssl = shutil.which("openssl")
    assert openssl, "openssl is not installed (scripts/setup.sh installs it)"
    base = WORK / "network"
    cert, key = base / "cert.pem", base / "key.pem"
    r = subprocess.run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=localhost",
                        "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    return cert, key


def test_tls(index: tuple[Path, Path], certificate: tuple[Path, Path]) -> None:
    db, photos = index
    cert, key = certificate
    s = Server(db, [photos], WORK / "network" / "tls.log", "--tls-cert", str(cert), "--tls-key", str(key),
               env={**clean_env(), "CEREBRO_SERVE_TOKEN": TOKEN}, listening=r"https://127\.0\.0\.1")
    try:
        curl = shutil.which("curl")
        assert curl, "curl is not installed (scripts/setup.sh installs it)"
        url = f"https://127.0.0.1:{s.port}"
        r = subprocess.run([curl, "-sS", "--cacert", str(cert), "-H", f"Authorization: Bearer {TOKEN}",
                            f"{url}/api/search?q=a+frog&k=3"], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0 and '"count":3' in r.stdout, r.stdout + r.stderr
        # Without the certificate to trust, curl refuses the server (a
        # self-signed certificate); with it, the name must match.
        r = subprocess.run([curl, "-sS", f"{url}/api/stats"], capture_output=True, text=True, timeout=60)
        assert r.returncode == 60, (r.returncode, r.stderr)
        # Python's ssl with verification: files, ranges and the login over TLS.
        ctx = ssl.create_default_context(cafile=str(cert))
        conn = http.client.HTTPSConnection("127.0.0.1", s.port, context=ctx, timeout=60)
        auth = {"Authorization": f"Bearer {TOKEN}"}
        conn.request("GET", "/api/search?q=x&k=200", headers=auth)
        items = {h["path"]: h for h in __import__("json").loads(conn.getresponse().read())["results"]}
        data = (photos / "lion.jpg").read_bytes()
        conn.request("GET", items["lion.jpg"]["image"], headers=auth)
        resp = conn.getresponse()
        assert resp.status == 200 and resp.read() == data
        conn.request("GET", items["lion.jpg"]["image"], headers={**auth, "Range": "bytes=100-199"})
        resp = conn.getresponse()
        assert resp.status == 206 and resp.read() == data[100:200]
        conn.request("GET", f"/?token={TOKEN}")
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 303 and "; Secure" in resp.headers["Set-Cookie"], resp.headers
        conn.close()
        # Plain HTTP on the TLS port gets no answer.
        plain = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
        with pytest.raises((ConnectionError, http.client.HTTPException, OSError)):
            plain.request("GET", "/api/stats")
            plain.getresponse().read()
        plain.close()
    finally:
        assert s.stop() == 0, s.log_path.read_text()[-2000:]


def test_tls_options_are_checked(index: tuple[Path, Path], certificate: tuple[Path, Path]) -> None:
    db, photos = index
    cert, key = certificate

    def serve(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(PROGRAM), "--db", str(db), "--model", str(MODEL), "serve", "--port", "0", *args,
                               str(photos)], capture_output=True, text=True, env=clean_env(), timeout=120)

    r = serve("--tls-cert", str(cert))
    assert r.returncode == 2 and "--tls-key" in r.stderr, r.stderr
    r = serve("--tls-cert", str(cert), "--tls-key", str(WORK / "network" / "missing.pem"))
    assert r.returncode == 1 and "missing.pem" in r.stderr, r.stderr
    # A key that is not the certificate's: the server does not start.
    other = WORK / "network" / "other-key.pem"
    subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-out",
                    str(other)], check=True, capture_output=True, timeout=60)
    r = serve("--tls-cert", str(cert), "--tls-key", str(other))
    assert r.returncode == 1 and "could not start" in r.stderr, r.stderr
    r = serve("--tls-cert", str(key), "--tls-key", str(key))
    assert r.returncode == 1 and "could not start" in r.stderr, r.stderr
