#!/usr/bin/python3
"""`cerebro index` on a disk that fills up, as a user meets it.

The index goes on a tmpfs inside a private mount namespace (needs root;
otherwise the test exits 77, which ctest reports as skipped). A first run
into a roomy tmpfs measures what the finished index occupies; a second
tmpfs of exactly that size cannot also hold the WAL and the shared-memory
file of a run, so indexing stops with the disk full. Then:
  - the error says "No space left on device" and names the file, and
    SQLite's "cannot rollback" does not stand in its place;
  - the summary's "indexed N" is what the store holds (read with sqlite3);
  - `cerebro search` and `cerebro similar` work while the disk is full;
  - after the tmpfs is made bigger the same command completes, the
    summary adds up and every image finds itself.

usage: full_cli.py CEREBRO_PROGRAM TINY_MODEL WORK_DIR
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

SKIP = 77
# Enough images for several commits (a transaction holds up to commit_every
# = 256 files): the disk fills up after some of them are committed.
IMAGES = 800
SUMMARY = re.compile(r"^indexed (\d+), updated (\d+), unchanged (\d+), removed (\d+), failed (\d+) in ",
                     re.MULTILINE)
HERE = Path(__file__).resolve().parent


def expect(cond: bool, message: str) -> None:
    if not cond:
        raise AssertionError(message)


def sh(*args: str) -> None:
    subprocess.run(args, check=True)


def cerebro(program: Path, db: Path, model: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CEREBRO_")}
    return subprocess.run([str(program), "--db", str(db), "--model", str(model), *args], env=env,
                          capture_output=True, text=True, timeout=600)


def summary(r: subprocess.CompletedProcess[str]) -> tuple[int, ...]:
    m = SUMMARY.search(r.stdout)
    expect(m is not None, f"no summary line in:\n{r.stdout}{r.stderr}")
    return tuple(int(g) for g in m.groups())


def stored_items(db: Path) -> int:
    con = sqlite3.connect(f"file:{db / 'cerebro.db'}?mode=ro", uri=True)
    try:
        items = con.execute("SELECT COUNT(*) FROM items").fetchone()[0]
        files = con.execute("SELECT COUNT(*) FROM files WHERE status = 0").fetchone()[0]
    finally:
        con.close()
    expect(items == files, f"{items} items for {files} files")
    return int(items)


def used_kib(path: Path) -> int:
    v = os.statvfs(path)
    return (v.f_blocks - v.f_bfree) * v.f_frsize // 1024


def finds_itself(program: Path, db: Path, model: Path, image: Path) -> None:
    # The k-NN mechanics, not the relevance cutoff.
    r = cerebro(program, db, model, "similar", str(image), "-k", "1", "--json", "--min-relevance", "0")
    expect(r.returncode == 0, f"similar {image}: exit {r.returncode}\n{r.stdout}{r.stderr}")
    hits = [json.loads(line) for line in r.stdout.splitlines()]
    expect(len(hits) == 1 and hits[0]["path"] == str(image) and hits[0]["score"] > 0.999,
           f"{image} does not find itself: {hits}")


def run(program: Path, model: Path, work: Path) -> None:
    images, mnt = work / "images", work / "mnt"
    db = mnt / "idx"
    subprocess.run([sys.executable, str(HERE / "gen_images.py"), str(images), str(IMAGES), "--per-folder",
                    "1000"], check=True, stdout=subprocess.DEVNULL)
    photos = sorted(p for p in images.rglob("img*") if p.is_file())
    expect(len(photos) == IMAGES, f"{len(photos)} images generated")
    mnt.mkdir(parents=True, exist_ok=True)

    sh("mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mnt))
    r = cerebro(program, db, model, "index", str(images))
    expect(r.returncode == 0, f"the roomy run failed: {r.stdout}{r.stderr}")
    need = used_kib(mnt)
    sh("umount", str(mnt))

    sh("mount", "-t", "tmpfs", "-o", f"size={need}k", "tmpfs", str(mnt))
    try:
        r = cerebro(program, db, model, "index", str(images))
        expect(r.returncode == 1, f"exit {r.returncode} on a full disk:\n{r.stdout}{r.stderr}")
        expect("no space left on device" in r.stderr.lower(), f"the reason is not given:\n{r.stderr}")
        expect(str(db / "cerebro.db") in r.stderr or ".faiss" in r.stderr, f"no file named:\n{r.stderr}")
        expect("rollback" not in r.stderr, f"SQLite's follow-up message shown:\n{r.stderr}")
        added, updated, unchanged, removed, failed = summary(r)
        stored = stored_items(db)
        expect(added == stored and stored > 0, f"the summary says indexed {added}; the store holds {stored}")
        expect((updated, unchanged, removed, failed) == (0, 0, 0, 0), r.stdout)

        # Still full: searching works and finds what was committed.
        s = cerebro(program, db, model, "search", "a red circle", "--json", "--min-relevance", "0")
        expect(s.returncode == 0 and len(s.stdout.splitlines()) > 0, f"search on a full disk:\n{s.stdout}{s.stderr}")
        finds_itself(program, db, model, photos[0])

        sh("mount", "-o", "remount,size=64m", str(mnt))
        r = cerebro(program, db, model, "index", str(images))
        expect(r.returncode == 0, f"the run after freeing space failed:\n{r.stdout}{r.stderr}")
        added2, _, unchanged2, _, failed2 = summary(r)
        expect((added2, unchanged2, failed2) == (IMAGES - stored, stored, 0), r.stdout)
        expect(stored_items(db) == IMAGES, f"{stored_items(db)} items after the second run")
        for image in photos[:: IMAGES // 8]:
            finds_itself(program, db, model, image)
        finds_itself(program, db, model, photos[-1])
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


def main() -> int:
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    program, model, work = (Path(a).resolve() for a in sys.argv[1:])
    if os.environ.get("CEREBRO_FULL_NAMESPACE") != "1":
        if os.geteuid() != 0:
            print("SKIPPED: mounting a tmpfs needs root")
            return SKIP
        # A private mount namespace: the tmpfs is seen by nothing outside
        # and goes away with the process, whatever happens here.
        probe = subprocess.run(["unshare", "-m", "--propagation", "private", "true"], capture_output=True, text=True)
        if probe.returncode != 0:
            print(f"SKIPPED: no private mount namespace: {probe.stderr.strip()}")
            return SKIP
        env = {**os.environ, "CEREBRO_FULL_NAMESPACE": "1"}
        return subprocess.run(["unshare", "-m", "--propagation", "private", sys.executable, *sys.argv],
                              env=env).returncode
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    run(program, model, work)
    print("ok: a full disk is reported, counted and recovered from")
    return 0


if __name__ == "__main__":
    sys.exit(main())
