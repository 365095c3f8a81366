#!/usr/bin/python3
"""Thumbnail throughput: libcerebro (bench_thumbnail) next to PIL, one thread
each, on the same JPEG files, measured in one run.

    /usr/bin/python3 bench/bench_thumbnail.py --build build [--size 256] [--seconds 3] [--rounds 3]

A thumbnail is what `cerebro serve` returns from /api/thumb: decode, resize the
longest side to S with bicubic, encode JPEG quality 85. Files: the photo-like
12-megapixel JPEGs of bench_preprocess.py (camera photos) and 500x375-class
ones (web photos). Columns: PIL at full size (open + convert + resize), PIL's
own Image.thumbnail() (which decodes JPEGs reduced with draft()), libcerebro at
full size and with CEREBRO_IMAGE_DRAFT. Best of --rounds alternating runs, by
wall clock and by the process's CPU time.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
from pathlib import Path
from typing import Callable, Dict, List, Tuple

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_preprocess import best, cerebro_rates, make_sets, pass_rate  # noqa: E402
from rows import record  # noqa: E402

Rate = Tuple[float, float]  # (wall images/s, CPU images/s)


def pil_full(path: Path, size: int) -> bytes:
    with Image.open(path) as im:
        rgb = im.convert("RGB")
        w, h = rgb.size
        box = (size, max(1, h * size // w)) if w >= h else (max(1, w * size // h), size)
        out = io.BytesIO()
        rgb.resize(box, Image.BICUBIC).save(out, "JPEG", quality=85)
        return out.getvalue()


def pil_thumbnail(path: Path, size: int) -> bytes:
    with Image.open(path) as im:
        im.thumbnail((size, size), Image.BICUBIC)
        out = io.BytesIO()
        im.convert("RGB").save(out, "JPEG", quality=85)
        return out.getvalue()


def pil_rate(make: Callable[[Path, int], bytes], files: List[Path], size: int, seconds: float) -> Rate:
    def one_pass() -> None:
        for path in files:
            make(path, size)

    return pass_rate(one_pass, len(files), seconds)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", type=Path, default=Path("build"), help="CMake build directory")
    parser.add_argument("--size", type=int, default=256, help="thumbnail's longest side")
    parser.add_argument("--seconds", type=float, default=3.0, help="minimum time per measurement")
    parser.add_argument("--small", type=int, default=20, help="number of 500x375-class files")
    parser.add_argument("--large", type=int, default=4, help="number of 12 MP files")
    parser.add_argument("--rounds", type=int, default=3, help="alternating runs; the best counts")
    args = parser.parse_args()
    binary = args.build / "bench" / "bench_thumbnail"
    if not binary.exists():
        print(f"{binary} not found: build the project first", file=sys.stderr)
        return 1
    columns = ["PIL full", "PIL thumbnail", "cerebro full", "cerebro draft"]
    rows = []
    with tempfile.TemporaryDirectory(prefix="cerebro-bench-") as tmp:
        for name, files in make_sets(Path(tmp), args.small, args.large).items():
            mb = sum(f.stat().st_size for f in files) / len(files) / 1e6
            rates: Dict[str, Rate] = {c: (0.0, 0.0) for c in columns}
            for _ in range(args.rounds):
                rates["PIL full"] = best(rates["PIL full"], pil_rate(pil_full, files, args.size, args.seconds))
                rates["PIL thumbnail"] = best(rates["PIL thumbnail"],
                                              pil_rate(pil_thumbnail, files, args.size, args.seconds))
                got = cerebro_rates(binary, files, args.size, args.seconds)
                rates["cerebro full"] = best(rates["cerebro full"], got["full"])
                rates["cerebro draft"] = best(rates["cerebro draft"], got["draft"])
            rows.append((f"{name} JPEG ({mb:.2f} MB avg)", len(files), rates))

    print(f"single thread, thumbnails of S={args.size} px, images/s, best of {args.rounds} rounds "
          "(ratio to PIL's thumbnail())")
    for clock, k in (("wall clock", 0), ("CPU time", 1)):
        print(f"\n{clock}:")
        print(f"{'set':<28} {'files':>5}" + "".join(f" {c:>20}" for c in columns))
        for name, n, rates in rows:
            ref = rates["PIL thumbnail"][k]
            cells = "".join(f" {rates[c][k]:>12.1f} ({rates[c][k] / ref:4.1f}x)" for c in columns)
            print(f"{name:<28} {n:>5}{cells}")
            if k == 0:
                record("thumbnail", f"{name}, 1 thread", "img/s", "PIL thumbnail()", ref,
                       max(rates[c][k] for c in columns if c.startswith("cerebro")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
