"""Images as libcerebro loads them, and the preprocessed-pixel cache.

The library's pipeline (docs/bundle-format.md, "image"): EXIF orientation, alpha
composited on the bundle's background (white), shortest side resized to S with PIL's
bicubic filter (long side int(S * long / short), truncated), S x S centre crop at
int(round((H - S) / 2)), then (x / 255 - mean) / std. `load_pixels` does the same
with PIL (it matches the C library within one level per channel) and stops at uint8,
so a training set is decoded once and cached as uint8[N, S, S, 3]; normalisation and
augmentation happen per batch in torch.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
from pathlib import Path
from typing import Sequence, Tuple

import numpy as np
import torch
from PIL import Image, ImageOps

from .bundle import CLIP_MEAN, CLIP_STD, DEFAULT_BACKGROUND

# The library refuses images over 100 MP; the data builders drop those.
Image.MAX_IMAGE_PIXELS = 100_000_000


def to_rgb(image: Image.Image, background: Tuple[int, int, int] = DEFAULT_BACKGROUND
           ) -> Image.Image:
    """RGB with any alpha (RGBA, LA, palette or RGB/L transparency) composited on
    `background`."""
    has_alpha = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or \
        "transparency" in image.info
    if not has_alpha:
        return image.convert("RGB")
    rgba = image.convert("RGBA")
    base = Image.new("RGBA", rgba.size, tuple(background) + (255,))
    return Image.alpha_composite(base, rgba).convert("RGB")


def resize_crop(image: Image.Image, size: int) -> Image.Image:
    """torchvision Resize(size, BICUBIC) + CenterCrop(size) on a PIL image."""
    width, height = image.size
    if width <= height:
        new = (size, int(size * height / width))
    else:
        new = (int(size * width / height), size)
    if new != (width, height):
        image = image.resize(new, Image.BICUBIC)
    width, height = image.size
    top = int(round((height - size) / 2.0))
    left = int(round((width - size) / 2.0))
    return image.crop((left, top, left + size, top + size))


def load_pixels(path: str, size: int,
                background: Tuple[int, int, int] = DEFAULT_BACKGROUND) -> np.ndarray:
    """uint8[size, size, 3] as the library preprocesses `path` (before normalising)."""
    with Image.open(path) as image:
        image = ImageOps.exif_transpose(image)
        return np.asarray(resize_crop(to_rgb(image, background), size), dtype=np.uint8)


def _load_job(job: Tuple[str, int]) -> np.ndarray:
    return load_pixels(job[0], job[1])


def load_many(paths: Sequence[str], size: int, workers: int = 2) -> np.ndarray:
    out = np.empty((len(paths), size, size, 3), dtype=np.uint8)
    jobs = [(p, size) for p in paths]
    if workers <= 1 or len(paths) < 256:
        for i, job in enumerate(jobs):
            out[i] = _load_job(job)
        return out
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        for i, pixels in enumerate(pool.imap(_load_job, jobs, chunksize=64)):
            out[i] = pixels
    return out


def cache_key(paths: Sequence[str], size: int) -> str:
    digest = hashlib.sha1(str(size).encode())
    for path in paths:
        stat = os.stat(path)
        digest.update(f"{path}\0{stat.st_size}\0{int(stat.st_mtime)}\n".encode())
    return digest.hexdigest()[:16]


def cached_pixels(paths: Sequence[str], size: int, cache_dir: Path, workers: int = 2
                  ) -> np.ndarray:
    """load_many through an on-disk cache keyed by the paths, sizes and mtimes."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_dir / f"pixels-{size}-{cache_key(paths, size)}.npy"
    if path.is_file():
        return np.load(path, mmap_mode="r")
    pixels = load_many(paths, size, workers)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp.npy")
    np.save(tmp, pixels)
    os.replace(tmp, path)
    return pixels


def normalise(pixels: torch.Tensor, mean: Sequence[float] = CLIP_MEAN,
              std: Sequence[float] = CLIP_STD) -> torch.Tensor:
    """uint8 or [0, 255] float [N, S, S, 3] or [N, 3, S, S] (channels given by shape
    [..., 3]) -> float32 [N, 3, S, S] normalised as the library does."""
    x = pixels.float()
    if x.size(-1) == 3 and x.size(1) != 3:
        x = x.permute(0, 3, 1, 2)
    mean_t = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
    std_t = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)
    return ((x / 255.0 - mean_t) / std_t).contiguous()
