#!/usr/bin/env python3
"""`cerebro index` and `cerebro search` on a folder with a video: search
prints frames as `clip.mp4 @ 00:00:03.0`, --json gives the timestamp in
seconds, and the video flags reach the library."""
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, timeout=300)


def expect(cond: bool, what: str) -> None:
    if not cond:
        print(f"FAIL: {what}")
        sys.exit(1)


def main() -> None:
    cli, model, media, work = sys.argv[1], sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4])
    shutil.rmtree(work, ignore_errors=True)
    (work / "videos").mkdir(parents=True)
    shutil.copy(media / "scenes.mp4", work / "videos" / "clip.mp4")
    shutil.copy(media / "still.mp4", work / "videos" / "still.mp4")
    shutil.copy(media / "audio_only.mp4", work / "videos" / "audio_only.mp4")
    common = ["--db", "db", "--model", model]

    r = run(cli, "index", *common, "--frame-interval", "20", "videos", cwd=work)
    expect(r.returncode == 0, f"index: {r.returncode} {r.stderr}")
    # clip: 0 s and the cut at 3 s; still: one frame (the others are duplicates).
    expect(re.search(r"^indexed 2, .* failed 1 in .* \(3 video frames\)$", r.stdout, re.M) is not None,
           r.stdout)
    expect("audio_only.mp4: no video stream" in r.stdout, r.stdout)

    r = run(cli, "search", *common, "-k", "2", "a frog", cwd=work)
    expect(r.returncode == 0, r.stderr)
    first = r.stdout.splitlines()[0]
    m = re.fullmatch(r"(\d\.\d{3})  videos/clip\.mp4 @ (\d\d):(\d\d):(\d\d\.\d)  \(id \d+\)", first)
    expect(m is not None, f"search output: {r.stdout!r}")
    seconds = int(m.group(2)) * 3600 + int(m.group(3)) * 60 + float(m.group(4))
    expect(3.0 <= seconds <= 6.0, f"frame at {seconds} s")

    r = run(cli, "search", *common, "--json", "-k", "3", "a frog", cwd=work)
    hits = [json.loads(line) for line in r.stdout.splitlines()]
    expect(hits[0]["path"].endswith("clip.mp4") and 3.0 <= hits[0]["timestamp"] <= 6.0, str(hits))

    r = run(cli, "index", *common, "videos", cwd=work)
    expect(re.search(r"^indexed 0, updated 0, unchanged 3, removed 0, failed 0 in [\d.]+ s$", r.stdout, re.M)
           is not None, r.stdout)

    r = run(cli, "index", "--db", "db2", "--model", model, "--no-video", "videos", cwd=work)
    expect(r.returncode == 0 and r.stdout.startswith("indexed 0, updated 0, unchanged 0, removed 0, failed 0"),
           r.stdout + r.stderr)
    r = run(cli, "index", *common, "--max-frames", "0", "videos", cwd=work)
    expect(r.returncode == 2 and "--max-frames" in r.stderr, r.stderr)
    print("cerebro prints video frames with their timestamps")


if __name__ == "__main__":
    main()
