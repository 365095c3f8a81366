#!/usr/bin/python3
"""One picture in every image format libcerebro reads besides JPEG and PNG,
written at test time by PIL and the formats' own Debian tools (heif-enc,
avifenc, cjxl), for the server, CLI and binding tests.

Each format comes with a PNG of the pixels it should decode to: the same
for the lossless ones (WebP lossless, GIF of <= 256 colours, TIFF, BMP,
JPEG XL lossless), the source for the lossy ones (HEIC, AVIF).

As a module: write_samples(source, folder, stem, refs). As a program (for
the Node tests): format_samples.py SOURCE FOLDER [STEM] writes them (the
references beside them) and prints
one JSON object {format: {"file", "png", "lossless", "type", "size"}}.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from PIL import Image

# format: (extension, lossless, media type /api/image answers with)
FORMATS = {
    "webp": (".webp", True, "image/webp"),
    "gif": (".gif", True, "image/gif"),
    "tiff": (".tif", True, "image/jpeg"),
    "bmp": (".bmp", True, "image/bmp"),
    "heic": (".heic", False, "image/jpeg"),
    "avif": (".avif", False, "image/avif"),
    "jxl": (".jxl", True, "image/jpeg"),
}


def _tool(*args: str) -> None:
    r = subprocess.run(args, capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: exit {r.returncode}\n{r.stdout}{r.stderr}")


def write_sample(fmt: str, source: Path, folder: Path, stem: str, refs: Path) -> tuple[Path, Path]:
    """Writes folder/stem.EXT in `fmt` from the picture `source`, and
    refs/stem.EXT.png holding the pixels it should decode to (keep refs out
    of a folder that is indexed)."""
    ext = FORMATS[fmt][0]
    out, ref = folder / f"{stem}{ext}", refs / f"{stem}{ext}.png"
    folder.mkdir(parents=True, exist_ok=True)
    refs.mkdir(parents=True, exist_ok=True)
    with Image.open(source) as im:
        rgb = im.convert("RGB")
    if fmt == "gif":
        # At most 256 colours: the GIF holds exactly these pixels.
        rgb = rgb.quantize(256, dither=Image.Dither.NONE).convert("RGB")
    rgb.save(ref)
    if fmt == "webp":
        rgb.save(out, lossless=True)
    elif fmt == "gif":
        rgb.save(out)
    elif fmt == "tiff":
        rgb.save(out, compression="tiff_deflate")
    elif fmt == "bmp":
        rgb.save(out)
    elif fmt == "heic":
        _tool("heif-enc", "-q", "90", "-o", str(out), str(ref))
    elif fmt == "avif":
        _tool("avifenc", "--min", "4", "--max", "12", str(ref), str(out))
    elif fmt == "jxl":
        _tool("cjxl", "-d", "0", str(ref), str(out))
    return out, ref


def write_samples(source: Path, folder: Path, stem: str, refs: Path) -> dict[str, tuple[Path, Path]]:
    """Every format: {format: (file, reference PNG)}."""
    folder.mkdir(parents=True, exist_ok=True)
    refs.mkdir(parents=True, exist_ok=True)
    return {fmt: write_sample(fmt, source, folder, stem, refs) for fmt in FORMATS}


def main(argv: list[str]) -> int:
    source, folder = Path(argv[0]), Path(argv[1])
    stem = argv[2] if len(argv) > 2 else source.stem
    done = write_samples(source, folder, stem, folder)
    with Image.open(source) as im:
        size = list(im.size)
    print(json.dumps({fmt: {"file": str(f), "png": str(p), "lossless": FORMATS[fmt][1],
                            "type": FORMATS[fmt][2], "size": size} for fmt, (f, p) in done.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
