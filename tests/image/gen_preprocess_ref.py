#!/usr/bin/python3
"""Reference data for tests/image/test_preprocess.c.

Writes images (PNG, JPEG, grayscale, CMYK, RGBA, EXIF-rotated) and what the
CLIP reference makes of them: torchvision 0.14 Resize(S, BICUBIC) +
CenterCrop(S) (+ ToTensor + Normalize) on PIL.Image.open(p).convert("RGB"),
with ImageOps.exif_transpose for rotated files and compositing on white for
files with alpha (the two places where libcerebro deliberately differs from
plain convert("RGB")). Raw RGB cases check the resampler on its own against
PIL's Image.resize.

Output: <out>/manifest.txt, one case a line, fields separated by spaces
(paths relative to <out>):
  resize <src.rgb> <w> <h> <tw> <th> <x0> <y0> <x1> <y1> <ref.rgb>
  crop   <src.rgb> <w> <h> <S> <crop.u8> <tensor.f32>
  file   <image> <S> <big 0|1> <crop.u8> <tensor.f32>
  fast   <image> <S> <W> <H> <x0> <y0> <x1> <y1> <crop.u8>
  squash <src.rgb> <w> <h> <S> <out.u8> <tensor.f32>
  sfile  <image> <S> <big 0|1> <out.u8> <tensor.f32>
  sfast  <image> <S> <W> <H> <x0> <y0> <x1> <y1> <out.u8>
resize: PIL's resize((tw, th), BICUBIC, box=(x0, y0, x1, y1)), box all 0 for
the default. crop.u8 is the S x S x 3 uint8 crop before ToTensor; tensor.f32
the 3 x S x S normalised float32 tensor (native byte order), "-" where not
written. fast: what PIL gives for the JPEG decoded at the scale libcerebro's
fast mode picks (draft()), oriented, then resized with the geometry of the
original W x H (oriented) from the box the content covers, and centre
cropped. squash, sfile and sfast are the same for CEREBRO_RESIZE_SQUASH:
PIL's resize((S, S), BICUBIC) of the whole image (SigLIP's processors),
then ToTensor + Normalize; sfast from the draft()ed JPEG with the content's
box.

Usage: gen_preprocess_ref.py --out DIR
"""
import argparse
import hashlib
import os
import sys
from pathlib import Path
from typing import Callable, List, Tuple

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageOps
import torch
import torchvision.transforms as T

MEAN = (0.48145466, 0.4578275, 0.40821073)
STD = (0.26862954, 0.26130258, 0.27577711)
SIZES = (224, 64, 32)


def photo_like(width: int, height: int, seed: int) -> Image.Image:
    """Smooth colour fields, hard-edged shapes and sensor-like noise: content
    that exercises both the low-pass and the ringing side of bicubic."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (max(2, height // 64 + 2), max(2, width // 64 + 2), 3), np.uint8)
    base = Image.fromarray(small).resize((width, height), Image.BICUBIC)
    draw = ImageDraw.Draw(base)
    for _ in range(6 + (width * height) // 200000):
        x0, x1 = sorted(rng.integers(-width // 4, width + width // 4, 2).tolist())
        y0, y1 = sorted(rng.integers(-height // 4, height + height // 4, 2).tolist())
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        if rng.integers(2):
            draw.ellipse((x0, y0, x1, y1), fill=colour)
        else:
            draw.line((x0, y0, x1, y1), fill=colour, width=int(rng.integers(1, 6)))
    base = base.filter(ImageFilter.GaussianBlur(0.7))
    arr = np.asarray(base).astype(np.int16)
    arr += rng.integers(-6, 7, arr.shape, np.int16)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def synthetic(width: int, height: int, kind: int, seed: int) -> np.ndarray:
    """Raw RGB patterns for the resampler: noise (worst case for rounding),
    gradients and a checkerboard of saturated colours (clamping)."""
    rng = np.random.default_rng(seed)
    if kind == 0:
        return rng.integers(0, 256, (height, width, 3), np.uint8)
    y, x = np.mgrid[0:height, 0:width]
    arr = np.stack([(x * 7 + y * 3) % 256, (x * x // (width + 1) + y) % 256, ((x ^ y) * 5) % 256], -1)
    arr = arr.astype(np.uint8)
    if kind == 2:
        arr[((x // 3) + (y // 5)) % 2 == 0] = (255, 0, 255)
        arr[((x // 7) + (y // 2)) % 3 == 0] = (0, 255, 0)
    return arr


SQUASH_SIZES = (224, 384, 64, 32, 7)


def squash(im: Image.Image, size: int) -> Image.Image:
    """SigLIP's resize: the whole image to size x size, aspect not kept."""
    return im.resize((size, size), Image.BICUBIC)


