"""What the generators whose reference is the format's own decoder tool
(gen_heif.py: heif-convert, gen_jxl.py: djxl) share: a scratch folder for
the tools' files, the tool's PNG read the way PIL reads it, and a sanity
check that the reference shows the source picture."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from corpus import WHITE, composite, run


class Scratch:
    """Numbered files in a temporary folder; `decode` is the reference
    tool's command line without its input and output paths."""

    def __init__(self, tmp: Path, decode: list[str]):
        self.tmp = tmp
        self.decode = decode
        self.n = 0

    def path(self, suffix: str) -> Path:
        self.n += 1
        return self.tmp / f"f{self.n}{suffix}"

    def png(self, pixels: np.ndarray) -> Path:
        p = self.path(".png")
        Image.fromarray(pixels).save(p)
        return p

    def encode(self, cmd: list[str], src: Path, suffix: str) -> bytes:
        """Runs cmd with "{src}" and "{out}" replaced; the output's bytes."""
        out = self.path(suffix)
        run([str(src) if a == "{src}" else str(out) if a == "{out}" else a for a in cmd])
        return out.read_bytes()

    def reference(self, data: bytes, bg=WHITE) -> np.ndarray:
        """The tool's PNG as PIL reads it (16-bit samples: the high byte;
        an animation: the first frame), alpha composited on bg."""
        src, out = self.path(".in"), self.path(".png")
        src.write_bytes(data)
        run([*self.decode, str(src), str(out)])
        im = Image.open(out)
        im.load()
        if im.mode in ("RGBA", "LA") or "transparency" in im.info:
            return composite(np.asarray(im.convert("RGBA")), bg)
        return np.asarray(im.convert("RGB"))


def close_to(a: np.ndarray, b: np.ndarray, limit: float, what: str):
    """Sanity check on the encoders: reference b shows source picture a
    within `limit` levels on average."""
    err = np.abs(a.astype(np.int32) - b.astype(np.int32)).mean() if a.shape == b.shape else 1e9
    if err > limit:
        raise RuntimeError(f"{what}: reference {b.shape} is {err:.1f} levels from the source "
                           f"{a.shape}")
