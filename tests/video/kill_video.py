#!/usr/bin/env python3
"""A killed indexer never leaves half a video: `cerebro index` runs over a
folder of videos and is SIGKILLed at random moments; after each kill every
video the store holds has all its frames (a video's frames and its file row
are one transaction), and a resumed run completes the rest."""
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
    for attempt in range(6):
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.5, 3.0))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
        if (work / "db" / "cerebro.db").exists():
            done = check_store(work / "db")
            print(f"run {attempt}: {done} complete videos after {'a kill' if proc.returncode < 0 else 'the end'}")
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
