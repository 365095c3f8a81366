#!/usr/bin/env python3
"""A killed indexer never leaves half a video: `cerebro index` runs over a
folder of videos and is SIGKILLed mid-run, each time after it has committed one
more video (watched in the store, not guessed from the clock) plus a random
part of the next one; after each kill every video the store holds has all its
frames (a video's frames and its file row are one transaction), and a resumed
run completes the rest. Every kill must land while videos remain."""
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

COPIES = 30
FRAMES = 60  # still.mp4: 60 s, one frame a second, no de-duplication


def check_store(db: Path) -> int:
    """Number of complete videos; fails on a partial one."""
    con = sqlite3.connect(db / "cerebro.db")
    rows = con.execute("SELECT f.path, f.status, COUNT(i.id) FROM files f LEFT JOIN items i ON i.file_id = f.id "
                       "GROUP BY f.id").fetchall()
    con.close()
    for path, status, n in rows:
        if status != 0 or n != FRAMES:
            print(f"FAIL: {path} has {n} frames (status {status}), want {FRAMES}")
            sys.exit(1)
    return len(rows)


def committed_videos(db: Path) -> int:
    """Video files the store holds now (0 before it exists); a reader beside the writer."""
    if not (db / "cerebro.db").exists():
        return 0
    try:
        con = sqlite3.connect(f"file:{db / 'cerebro.db'}?mode=ro", uri=True, timeout=5)
        try:
            return con.execute("SELECT COUNT(*) FROM files").fetchone()[0]
        finally:
            con.close()
    except sqlite3.OperationalError:  # the schema is still being made
        return 0


def wait_for_commit(proc: subprocess.Popen, db: Path, before: int) -> bool:
    """Waits until the run has committed a video beyond `before`; False if it ended first."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if committed_videos(db) > before:
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.02)
    raise SystemExit("FAIL: no video committed within 300 s")


def main() -> None:
    cli, model, media, work = sys.argv[1], sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4])
    shutil.rmtree(work, ignore_errors=True)
    folder = work / "videos"
    folder.mkdir(parents=True)
    for i in range(COPIES):
        shutil.copy(media / "still.mp4", folder / f"still{i:02d}.mp4")
        with open(folder / f"still{i:02d}.mp4", "ab") as f:
            f.write(bytes([i]))  # distinct bytes: no file is taken for a moved copy of another
    args = [cli, "index", "--db", str(work / "db"), "--model", model, "--frame-interval", "1",
            "--dedup-threshold", "1", str(folder)]
    rng = random.Random(8)
    kills = 0
    db = work / "db"
    for attempt in range(6):
        before = committed_videos(db)
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not wait_for_commit(proc, db, before):
            print(f"FAIL: run {attempt} ended (status {proc.returncode}) before it could be killed: "
                  f"{committed_videos(db)} of {COPIES} videos")
            sys.exit(1)
        time.sleep(rng.uniform(0.0, 0.3))  # somewhere inside the next video
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if proc.returncode != -signal.SIGKILL:
            print(f"FAIL: run {attempt} was not killed (status {proc.returncode})")
            sys.exit(1)
        kills += 1
        done = check_store(db)
        if not before < done < COPIES:
            print(f"FAIL: run {attempt} killed with {done} videos (before: {before}, of {COPIES})")
            sys.exit(1)
        print(f"run {attempt}: {done} complete videos after a kill")
    r = subprocess.run(args, capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        print(f"FAIL: resumed run: {r.returncode} {r.stderr}")
        sys.exit(1)
    done = check_store(work / "db")
    if done != COPIES:
        print(f"FAIL: {done} videos after resuming, want {COPIES}")
        sys.exit(1)
    print(f"{kills} kills, every video whole; {done} videos of {FRAMES} frames after resuming")


if __name__ == "__main__":
    main()
