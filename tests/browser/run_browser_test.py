#!/usr/bin/python3
"""The search page in a real browser, against the real server and model.

Indexes the sample images and a clip made of two of them with the bundled
model, starts `cerebro serve` on a free loopback port (--port 0), runs
test_browser.mjs (playwright-core driving Debian's headless chromium) against
it, and stops the server with SIGTERM. A second index, the samples among 50
synthetic patterns (enough items for a relevance), is served beside it with
--min-relevance RELEVANCE_MIN for the page's "no close match". Fails, never
skips, when node, chromium, playwright-core or ffmpeg is missing.

usage: run_browser_test.py --cerebro PROGRAM --model MODEL --images DIR --work DIR --out DIR [--node NODE]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CHROMIUM = Path(os.environ.get("CEREBRO_CHROMIUM", "/usr/bin/chromium"))
SETUP_HINT = "run scripts/setup.sh (it installs chromium and ffmpeg, and runs `npm ci` in tests/browser)"
# The sample images as the test lays them out: the birds in a folder of their
# own, so that the page's folder filter has something to select.
BIRDS = ("flamingo.png", "owl.png", "penguin.png")
START_SECONDS = 300  # loading libtorch and the model on a busy 2-core machine
STOP_SECONDS = 60
# The server requires an access token (CEREBRO_SERVE_TOKEN): the page is
# tested as a person given the login link uses it, on the cookie it sets.
TOKEN = "browser-test-token-5f0c2a9e"
# The second server's cutoff: between the best relevance of a nonsense query
# and of a real one on that index (models/default.pt 858b50ae: "asdf qwerty"
# 1.6, "a flamingo" 3.0, the giraffe next at 2.4). The browser test checks
# that it still lies between.
RELEVANCE_MIN = "2.5"
PATTERNS = 50


def fail(message: str) -> None:
    print(f"FAIL: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


def check_tools(node: str) -> tuple[str, str]:
    found = shutil.which(node)
    if found is None:
        fail(f"node ({node}) not found; {SETUP_HINT}")
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        fail(f"ffmpeg not found; {SETUP_HINT}")
    if not os.access(CHROMIUM, os.X_OK):
        fail(f"{CHROMIUM} not found; {SETUP_HINT}")
    if not (HERE / "node_modules" / "playwright-core" / "package.json").is_file():
        fail(f"playwright-core is not installed in {HERE / 'node_modules'}; {SETUP_HINT}")
    return found, ffmpeg


def make_collection(images: Path, work: Path, ffmpeg: str) -> Path:
    if work.exists():
        shutil.rmtree(work)
    photos = work / "photos"
    (photos / "birds").mkdir(parents=True)
    (photos / "videos").mkdir()
    names = sorted(p.name for p in images.iterdir() if p.suffix in (".jpg", ".png"))
    if len(names) != 8 or not set(BIRDS) <= set(names):
        fail(f"{images} should hold the 8 sample images, found {names}")
    for name in names:
        shutil.copy(images / name, photos / ("birds" if name in BIRDS else "") / name)
    # An 8 s clip, the giraffe then the elephant: its frames are search
    # results too. VP8 in WebM, which every chromium build plays.
    scale = "scale=320:240:force_original_aspect_ratio=decrease,pad=320:240:(ow-iw)/2:(oh-ih)/2:white,setsar=1,fps=10"
    clip = subprocess.run([ffmpeg, "-loglevel", "error", "-y",
                           "-loop", "1", "-t", "4", "-i", str(images / "giraffe.jpg"),
                           "-loop", "1", "-t", "4", "-i", str(images / "elephant.jpg"),
                           "-filter_complex", f"[0]{scale}[a];[1]{scale}[b];[a][b]concat=n=2:v=1[v]",
                           "-map", "[v]", "-c:v", "libvpx", "-b:v", "300k", "-deadline", "realtime",
                           str(photos / "videos" / "clip.webm")], capture_output=True, text=True, timeout=300)
    if clip.returncode != 0:
        fail(f"ffmpeg could not make the test clip:\n{clip.stderr}")
    return photos


def make_patterns(images: Path, work: Path) -> Path:
    """work/patterns: the 8 samples and PATTERNS seeded synthetic pictures
    (noise, flat colours, gradients, checkerboards, blocks): an index of more
    than 50 items, where hits have a relevance."""
    import numpy as np
    from PIL import Image

    folder = work / "patterns"
    folder.mkdir(parents=True)
    for p in images.iterdir():
        if p.suffix in (".jpg", ".png"):
            shutil.copy(p, folder / p.name)
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[:64, :64]
    for i in range(PATTERNS):
        kind = i % 5
        if kind == 0:
            a = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
        elif kind == 1:
            a = np.full((64, 64, 3), rng.integers(0, 256, 3), dtype=np.uint8)
        elif kind == 2:
            x = np.linspace(0, 1, 64)[None, :, None]
            c0, c1 = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
            a = (c0 * (1 - x) + c1 * x).repeat(64, 0).astype(np.uint8)
        elif kind == 3:
            n = 64 // rng.integers(2, 9)
            a = np.where(((yy // n + xx // n) % 2)[..., None], rng.integers(0, 256, 3),
                         rng.integers(0, 256, 3)).astype(np.uint8)
        else:
            a = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8).repeat(8, 0).repeat(8, 1)
        Image.fromarray(a).save(folder / f"pattern{i:02d}.png")
    return folder


class Server:
    """`cerebro serve` in the background; its stdout is watched for the ready line."""

    def __init__(self, args: list[str], cwd: Path, log: Path, env: dict[str, str]) -> None:
        self.log = log
        self.ready = threading.Event()
        self.url: str | None = None
        self.err = open(log, "w")
        self.proc = subprocess.Popen(args, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=self.err, text=True)
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)
            if self.url is None and line.startswith("listening on "):
                self.url = line.split()[-1]
                self.ready.set()
        self.ready.set()  # exited: wake the waiter

    def wait_ready(self, seconds: float) -> bool:
        self.ready.wait(seconds)
        return self.url is not None and self.proc.poll() is None

    def output(self) -> str:
        if not self.err.closed:
            self.err.flush()
        return "".join(self.lines) + self.log.read_text(errors="replace")

    def stop(self) -> int | None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self.err.close()
                return None
        self.err.close()
        return self.proc.returncode


def start_server(program: Path, model: Path, work: Path, photos: Path, env: dict[str, str], db: str = "db",
                 *extra: str) -> Server:
    # Port 0: the server binds a free port and names it in its ready line.
    args = [str(program), "--db", str(work / db), "--model", str(model),
            "serve", "--host", "127.0.0.1", "--port", "0", *extra, str(photos)]
    server = Server(args, work, work / f"server-{db}.log", env)
    if not server.wait_ready(START_SECONDS):
        rc = server.stop()
        fail(f"the server did not start (exit {rc}):\n{' '.join(args)}\n{server.output()}")
    if re.fullmatch(r"http://127\.0\.0\.1:[1-9][0-9]*/", server.url or "") is None:
        server.stop()
        fail(f"the server printed 'listening on {server.url}', expected http://127.0.0.1:PORT/")
    return server


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cerebro", type=Path, required=True)
    ap.add_argument("--model", type=Path, required=True)
    ap.add_argument("--images", type=Path, required=True)
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True, help="folder for the screenshots")
    ap.add_argument("--node", default="node")
    opts = ap.parse_args()
    for name in ("cerebro", "model", "images", "work", "out"):
        setattr(opts, name, getattr(opts, name).resolve())  # the programs run in the work folder

    node, ffmpeg = check_tools(opts.node)
    if not opts.model.is_file():
        fail(f"{opts.model}: no such model bundle")
    work = opts.work
    photos = make_collection(opts.images, work, ffmpeg)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CEREBRO_")}
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    server_env = {**env, "CEREBRO_SERVE_TOKEN": TOKEN}

    started = time.monotonic()
    index = subprocess.run([str(opts.cerebro), "--db", str(work / "db"), "--model", str(opts.model), "index",
                            str(photos)], cwd=work, env=env, capture_output=True, text=True, timeout=600)
    if index.returncode != 0 or not index.stdout.startswith("indexed 9,") or "video frames" not in index.stdout:
        fail(f"cerebro index: exit {index.returncode}\n{index.stdout}{index.stderr}")
    print(index.stdout.splitlines()[0], flush=True)
    patterns = make_patterns(opts.images, work)
    index = subprocess.run([str(opts.cerebro), "--db", str(work / "patterns-db"), "--model", str(opts.model),
                            "index", str(patterns)], cwd=work, env=env, capture_output=True, text=True, timeout=600)
    if index.returncode != 0 or not index.stdout.startswith(f"indexed {PATTERNS + 8},"):
        fail(f"cerebro index (patterns): exit {index.returncode}\n{index.stdout}{index.stderr}")

    server = start_server(opts.cerebro, opts.model, work, photos, server_env)
    try:
        relevant = start_server(opts.cerebro, opts.model, work, patterns, server_env, "patterns-db",
                                "--min-relevance", RELEVANCE_MIN)
    except SystemExit:
        server.stop()
        raise
    print(f"servers at {server.url} and {relevant.url} after {time.monotonic() - started:.1f} s", flush=True)
    opts.out.mkdir(parents=True, exist_ok=True)
    try:
        test = subprocess.run([node, str(HERE / "test_browser.mjs"), server.url, str(opts.out), TOKEN,
                               relevant.url], cwd=HERE, env={**env, "CEREBRO_CHROMIUM": str(CHROMIUM)}, timeout=900)
        alive = server.proc.poll() is None and relevant.proc.poll() is None
    finally:
        rc = server.stop()
        rc_relevant = relevant.stop()
    if not alive:
        fail(f"a server exited during the browser test:\n{server.output()}\n{relevant.output()}")
    if rc_relevant != 0:
        fail(f"the second server exited with {rc_relevant} on SIGTERM, expected 0:\n{relevant.output()[-4000:]}")
    if test.returncode != 0:
        fail(f"the browser test failed (exit {test.returncode}); server output:\n{server.output()[-4000:]}")
    if rc is None:
        fail(f"the server did not stop within {STOP_SECONDS} s of SIGTERM")
    if rc != 0:
        fail(f"the server exited with {rc} on SIGTERM, expected 0:\n{server.output()[-4000:]}")
    print(f"browser test passed in {time.monotonic() - started:.1f} s", flush=True)


if __name__ == "__main__":
    main()
