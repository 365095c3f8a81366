#!/usr/bin/python3
"""Writes a folder of distinct, deterministic test images for the index
tests and benchmarks (tests/index/kill_test.py, bench/bench_index.py).

Each image is a smooth random colour field with a few sharp shapes: cheap to
make, different for every seed, photo-like enough for a model to tell them
apart. Images are spread over subfolders (`per_folder` each). A marker file
records the parameters, so a second call with the same ones reuses the
folder.

usage: gen_images.py OUT COUNT [--min 32] [--max 96] [--size WxH] [--seed 0]
                     [--png-every 3] [--per-folder 250] [--quality 90]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

MARKER = ".gen_images.json"


def picture(rng: np.random.Generator, width: int, height: int) -> Image.Image:
    """A colour field upsampled from a coarse random grid, noise, shapes."""
    gw, gh = max(2, width // 24), max(2, height // 24)
    grid = Image.fromarray(rng.integers(0, 256, (gh, gw, 3), dtype=np.uint8))
    field = np.asarray(grid.resize((width, height), Image.BILINEAR), dtype=np.int16)
    noise = rng.integers(-12, 13, (height, width, 3), dtype=np.int16)
    img = Image.fromarray(np.clip(field + noise, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    for _ in range(4):
        x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
        r = int(rng.integers(max(2, width // 12), max(3, width // 3)))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        if rng.random() < 0.5:
            draw.ellipse([x0 - r, y0 - r, x0 + r, y0 + r], fill=colour)
        else:
            draw.rectangle([x0 - r, y0 - r // 2, x0 + r, y0 + r // 2], fill=colour)
    return img


def generate(out: Path, count: int, min_side: int = 32, max_side: int = 96, size: tuple[int, int] | None = None,
             seed: int = 0, png_every: int = 3, per_folder: int = 250, quality: int = 90) -> list[Path]:
    """Writes `count` images under out/ (unless already there) and returns their paths."""
    params = {"count": count, "min": min_side, "max": max_side, "size": list(size) if size else None,
              "seed": seed, "png_every": png_every, "per_folder": per_folder, "quality": quality, "version": 1}
    paths = []
    for i in range(count):
        ext = "png" if png_every and i % png_every == png_every - 1 else "jpg"
        paths.append(out / f"d{i // per_folder:03d}" / f"img{i:05d}.{ext}")
    marker = out / MARKER
    if marker.exists() and json.loads(marker.read_text()) == params:
        return paths
    if out.exists():
        shutil.rmtree(out)
    rng = np.random.default_rng(seed)
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        if size:
            width, height = size
        else:
            width, height = (int(v) for v in rng.integers(min_side, max_side + 1, 2))
        img = picture(rng, width, height)
        if path.suffix == ".png":
            img.save(path, compress_level=1)
        else:
            img.save(path, quality=quality)
    marker.write_text(json.dumps(params))
    return paths


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("count", type=int)
    ap.add_argument("--min", type=int, default=32)
    ap.add_argument("--max", type=int, default=96)
    ap.add_argument("--size", help="fixed WxH instead of random sides")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--png-every", type=int, default=3, help="every Nth image is a PNG (0: none)")
    ap.add_argument("--per-folder", type=int, default=250)
    ap.add_argument("--quality", type=int, default=90)
    a = ap.parse_args(argv)
    size = tuple(int(v) for v in a.size.split("x")) if a.size else None
    paths = generate(a.out, a.count, a.min, a.max, size, a.seed, a.png_every, a.per_folder, a.quality)
    print(f"{len(paths)} images in {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
