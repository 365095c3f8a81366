#!/usr/bin/python3
"""Preprocessing throughput: libcerebro (bench_preprocess) next to the CLIP
reference (PIL decode + torchvision Resize/CenterCrop/ToTensor/Normalize),
one thread each, on the same JPEG files, measured in one run.

    /usr/bin/python3 bench/bench_preprocess.py --build build [--seconds 3] [--size 224] [--rounds 3]

Generates two sets of photo-like JPEGs in a temporary directory:
  (a) 500x375-class images (the size of most web/dataset photos),
  (b) 12-megapixel 4000x3000 images (phone/camera photos),
and prints images/s for the reference, libcerebro exact mode and fast mode,
with the ratios. Targets: exact >= 2x the reference on (a), fast >= 8x on (b).

Each figure is the best of --rounds alternating runs of the reference and
libcerebro, by wall clock and, separately, by the process's CPU time (the
steadier figure when other work shares the machine).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, List, Tuple

import numpy as np
import torch
import torchvision.transforms as T
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent))
from rows import record  # noqa: E402

MEAN = (0.48145466, 0.4578275, 0.40821073)
STD = (0.26862954, 0.26130258, 0.27577711)
SMALL_SIZES = [(500, 375), (375, 500), (500, 333), (480, 360), (512, 384), (500, 400)]


def photo_like(width: int, height: int, seed: int) -> Image.Image:
    """Colour noise over several octaves (texture at every scale, so JPEG
    entropy is close to a real photo's), a few hard-edged shapes and
    sensor noise."""
    rng = np.random.default_rng(seed)
    acc = np.zeros((height, width, 3), np.float32)
    cell, amp = max(width, height) // 3, 90.0
    while cell >= 2:
        small = rng.normal(0, 1, (height // cell + 2, width // cell + 2, 3)).astype(np.float32)
        layer = np.stack([np.asarray(Image.fromarray(small[..., c], "F").resize(
            ((width // cell + 2) * cell, (height // cell + 2) * cell), Image.BICUBIC))[:height, :width]
            for c in range(3)], -1)
        acc += amp * layer
        cell, amp = cell // 2, amp * 0.62
    img = Image.fromarray(np.clip(acc + 128, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    for _ in range(12):
        x0, x1 = sorted(rng.integers(0, width, 2).tolist())
        y0, y1 = sorted(rng.integers(0, height, 2).tolist())
        draw.ellipse((x0, y0, x1, y1), outline=tuple(int(c) for c in rng.integers(0, 256, 3)),
                     width=int(rng.integers(1, 8)))
    arr = np.asarray(img).astype(np.int16) + rng.integers(-4, 5, (height, width, 3), np.int16)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def make_sets(root: Path, n_small: int, n_large: int) -> Dict[str, List[Path]]:
    sets: Dict[str, List[Path]] = {"500x375": [], "12 MP": []}
    for i in range(n_small):
        w, h = SMALL_SIZES[i % len(SMALL_SIZES)]
        path = root / f"small{i:03d}.jpg"
        photo_like(w, h, i).save(path, quality=90)
        sets["500x375"].append(path)
    for i in range(n_large):
        w, h = (4000, 3000) if i % 2 == 0 else (3000, 4000)
        path = root / f"large{i:03d}.jpg"
        photo_like(w, h, 1000 + i).save(path, quality=92)
        sets["12 MP"].append(path)
    return sets


Rates = Dict[str, Tuple[float, float]]  # name -> (wall images/s, CPU images/s)


def reference_rate(files: List[Path], size: int, seconds: float) -> Tuple[float, float]:
    """What CLIP evaluates with, one thread."""
    torch.set_num_threads(1)
    transform = T.Compose([
        T.Resize(size, interpolation=T.InterpolationMode.BICUBIC),
        T.CenterCrop(size),
        T.ToTensor(),
        T.Normalize(MEAN, STD),
    ])

    def one_pass() -> None:
        for path in files:
            with Image.open(path) as im:
                transform(im.convert("RGB"))

    return pass_rate(one_pass, len(files), seconds)


def pass_rate(one_pass: Callable[[], None], images: int, seconds: float) -> Tuple[float, float]:
    """(wall, CPU) images/s of repeating one_pass (which handles `images`
    images) for at least `seconds`, after one untimed pass that warms the
    page cache and lazy initialisation."""
    one_pass()
    done, t0, c0 = 0, time.monotonic(), time.process_time()
    while True:
        one_pass()
        done += images
        elapsed = time.monotonic() - t0
        if elapsed >= seconds:
            return done / elapsed, done / (time.process_time() - c0)


def cerebro_rates(binary: Path, files: List[Path], size: int, seconds: float) -> Rates:
    cmd = [str(binary), "--size", str(size), "--seconds", str(seconds)] + [str(f) for f in files]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return {m.group(1): (float(m.group(2)), float(m.group(3)))
            for m in re.finditer(r"mode=(\w+) .*images_per_s=([0-9.]+) cpu_images_per_s=([0-9.]+)", out)}


def best(a: Tuple[float, float], b: Tuple[float, float]) -> Tuple[float, float]:
    return max(a[0], b[0]), max(a[1], b[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", type=Path, default=Path("build"), help="CMake build directory")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--seconds", type=float, default=3.0, help="minimum time per measurement")
    parser.add_argument("--small", type=int, default=30, help="number of 500x375-class files")
    parser.add_argument("--large", type=int, default=4, help="number of 12 MP files")
    parser.add_argument("--rounds", type=int, default=3, help="alternating runs; the best counts")
    args = parser.parse_args()
    binary = args.build / "bench" / "bench_preprocess"
    if not binary.exists():
        print(f"{binary} not found: build the project first", file=sys.stderr)
        return 1

    rows = []
    with tempfile.TemporaryDirectory(prefix="cerebro-bench-") as tmp:
        sets = make_sets(Path(tmp), args.small, args.large)
        for name, files in sets.items():
            mb = sum(f.stat().st_size for f in files) / len(files) / 1e6
            rates: Rates = {"reference": (0.0, 0.0), "exact": (0.0, 0.0), "fast": (0.0, 0.0)}
            for _ in range(args.rounds):
                rates["reference"] = best(rates["reference"], reference_rate(files, args.size, args.seconds))
                for mode, rate in cerebro_rates(binary, files, args.size, args.seconds).items():
                    rates[mode] = best(rates[mode], rate)
            rows.append((f"{name} JPEG ({mb:.2f} MB avg)", len(files), rates))

    print(f"single thread, S={args.size}, images/s, best of {args.rounds} rounds "
          f"(ratio to PIL + torchvision)")
    for clock, k in (("wall clock", 0), ("CPU time", 1)):
        print(f"\n{clock}:")
        print(f"{'set':<28} {'files':>5} {'PIL+torchvision':>16} {'cerebro exact':>20} {'cerebro fast':>20}")
        for name, n, rates in rows:
            ref, exact, fast = rates["reference"][k], rates["exact"][k], rates["fast"][k]
            print(f"{name:<28} {n:>5} {ref:>16.1f} {exact:>12.1f} ({exact / ref:4.1f}x) "
                  f"{fast:>12.1f} ({fast / ref:4.1f}x)")
            if k == 0:
                for mode, ours in (("exact", exact), ("fast", fast)):
                    record("preprocess", f"{name}, {mode}, 1 thread", "img/s", "PIL + torchvision", ref, ours)
    return 0


if __name__ == "__main__":
    sys.exit(main())
