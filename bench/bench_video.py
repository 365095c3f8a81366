#!/usr/bin/python3
"""Video indexing benchmark: libcerebro (bench_video) next to a Python
reference, same bundle, same clip, same thread count, measured in one run.
Not a test: it prints figures.

    OMP_WAIT_POLICY=PASSIVE nice /usr/bin/python3 bench/bench_video.py \\
        --build build-video [--bundle models/default.pt] [--threads 2] [--interval 1]

The clip: 30 s of ffmpeg's testsrc2 pattern at 1920x1080, 30 fps, H.264
(written once into --work). Both sides decode every frame, keep one frame per
`interval` seconds, bring it to the model's input (shortest side, centre crop,
normalise) and encode the kept frames with the bundle's encode_image.

libcerebro: what cerebro_index_add does for one video (decode with FFmpeg's
libraries, scene score on a grey thumbnail of every frame, RGB conversion and
FAST preprocessing of the kept frames, batched encoding, de-duplication),
without the store. Python reference: the ffmpeg program decodes and samples
(-vf fps=1/interval, raw RGB on a pipe), PIL resizes and crops, TorchScript
encodes in fp32. "decode share" = time outside the model / total.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from rows import record  # noqa: E402


ROOT = Path(__file__).resolve().parents[1]


def make_clip(path: Path) -> None:
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc2=size=1920x1080:rate=30:duration=30", "-c:v", "libx264", "-preset", "veryfast",
                    "-pix_fmt", "yuv420p", str(path)], check=True)


def run_c(build: Path, bundle: Path, clip: Path, threads: int, interval: float, precision: str) -> dict:
    out = subprocess.run([str(build / "bench" / "bench_video"), str(bundle), str(clip), "--threads", str(threads),
                          "--interval", str(interval), "--precision", precision],
                         check=True, capture_output=True, text=True).stdout
    figures = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3:
            figures[parts[0]] = float(parts[1])
    return figures


def run_python(bundle: Path, clip: Path, threads: int, interval: float, batch: int = 32) -> dict:
    torch.set_num_threads(threads)
    extra = {"cerebro/config.json": ""}
    module = torch.jit.load(str(bundle), _extra_files=extra).eval()
    config = json.loads(extra["cerebro/config.json"])
    size = config["image"]["size"]
    mean = np.array(config["image"]["mean"], dtype=np.float32)
    std = np.array(config["image"]["std"], dtype=np.float32)
    w, h = 1920, 1080
    t0 = time.monotonic()
    encode_s = 0.0
    kept = 0
    proc = subprocess.Popen(["ffmpeg", "-nostdin", "-v", "error", "-threads", str(threads), "-i", str(clip),
                             "-vf", f"fps=1/{interval}", "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:"],
                            stdout=subprocess.PIPE)
    pending: list[np.ndarray] = []

    def encode() -> None:
        nonlocal encode_s, kept
        t = time.monotonic()
        with torch.inference_mode():
            emb = module.encode_image(torch.from_numpy(np.stack(pending)))
            torch.nn.functional.normalize(emb.float(), dim=-1)
        encode_s += time.monotonic() - t
        kept += len(pending)
        pending.clear()

    assert proc.stdout is not None
    while True:
        raw = proc.stdout.read(w * h * 3)
        if len(raw) < w * h * 3:
            break
        img = Image.frombuffer("RGB", (w, h), raw, "raw", "RGB", 0, 1)
        scale = size / min(w, h)
        nw, nh = max(size, int(w * scale)), max(size, int(h * scale))
        img = img.resize((nw, nh), Image.BICUBIC)
        left, top = round((nw - size) / 2), round((nh - size) / 2)
        x = np.asarray(img.crop((left, top, left + size, top + size)), dtype=np.float32) / 255.0
        pending.append(((x - mean) / std).transpose(2, 0, 1).copy())
        if len(pending) == batch:
            encode()
    proc.wait()
    if pending:
        encode()
    total = time.monotonic() - t0
    decoded = 30 * 30  # every frame of the clip goes through ffmpeg's decoder
    return {"pipeline_fps": decoded / total, "total": total, "frames_encoded": kept,
            "decode_share": 100.0 * (total - encode_s) / total}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", type=Path, default=ROOT / "build")
    ap.add_argument("--bundle", type=Path, default=ROOT / "models" / "default.pt")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--interval", type=float, default=1.0)
    ap.add_argument("--work", type=Path, default=Path("/tmp/bench-video"))
    args = ap.parse_args()
    clip = args.work / "testsrc2-1080p-30s.mp4"
    make_clip(clip)
    print(f"clip: {clip} (1920x1080, 30 fps, 30 s, H.264); bundle {args.bundle.name}; "
          f"{args.threads} threads; one frame kept per {args.interval:g} s")
    c_auto = run_c(args.build, args.bundle, clip, args.threads, args.interval, "auto")
    c_fp32 = run_c(args.build, args.bundle, clip, args.threads, args.interval, "fp32")
    py = run_python(args.bundle, clip, args.threads, args.interval)
    rows = [("libcerebro (auto precision)", c_auto), ("libcerebro (fp32)", c_fp32), ("Python reference (fp32)", py)]
    print(f"{'':30} {'frames/s':>9} {'total s':>8} {'encoded':>8} {'decode share':>13}")
    for name, f in rows:
        print(f"{name:30} {f['pipeline_fps']:9.1f} {f['total']:8.2f} {int(f['frames_encoded']):8d} "
              f"{f['decode_share']:12.1f}%")
    record("video", "1080p clip, 1 frame/s kept, auto precision", "frames/s", "ffmpeg + PyTorch (fp32)",
           py["pipeline_fps"], c_auto["pipeline_fps"])
    record("video", "1080p clip, 1 frame/s kept, fp32", "frames/s", "ffmpeg + PyTorch (fp32)",
           py["pipeline_fps"], c_fp32["pipeline_fps"])
    print(f"libcerebro decoding alone (every frame + scene thumbnail): {c_auto['decode_only_fps']:.1f} frames/s; "
          f"frames kept after de-duplication: {int(c_auto['frames_kept'])}")


if __name__ == "__main__":
    main()