def crop_transform(size: int) -> Callable[[Image.Image], Image.Image]:
    return T.Compose([T.Resize(size, interpolation=T.InterpolationMode.BICUBIC), T.CenterCrop(size)])


def tensor_transform() -> Callable[[Image.Image], torch.Tensor]:
    return T.Compose([T.ToTensor(), T.Normalize(MEAN, STD)])


class Writer:
    def __init__(self, out: Path) -> None:
        self.out = out
        self.lines: List[str] = []

    def raw(self, name: str, arr: np.ndarray) -> str:
        (self.out / name).write_bytes(np.ascontiguousarray(arr).tobytes())
        return name

    def references(self, im: Image.Image, stem: str, size: int, tensor: bool = True,
                   resize: str = "crop") -> Tuple[str, str]:
        crop = crop_transform(size)(im) if resize == "crop" else squash(im, size)
        stem = stem if resize == "crop" else f"{stem}.sq"
        crop_name = self.raw(f"{stem}.s{size}.u8", np.asarray(crop, np.uint8))
        if not tensor:
            return crop_name, "-"
        tensor = tensor_transform()(crop).numpy().astype(np.float32)
        tensor_name = self.raw(f"{stem}.s{size}.f32", tensor)
        return crop_name, tensor_name


def raw_cases(w: Writer) -> None:
    sizes = [(1, 1), (2, 2), (3, 500), (500, 3), (7, 13), (223, 223), (224, 224), (225, 225),
             (224, 227), (229, 224), (500, 375), (375, 500), (640, 480), (1000, 100), (17, 1200),
             (1301, 977)]
    rng = np.random.default_rng(7)
    sizes += [(int(rng.integers(1, 400)), int(rng.integers(1, 400))) for _ in range(12)]
    for i, (width, height) in enumerate(sizes):
        arr = synthetic(width, height, i % 3, 100 + i)
        src = w.raw(f"raw{i}.rgb", arr)
        im = Image.fromarray(arr)
        targets = {(max(1, width // 2), max(1, height // 3)), (width, max(1, height // 2)),
                   (max(1, width // 3), height), (int(rng.integers(1, 300)), int(rng.integers(1, 300)))}
        if width * height <= 250000:  # upscaling and the identity copy, on the smaller sources
            targets |= {(min(2 * width + 1, 701), height + 5), (width, height)}
        jobs = [(t, (0.0, 0.0, 0.0, 0.0)) for t in sorted(targets)]
        # Fractional boxes of a scaled decode: content full / d pixels wide,
        # starting at 0 or ending at the last pixel (mirrored orientations).
        if width >= 2 and height >= 2 and i % 2 == 0:
            d = (2, 4, 8)[i % 3]
            bw, bh = width - (i % d + 1) / d, height - ((i + 3) % d + 1) / d
            half = (max(1, width // 2), max(1, height // 2))
            jobs += [(half, (0.0, 0.0, bw, bh)), (half, (width - bw, height - bh, float(width), float(height)))]
        for j, ((tw, th), box) in enumerate(jobs):
            kwargs = {"box": box} if box[2] else {}
            ref = np.asarray(im.resize((tw, th), Image.BICUBIC, **kwargs))
            name = w.raw(f"raw{i}.r{j}.rgb", ref)
            w.lines.append(f"resize {src} {width} {height} {tw} {th} "
                           f"{box[0]!r} {box[1]!r} {box[2]!r} {box[3]!r} {name}")
        for size in SIZES:
            # Raw cases check the resampler; the float conversion is checked
            # on the small sizes here and on every file case.
            crop_name, tensor_name = w.references(im, f"raw{i}", size, tensor=size != 224)
            w.lines.append(f"crop {src} {width} {height} {size} {crop_name} {tensor_name}")
        # Squash: down in both directions, up in both, up in one and down
        # in the other, every aspect ratio of the list.
        for size in SQUASH_SIZES:
            out_name, tensor_name = w.references(im, f"raw{i}", size, tensor=size <= 64, resize="squash")
            w.lines.append(f"squash {src} {width} {height} {size} {out_name} {tensor_name}")


def reference_image(path: Path, kind: str) -> Image.Image:
    im = Image.open(path)
    if kind == "exif":
        im = ImageOps.exif_transpose(im)
    if kind == "alpha":
        white = Image.new("RGBA", im.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, im.convert("RGBA")).convert("RGB")
    return im.convert("RGB")


def file_cases(w: Writer) -> None:
    """(name, width, height, how to save, reference kind, sizes, big)."""
    cases = []
    dims = [(1, 1), (3, 500), (500, 3), (223, 223), (224, 224), (225, 225),
            # long side 225/227/229/231 at S=224: crop offsets 0.5/1.5/2.5/3.5 round half to even
            (224, 225), (224, 227), (229, 224), (231, 224),
            (500, 375), (375, 500), (333, 500), (1200, 200), (200, 1500), (2048, 1536)]
    for width, height in dims:
        cases.append((f"p{width}x{height}.png", width, height, "png", "plain", SIZES, False))
        cases.append((f"j{width}x{height}.jpg", width, height, "jpg", "plain", SIZES, False))
    cases += [
        ("j2400x1600.jpg", 2400, 1600, "jpg", "plain", SIZES, True),
        ("j1600x2400.jpg", 1600, 2400, "jpg", "plain", (224,), True),
        ("j4000x3000.jpg", 4000, 3000, "jpg", "plain", SIZES, True),
        ("j4000x3000_444.jpg", 4000, 3000, "jpg444", "plain", (224,), True),
        ("j3000x4000_prog.jpg", 3000, 4000, "jpgprog", "plain", (224,), True),
        ("j2000x1000_q60.jpg", 2000, 1000, "jpgq60", "plain", (224,), True),
        ("gray640x480.jpg", 640, 480, "jpggray", "plain", SIZES, False),
        ("gray2400x1800.jpg", 2400, 1800, "jpggray", "plain", (224,), True),
        ("gray640x480.png", 640, 480, "pnggray", "plain", SIZES, False),
        ("cmyk640x480.jpg", 640, 480, "jpgcmyk", "plain", SIZES, False),
        ("palette500x400.png", 500, 400, "pngpalette", "plain", (224,), False),
        ("rgba640x480.png", 640, 480, "pngrgba", "alpha", SIZES, False),
        ("la300x420.png", 300, 420, "pngla", "alpha", (224,), False),
    ]
    for orientation in range(1, 9):
        cases.append((f"exif{orientation}_320x240.jpg", 320, 240, f"exif{orientation}", "exif", (224, 64), False))
    for orientation in range(1, 9):
        # Sizes that do not divide by 8: fast mode's partial pixel moves with the orientation.
        cases.append((f"exif{orientation}_333x250.jpg", 333, 250, f"exif{orientation}", "exif", (32,), False))
    cases.append(("exif6_2400x1600.jpg", 2400, 1600, "exif6", "exif", (224,), True))

    for i, (name, width, height, how, kind, sizes, big) in enumerate(cases):
        path = w.out / name
        save_image(photo_like(width, height, 1000 + i), path, how)
        im = reference_image(path, kind)
        for size in sizes:
            crop_name, tensor_name = w.references(im, name, size)
            w.lines.append(f"file {name} {size} {int(big)} {crop_name} {tensor_name}")
            out_name, tensor_name = w.references(im, name, size, resize="squash")
            w.lines.append(f"sfile {name} {size} {int(big)} {out_name} {tensor_name}")
            if how.startswith("jpg") or how.startswith("exif"):
                fast_case(w, path, name, kind, size)
                fast_case(w, path, name, kind, size, resize="squash")


# EXIF orientations whose transform moves the stored right column to the
# left, and the stored bottom row to the top.
MIRRORS_X = {2, 3, 6, 7}
MIRRORS_Y = {3, 4, 7, 8}


def fast_case(w: Writer, path: Path, name: str, kind: str, size: int, resize: str = "crop") -> None:
    """Reference for fast mode's geometry: libcerebro decodes at the
    strongest 1/d that keeps the short side >= S (PIL's draft() at the same
    d), then resizes from the box the original content covers."""
    im = Image.open(path)
    width, height = im.size
    scale = next((d for d in (8, 4, 2) if min(-(-width // d), -(-height // d)) >= size), 1)
    if scale == 1:
        return
    im.draft(im.mode, (width // scale, height // scale))
    assert im.size == (-(-width // scale), -(-height // scale)), (name, im.size, scale)
    orientation = im.getexif().get(0x0112, 1) if kind == "exif" else 1
    if kind == "exif":
        im = ImageOps.exif_transpose(im)
    im = im.convert("RGB")
    full_w, full_h = (height, width) if orientation >= 5 else (width, height)
    ext_w, ext_h = full_w / scale, full_h / scale
    x0 = im.width - ext_w if orientation in MIRRORS_X else 0.0
    y0 = im.height - ext_h if orientation in MIRRORS_Y else 0.0
    box = (x0, y0, x0 + ext_w, y0 + ext_h)
    if resize == "squash":
        out = im.resize((size, size), Image.BICUBIC, box=box)
        out_name = w.raw(f"{name}.sq.s{size}.fast.u8", np.asarray(out, np.uint8))
        w.lines.append(f"sfast {name} {size} {full_w} {full_h} "
                       f"{box[0]!r} {box[1]!r} {box[2]!r} {box[3]!r} {out_name}")
        return
    resized = im.resize(T.functional._compute_resized_output_size((full_h, full_w), [size])[::-1],
                        Image.BICUBIC, box=box)
    crop = T.CenterCrop(size)(resized)
    crop_name = w.raw(f"{name}.s{size}.fast.u8", np.asarray(crop, np.uint8))
    w.lines.append(f"fast {name} {size} {full_w} {full_h} "
                   f"{box[0]!r} {box[1]!r} {box[2]!r} {box[3]!r} {crop_name}")


def save_image(im: Image.Image, path: Path, how: str) -> None:
    if how == "png":
        im.save(path)
    elif how == "jpg":
        im.save(path, quality=90)
    elif how == "jpg444":
        im.save(path, quality=92, subsampling=0)
    elif how == "jpgprog":
        im.save(path, quality=88, progressive=True)
    elif how == "jpgq60":
        im.save(path, quality=60)
    elif how == "jpggray":
        im.convert("L").save(path, quality=90)
    elif how == "pnggray":
        im.convert("L").save(path)
    elif how == "jpgcmyk":
        im.convert("CMYK").save(path, quality=90)
    elif how == "pngpalette":
        im.convert("P", palette=Image.ADAPTIVE, colors=200).save(path)
    elif how in ("pngrgba", "pngla"):
        rgba = im.convert("RGBA")
        alpha = np.zeros((im.height, im.width), np.uint8)
        y, x = np.mgrid[0:im.height, 0:im.width]
        alpha[:] = np.clip((x * 255) // max(1, im.width - 1), 0, 255)
        alpha[(y // 40) % 3 == 0] = 0      # fully transparent bands
        alpha[(y // 40) % 3 == 1] = 255    # fully opaque bands
        rgba.putalpha(Image.fromarray(alpha))
        (rgba if how == "pngrgba" else rgba.convert("LA")).save(path)
    elif how.startswith("exif"):
        exif = Image.Exif()
        exif[0x0112] = int(how[4:])
        im.save(path, quality=90, exif=exif.tobytes())
    else:
        raise ValueError(how)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args()
    out: Path = args.out
    # Regenerating takes a while: skip when this script has not changed.
    stamp = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()
    stamp_file = out / "stamp"
    if stamp_file.exists() and stamp_file.read_text() == stamp and (out / "manifest.txt").exists():
        print(f"{out}: up to date")
        return 0
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    writer = Writer(out)
    raw_cases(writer)
    file_cases(writer)
    (out / "manifest.txt").write_text("\n".join(writer.lines) + "\n")
    stamp_file.write_text(stamp)
    print(f"{out}: {len(writer.lines)} cases")
    return 0


if __name__ == "__main__":
    sys.exit(main())
