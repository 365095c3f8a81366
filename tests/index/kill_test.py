#!/usr/bin/python3
"""Kill-and-resume test of the store (CTest `index_kill`, label integration).

A child process (index_tool add, committing every 8 files) indexes a few
thousand generated images and is SIGKILLed at a random moment, sometimes
twice in a row. After each kill the store must be consistent when read with
SQLite directly (every item has its file, every good file its item, no
duplicate paths, whole vectors, integrity_check ok) and, reopened through
libcerebro, report as many vectors as the items table holds (a stale or
missing ANN is rebuilt). Resumed to completion, the store must answer fixed
text and vector queries exactly as an uninterrupted run into a fresh
directory does (paths equal, scores within 1e-5; item ids may differ).

usage: kill_test.py --tool index_tool --model tiny.pt --work DIR
                    [--images 3000] [--trials 10] [--seed N]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gen_images import generate  # noqa: E402

BATCH, COMMIT, WORKERS = "8", "8", "2"
QUERIES = ["text:a red car parked on a street", "text:a bowl of fruit", "vector:1", "vector:2", "vector:3"]
K = "25"
TOL = 1e-5


# Rows none of which may exist in a store, whenever the writer died.
INVARIANTS = [
    ("SELECT id FROM items WHERE file_id NOT IN (SELECT id FROM files)", "items without a files row"),
    ("SELECT path FROM files WHERE status = 0 AND id NOT IN (SELECT file_id FROM items)",
     "good files without an item"),
    ("SELECT path FROM files WHERE status != 0 AND id IN (SELECT file_id FROM items)", "failed files with items"),
    ("SELECT path, COUNT(*) FROM files GROUP BY path HAVING COUNT(*) > 1", "duplicate paths"),
    ("SELECT file_id, COUNT(*) FROM items GROUP BY file_id HAVING COUNT(*) > 1", "still images with several items"),
    ("SELECT id FROM items WHERE length(vector) != {bytes}", "items with a wrong-sized vector"),
]


class Failure(Exception):
    pass


def tool_env() -> dict[str, str]:
    env = dict(os.environ)
    # One intra-op thread: on a shared, loaded machine torch's spinning
    # worker threads make small batches many times slower.
    env.setdefault("INDEX_TOOL_THREADS", "1")
    return env


def run_tool(tool: str, *args: str) -> str:
    r = subprocess.run([tool, *args], capture_output=True, text=True, env=tool_env(), timeout=600)
    if r.returncode != 0:
        raise Failure(f"{' '.join(args[:2])}: exit {r.returncode}: {r.stderr.strip()}")
    return r.stdout


def parse_hits(lines: list[str]) -> list[list[tuple[float, str]]]:
    results: list[list[tuple[float, str]]] = [[]]
    for line in lines:
        if line == "--":
            results.append([])
            continue
        score, path = line.split("\t", 1)
        results[-1].append((float(score), path))
    return results[:-1]


def add_and_query(tool: str, store: Path, model: str, images: Path) -> tuple[list[int], list]:
    """Indexes to completion, then runs QUERIES in the same process."""
    out = run_tool(tool, "add", str(store), model, str(images), BATCH, COMMIT, WORKERS, K, *QUERIES)
    lines = out.splitlines()
    return [int(v) for v in lines[0].split()], parse_hits(lines[1:])


def same_results(got: list[tuple[float, str]], want: list[tuple[float, str]], what: str) -> None:
    """Scores rank by rank within TOL; the same paths, except that hits
    tied (within TOL) at the cut-off may trade places."""
    if len(got) != len(want):
        raise Failure(f"{what}: {len(got)} hits, uninterrupted run gave {len(want)}")
    for i, ((gs, gp), (ws, wp)) in enumerate(zip(got, want)):
        if abs(gs - ws) > TOL:
            raise Failure(f"{what}: hit {i}: score {gs} ({gp}) vs {ws} ({wp})")
    want_score = {p: s for s, p in want}
    cut = want[-1][0] if want else 0.0
    for s, p in got:
        if p in want_score:
            if abs(want_score[p] - s) > TOL:
                raise Failure(f"{what}: {p}: score {s} vs {want_score[p]}")
        elif abs(s - cut) > TOL:
            raise Failure(f"{what}: {p} ({s}) is not among the uninterrupted run's hits")


def has_schema(store: Path) -> bool:
    with contextlib.closing(sqlite3.connect(f"file:{store / 'cerebro.db'}?mode=ro", uri=True)) as db:
        return db.execute("SELECT COUNT(*) FROM sqlite_master WHERE name = 'items'").fetchone()[0] == 1


def check_consistency(store: Path, dim: int, image_set: set[str]) -> int:
    """SQLite-level invariants of a store left by a killed writer; returns
    the number of items."""
    db = sqlite3.connect(store / "cerebro.db")
    try:
        q = lambda sql: db.execute(sql).fetchall()  # noqa: E731
        if q("PRAGMA integrity_check") != [("ok",)]:
            raise Failure(f"integrity_check: {q('PRAGMA integrity_check')}")
        if q("PRAGMA foreign_key_check"):
            raise Failure(f"foreign_key_check: {q('PRAGMA foreign_key_check')[:5]}")
        for sql, what in INVARIANTS:
            rows = q(sql.format(bytes=dim * 4))
            if rows:
                raise Failure(f"{len(rows)} {what}, e.g. {rows[:3]}")
        strangers = [p for (p,) in q("SELECT path FROM files") if p not in image_set]
        if strangers:
            raise Failure(f"files rows for paths that were never there: {strangers[:3]}")
        generation = q("SELECT value FROM meta WHERE key = 'generation'")
        if not generation or not generation[0][0].isdigit():
            raise Failure(f"meta generation: {generation}")
        return q("SELECT COUNT(*) FROM items")[0][0]
    finally:
        db.close()


def generation_of(store: Path) -> int:
    db = sqlite3.connect(store / "cerebro.db")
    try:
        return int(db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()[0])
    finally:
        db.close()


def kill_at(tool: str, store: Path, model: str, images: Path, delay: float) -> bool:
    """Starts indexing and SIGKILLs it after `delay` seconds; False if it
    finished first."""
    child = subprocess.Popen([tool, "add", str(store), model, str(images), BATCH, COMMIT, WORKERS],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=tool_env())
    try:
        child.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        child.send_signal(signal.SIGKILL)
        child.wait()
        return True
    if child.returncode != 0:
        raise Failure(f"indexing exited {child.returncode}: {child.stderr.read().decode()}")
    return False


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tool", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--work", required=True, type=Path)
    ap.add_argument("--images", type=int, default=3000)
    ap.add_argument("--trials", type=int, default=10)
    ap.add_argument("--seed", type=int, default=None)
    a = ap.parse_args(argv)
    seed = a.seed if a.seed is not None else int(time.time())
    rng = random.Random(seed)
    print(f"kill_test: seed {seed} (rerun with --seed {seed})", flush=True)

    a.work.mkdir(parents=True, exist_ok=True)
    images = a.work / "images"
    paths = generate(images, a.images, 32, 96, seed=7)
    # Two files that fail: recorded with an error, never as items.
    (images / "bad").mkdir(exist_ok=True)
    (images / "bad" / "zero.jpg").write_bytes(b"")
    (images / "bad" / "trunc.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(20))
    image_set = {str(p.resolve()) for p in paths} | {str((images / "bad" / n).resolve())
                                                    for n in ("zero.jpg", "trunc.png")}

    reference = a.work / "reference"
    shutil.rmtree(reference, ignore_errors=True)
    t0 = time.monotonic()
    counts, want = add_and_query(a.tool, reference, a.model, images)
    full = time.monotonic() - t0
    if counts[0] != len(paths) or counts[4] != 2:
        raise Failure(f"uninterrupted run: added/failed {counts[0]}/{counts[4]}, want {len(paths)}/2")
    db = sqlite3.connect(reference / "cerebro.db")
    dim = int(db.execute("SELECT value FROM meta WHERE key = 'dim'").fetchone()[0])
    db.close()
    print(f"uninterrupted: {len(paths)} images in {full:.1f} s", flush=True)

    store = a.work / "store"
    kills = 0
    for trial in range(a.trials):
        # Odd trials are killed twice: the second kill hits a resumed run.
        landed, tries = 0, 0
        shutil.rmtree(store, ignore_errors=True)
        left = 1.0  # share of the work a run still has to do
        while landed < 1 + trial % 2:
            tries += 1
            if tries > 8:
                raise Failure(f"trial {trial}: {landed} of {1 + trial % 2} kills landed in {tries - 1} tries")
            delay = rng.uniform(0.05, max(0.1, full * left * 0.9))
            started = time.monotonic()
            if not kill_at(a.tool, store, a.model, images, delay):
                if landed:  # a resumed run beat the second kill: one is enough
                    print(f"trial {trial}: resumed run finished before the kill at {delay:.2f} s", flush=True)
                    break
                # Faster than the uninterrupted run was: aim earlier, start over.
                full = min(full, time.monotonic() - started)
                print(f"trial {trial}: finished before the kill at {delay:.2f} s; again", flush=True)
                shutil.rmtree(store, ignore_errors=True)
                continue
            kills += 1
            if not (store / "cerebro.db").exists():
                print(f"trial {trial}: killed at {delay:.2f} s before the store existed", flush=True)
                continue
            if not has_schema(store):
                # SQLite creates the file before the schema's transaction commits; a kill
                # in between leaves an empty database, which the next run fills in.
                print(f"trial {trial}: killed at {delay:.2f} s before the schema was committed",
                      flush=True)
                continue
            landed += 1
            items = check_consistency(store, dim, image_set)
            # Reopening through libcerebro rebuilds a stale ANN: its count is the table's.
            count, files, failed, structure = run_tool(a.tool, "stats", str(store), a.model).split()
            if int(count) != items:
                raise Failure(f"trial {trial}: reopened index has {count} vectors, items table {items}")
            ann = store / f"ann-{generation_of(store)}.faiss"
            if not ann.exists():
                raise Failure(f"trial {trial}: no {ann.name} after reopening")
            left = 1.0 - items / len(paths)
            print(f"trial {trial}: killed at {delay:.2f} s with {items} items committed "
                  f"({files} files, {failed} failed, {structure})", flush=True)
        counts, got = add_and_query(a.tool, store, a.model, images)
        items = check_consistency(store, dim, image_set)
        if items != len(paths):
            raise Failure(f"trial {trial}: resumed store has {items} items, want {len(paths)}")
        if counts[1] != 0:
            raise Failure(f"trial {trial}: resume re-encoded {counts[1]} committed files")
        for query, g, w in zip(QUERIES, got, want):
            same_results(g, w, f"trial {trial}: {query!r}")
        print(f"trial {trial}: resumed (added {counts[0]}, skipped {counts[2]}); results match", flush=True)
    print(f"kill_test: {kills} kills over {a.trials} trials, all consistent", flush=True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except Failure as e:
        print(f"kill_test: FAIL: {e}", file=sys.stderr)
        sys.exit(1)
