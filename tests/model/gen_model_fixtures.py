#!/usr/bin/python3
"""Model-runtime test fixtures, written into a build directory:

- tiny.pt + tiny-ref/ and vitb32.pt + vitb32-ref/: random-weight bundles with
  reference outputs from PyTorch (training/make_test_bundle.py);
- broken archives, one per error the loader must name: not an archive, no
  encode methods, an unknown config schema version, a config whose embed_dim
  disagrees with the model, an unknown tokenizer kind;
- openai-style.pt: a small 224-px model saved without cerebro/ files, as
  OpenAI's JIT checkpoints are (needs a vocabulary path; inputs padded to 77),
  and tiny224.pt, the same weights as a bundle, to compare against;
- photos/: photo-like JPEGs (1600x1200 and 1024x768) for fast-vs-exact checks.

usage: gen_model_fixtures.py OUTDIR [--no-vitb32]
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFilter

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "training"))

from cerebro_train.bundle import export_bundle, load_bundle  # noqa: E402
from cerebro_train.model import CLIP, CLIPConfig  # noqa: E402
from cerebro_train.paths import clip_merges  # noqa: E402

MERGES = clip_merges()


def make_bundle(out: Path, preset: str, seed: int) -> None:
    subprocess.run([sys.executable, str(ROOT / "training" / "make_test_bundle.py"), "--preset", preset,
                    "--seed", str(seed), "--out", str(out / f"{preset}.pt"), "--merges", str(MERGES),
                    "--reference", str(out / f"{preset}-ref")], check=True)


def resave(src: Path, dst: Path, edit) -> None:
    """Re-saves a bundle with its config changed by `edit` (None: no cerebro/ files)."""
    module, config, merges = load_bundle(src)
    if edit is None:
        torch.jit.save(module, str(dst))
        return
    edit(config)
    torch.jit.save(module, str(dst), _extra_files={"cerebro/config.json": json.dumps(config),
                                                   "cerebro/merges.txt": merges})


class OnlyForward(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 2


def photo(width: int, height: int, seed: int) -> Image.Image:
    """Smooth sky/ground gradients, textured noise and sharp-edged shapes:
    the frequency content of a real photo, which is what scaled decoding
    changes."""
    rng = np.random.default_rng(seed)
    y = np.linspace(0, 1, height)[:, None, None]
    x = np.linspace(0, 1, width)[None, :, None]
    base = (np.array([70, 120, 200]) * (1 - y) + np.array([90, 140, 60]) * y) * (0.8 + 0.2 * x)
    noise = rng.normal(0, 18, (height // 4 + 1, width // 4 + 1, 3))
    noise = np.kron(noise, np.ones((4, 4, 1)))[:height, :width]
    img = Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    for _ in range(25):
        x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
        r = int(rng.integers(width // 40, width // 6))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        if rng.random() < 0.5:
            draw.ellipse([x0 - r, y0 - r, x0 + r, y0 + r], fill=colour)
        else:
            draw.rectangle([x0 - r, y0 - r // 2, x0 + r, y0 + r // 2], fill=colour)
    return img.filter(ImageFilter.GaussianBlur(0.7))


def main(argv: list[str]) -> int:
    out = Path(argv[0])
    out.mkdir(parents=True, exist_ok=True)
    make_bundle(out, "tiny", 1)
    if "--no-vitb32" not in argv:
        make_bundle(out, "vitb32", 2)
    tiny = out / "tiny.pt"

    (out / "not-an-archive.pt").write_bytes(b"PK\x03\x04 this is not a TorchScript archive" * 10)
    torch.jit.save(torch.jit.script(OnlyForward()), str(out / "no-methods.pt"))
    resave(tiny, out / "schema-v99.pt", lambda c: c.update(format_version=99))
    resave(tiny, out / "wrong-dim.pt", lambda c: c.update(embed_dim=c["embed_dim"] + 1))
    resave(tiny, out / "bad-tokenizer.pt", lambda c: c["text"].update(tokenizer="wordpiece"))
    torch.manual_seed(3)
    config224 = dataclasses.replace(CLIPConfig.tiny(), image_resolution=224, vision_patch_size=32)
    export_bundle(CLIP(config224).eval(), config224, MERGES, out / "tiny224.pt", "tiny224",
                  {"source": "tests/model/gen_model_fixtures.py"})
    resave(out / "tiny224.pt", out / "openai-style.pt", None)

    photos = out / "photos"
    photos.mkdir(exist_ok=True)
    for i, (w, h) in enumerate([(1600, 1200), (1024, 768), (1200, 1600), (2000, 1125)]):
        photo(w, h, i).save(photos / f"photo{i}.jpg", quality=90)
    print(f"fixtures in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
