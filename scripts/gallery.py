#!/usr/bin/env python3
"""Assembles the demo's sample gallery and prints the folders to index, one per line.

    /usr/bin/python3 scripts/gallery.py build/demo/gallery

- Google (Noto) and Twitter emoji, 64x64 PNG: `npm pack emoji-datasource-google@16.0.0`
  and `-twitter` (downloaded once into the training pipeline's cache, training/data),
  copied to GALLERY/<style>/<category>/<subcategory>/<short name>.png so paths say
  what an image is (and --prefix can pick a style or a category). GALLERY is the
  first folder printed. Base emoji only,
  no skin-tone variants.
- Tux Paint stamps (/usr/share/tuxpaint/stamps) and Openclipart
  (/usr/share/openclipart/png) when their Debian packages are installed; they are
  indexed in place.

Idempotent: a second run copies nothing and prints the same folders, so indexing
them again re-encodes nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import shutil
import sys
from pathlib import Path
from typing import List

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "training"))

from cerebro_train.data import GOOGLE_EMOJI, TWITTER_EMOJI, extracted, npm_pack  # noqa: E402
from cerebro_train.paths import default_data_dir  # noqa: E402

INSTALLED = [Path("/usr/share/tuxpaint/stamps"), Path("/usr/share/openclipart/png")]


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "other"


def emoji_gallery(spec: str, style: str, out: Path) -> Path:
    data = default_data_dir()
    package = extracted(npm_pack(spec, data / "downloads"), data / "extract",
                        spec.rsplit("@", 1)[0]) / "package"
    target = out / style
    marker = target / ".complete"
    if marker.is_file():
        return target
    entries = json.loads((package / "emoji.json").read_text(encoding="utf-8"))
    images = package / "img" / style / "64"
    copied = 0
    for entry in entries:
        source = images / entry["image"]
        if not entry.get(f"has_img_{style}") or not source.is_file():
            continue
        folder = target / slug(entry["category"]) / slug(entry["subcategory"])
        folder.mkdir(parents=True, exist_ok=True)
        name = slug(entry["short_name"])
        destination = folder / f"{name}.png"
        if destination.exists() and destination.stat().st_size != source.stat().st_size:
            destination = folder / f"{name}-{slug(entry['unified'])}.png"
        if not destination.exists():
            shutil.copyfile(source, destination)
            copied += 1
    marker.write_text(f"{spec}\n")
    print(f"gallery: {copied} {style} emoji in {target}", file=sys.stderr)
    return target


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("gallery", type=Path, help="folder for the copied emoji")
    args = parser.parse_args()
    # stdout carries only the folder list (demo.sh reads it); the download
    # helpers' progress lines go to stderr.
    with contextlib.redirect_stdout(sys.stderr):
        emoji_gallery(GOOGLE_EMOJI, "google", args.gallery)
        emoji_gallery(TWITTER_EMOJI, "twitter", args.gallery)
    folders: List[Path] = [args.gallery] + [folder for folder in INSTALLED if folder.is_dir()]
    for folder in folders:
        print(folder.resolve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
