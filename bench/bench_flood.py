#!/usr/bin/python3
"""How `cerebro serve` holds up against a connection flood (a benchmark, not a
test; tests/server/test_network.py asserts the behaviour).

One client (127.0.0.3) opens N connections that each send half a request
line and wait; meanwhile another client (127.0.0.2) searches. Then the flood
ends: the flooding client closes every socket, and searches itself. Prints
how long each search took, how many flood connections the server kept, and
how many of its sockets sat in CLOSE_WAIT (closed by the client, not yet by
the server) just after the flood ended and a second later.

  bench/bench_flood.py [--program build/programs/cerebro] [--connections 2000] [-- SERVE_OPTION...]

--program may name an older build, to compare (the same index and model are
used). Indexes examples/images with models/default.pt in a temporary folder.
"""

from __future__ import annotations

import argparse
import http.client
import re
import resource
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FLOODER, OTHER = "127.0.0.3", "127.0.0.2"


def search(port: int, source: str, timeout: float = 60) -> str:
    start = time.monotonic()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout, source_address=(source, 0))
        conn.request("GET", "/api/search?q=a+frog")
        status = conn.getresponse().status
        conn.close()
        return f"HTTP {status} in {(time.monotonic() - start) * 1e3:.0f} ms"
    except OSError as e:
        return f"{type(e).__name__} after {(time.monotonic() - start) * 1e3:.0f} ms"


def sockets(port: int, remote: str) -> dict[str, int]:
    want = "".join(f"{int(b):02X}" for b in reversed(remote.split(".")))
    names = {"01": "established", "08": "close_wait"}
    counts: dict[str, int] = {}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        f = line.split()
        if int(f[1].split(":")[1], 16) == port and f[2].split(":")[0] == want:
            state = names.get(f[3], f[3])
            counts[state] = counts.get(state, 0) + 1
    return counts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--program", type=Path, default=ROOT / "build" / "programs" / "cerebro")
    ap.add_argument("--connections", type=int, default=2000)
    ap.add_argument("serve_options", nargs="*")
    opts = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = opts.connections + 200
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))

    with tempfile.TemporaryDirectory() as tmp:
        images = Path(tmp) / "images"
        shutil.copytree(ROOT / "examples" / "images", images)
        db = Path(tmp) / "db"
        model = ROOT / "models" / "default.pt"
        subprocess.run([str(opts.program), "--db", str(db), "--model", str(model), "index", str(images)],
                       check=True, capture_output=True)
        server = subprocess.Popen([str(opts.program), "--db", str(db), "--model", str(model), "serve", "--port",
                                   "0", "--quiet", *opts.serve_options, str(images)], stdout=subprocess.PIPE)
        try:
            line = server.stdout.readline().decode()
            m = re.match(r"listening on http://127\.0\.0\.1:(\d+)/", line)
            assert m, line
            port = int(m.group(1))
            print(f"{opts.program} {' '.join(opts.serve_options)}: port {port}; before the flood: "
                  f"{search(port, OTHER)}")
            flood, failed = [], 0
            start = time.monotonic()
            for _ in range(opts.connections):
                c = socket.socket()
                c.bind((FLOODER, 0))
                try:
                    c.connect(("127.0.0.1", port))
                    c.sendall(b"GET /api/sea")
                    flood.append(c)
                except OSError:
                    failed += 1
                    c.close()
            print(f"  flood: {opts.connections} half-open connections from {FLOODER} in "
                  f"{time.monotonic() - start:.2f} s ({failed} failed at once)")
            print(f"  during the flood, another client ({OTHER}): {search(port, OTHER, 30)}")
            time.sleep(1)
            print(f"  server sockets from the flooder 1 s later: {sockets(port, FLOODER)}")
            for c in flood:
                c.close()
            print(f"  flood closed; the flooder searches: {search(port, FLOODER, 30)}")
            print(f"  server sockets from the flooder just after: {sockets(port, FLOODER)}")
            time.sleep(1)
            print(f"  ... and 1 s later: {sockets(port, FLOODER)}; another client: {search(port, OTHER, 30)}")
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()


if __name__ == "__main__":
    main()
