"""What every tests/image/formats/gen_<format>.py shares: the manifest that
test_formats.c reads (see the comment at its top for the line kinds), and
the pictures and reference helpers of ../gen_decode_corpus.py.

A generator is run as `gen_<format>.py OUTDIR` by ctest (a fixture) and
writes OUTDIR/manifest.txt, OUTDIR/valid, OUTDIR/ref and OUTDIR/bad.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from gen_decode_corpus import (WHITE, alpha_ramp, composite, picture,  # noqa: E402,F401
                               pil_rgb, transposed, tiff)


class Corpus:
    """Collects the cases of one format's corpus."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.lines: list[str] = []
        self.counts: dict[str, int] = {}
        for sub in ("valid", "ref", "bad"):
            shutil.rmtree(self.root / sub, ignore_errors=True)  # no stale cases
            (self.root / sub).mkdir(parents=True)

    def _add(self, kind: str, line: str):
        self.lines.append(f"{kind} {line}")
        self.counts[kind] = self.counts.get(kind, 0) + 1

    def write(self, rel: str, data: bytes) -> str:
        (self.root / rel).write_bytes(data)
        return rel

    def ok(self, name: str, data: bytes, ref: np.ndarray, min_short=0, exif=1, bg=WHITE, tol=0):
        """FILE must decode to `ref` (H x W x 3 uint8) within `tol` levels."""
        rel = self.write(f"valid/{name}", data)
        refrel = self.write(f"ref/{name}.rgb", np.ascontiguousarray(ref, np.uint8).tobytes())
        h, w = ref.shape[:2]
        self._add("ok", f"{rel} {refrel} {w} {h} {min_short} {exif} {bg[0]},{bg[1]},{bg[2]} {tol}")
        return rel

    def err(self, name: str, data: bytes, status: str):
        """FILE must fail with status ("CORRUPT", "LIMIT", "FORMAT", ...)."""
        self._add("err", f"{self.write(f'bad/{name}', data)} {status}")

    def flip(self, name: str, data: bytes):
        """Damaged FILE: never a crash, a sane image or a named error."""
        self._add("flip", self.write(f"bad/{name}", data))

    def flips(self, files: dict[str, bytes], names, per: int, seed: int, ext: str):
        """`per` bit-flipped copies of each named file as flip cases."""
        for i, name in enumerate(names):
            for k, data in enumerate(bit_flips(files[name], per, seed=seed + i)):
                self.flip(f"flip_{Path(name).stem}_{k:02d}.{ext}", data)

    def trunc(self, rel: str):
        """An already written valid file, cut at many offsets."""
        self._add("trunc", rel)

    def limit(self, rel: str, w: int, h: int):
        """max_pixels w*h-1 refused with E_LIMIT, w*h accepted."""
        self._add("limit", f"{rel} {w} {h}")

    def fast(self, rel: str, min_short: int):
        """Fast mode close to exact mode (tensor cosine >= 0.995)."""
        self._add("fast", f"{rel} {min_short}")

    def save(self):
        """Writes the manifest with a "min KIND COUNT" line per kind, so a
        generator that silently writes fewer cases fails the test."""
        mins = [f"min {k} {n}" for k, n in sorted(self.counts.items())]
        (self.root / "manifest.txt").write_text("\n".join(self.lines + mins) + "\n")
        print(f"{len(self.lines)} cases in {self.root}")


def bit_flips(data: bytes, count: int, seed: int) -> list[bytes]:
    """`count` copies of data, each with 1 to 8 random bits flipped."""
    import random
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        src = bytearray(data)
        for _ in range(rng.choice((1, 1, 2, 4, 8))):
            pos = rng.randrange(len(src))
            src[pos] ^= 1 << rng.randrange(8)
        out.append(bytes(src))
    return out


def magick(im, suffix: str, *args: str) -> bytes:
    """ImageMagick's convert of a PNG of PIL image `im` to a file of type
    `suffix` (".gif", ".tif", ...) with the options `args`."""
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        src, dst = Path(d) / "in.png", Path(d) / f"out{suffix}"
        im.save(src)
        run(["convert", str(src), *args, str(dst)])
        return dst.read_bytes()


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    """Runs one of the format's own tools; its stderr in the failure."""
    r = subprocess.run(cmd, capture_output=True, **kw)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed ({r.returncode}): "
                           f"{r.stderr.decode(errors='replace')[-2000:]}")
    return r
