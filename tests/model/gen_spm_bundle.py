#!/usr/bin/python3
"""Fixtures for check_model_spm: SigLIP-shaped bundles (tokenizer
"sentencepiece", resize "squash_bicubic") around a tiny TorchScript module,
with what PyTorch makes of the same inputs.

  gen_spm_bundle.py OUTDIR

- spm.pt: encode_text embeds the int64 [N, L] ids, adds position
  embeddings, and returns the last position through a linear head plus the
  mean over positions (so every id and every pad position shows);
  encode_image is a strided convolution and a linear head over the
  [N, 3, S, S] tensor. Its SentencePiece model is trained here
  (tests/text/gen_spm.py, unigram, 800 pieces); config as
  docs/bundle-format.md: sot_id -1, eot_id = </s>, pad_id 3, lowercase and
  canonicalize, context 16, pooling "last", variable_length false.
- spm-named.pt: the same with the model stored as cerebro/tok/sp.model.
- spm-missing.pt, spm-damaged.pt: no model file; half a model.
- texts.txt: "T <hex>" lines; text_emb.f32: the module's L2-normalised
  outputs on python3-sentencepiece's ids (lower-cased, canonicalised,
  pieces[:L-1] + [eot], padded with pad_id), [N, D] float32.
- images/*.{jpg,png} and images.txt (names); image_emb.f32: the module on
  PIL's Image.open().convert("RGB") (alpha on white) .resize((S, S),
  BICUBIC), ToTensor, Normalize(mean, std), normalised, [N, D] float32.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import List

import numpy as np
import sentencepiece as spm
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "text"))
from gen_spm import Rules, reference, train  # noqa: E402

SIZE = 40
CONTEXT = 16
DIM = 24
PAD = 3
MEAN = [0.5, 0.5, 0.5]
STD = [0.5, 0.5, 0.5]


class Tower(torch.nn.Module):
    def __init__(self, vocab: int) -> None:
        super().__init__()
        self.tok = torch.nn.Embedding(vocab, DIM)
        self.pos = torch.nn.Parameter(torch.randn(CONTEXT, DIM))
        self.head = torch.nn.Linear(DIM, DIM)
        self.conv = torch.nn.Conv2d(3, 8, 8, stride=8)
        self.img_head = torch.nn.Linear(8 * (SIZE // 8) ** 2, DIM)

    @torch.jit.export
    def encode_text(self, tokens: torch.Tensor) -> torch.Tensor:
        h = self.tok(tokens) + self.pos[: tokens.shape[1]]
        return self.head(h[:, -1]) + h.mean(1)

    @torch.jit.export
    def encode_image(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.img_head(self.conv(pixels).flatten(1))

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.encode_text(tokens)


def config(sp: spm.SentencePieceProcessor, spm_file: str) -> dict:
    return {"format": "cerebro-bundle", "format_version": 1, "name": "test-spm", "embed_dim": DIM,
            "image": {"size": SIZE, "mean": MEAN, "std": STD, "resize": "squash_bicubic",
                      "crop": "none"},
            "text": {"context_length": CONTEXT, "tokenizer": "sentencepiece", "spm_file": spm_file,
                     "vocab_size": sp.get_piece_size(), "pad_id": PAD, "eot_id": sp.eos_id(),
                     "sot_id": -1, "lowercase": True, "canonicalize": True,
                     "variable_length": False, "pooling": "last"}}


def save(module: torch.jit.ScriptModule, path: Path, cfg: dict, files: dict) -> None:
    extra = {"cerebro/config.json": json.dumps(cfg)}
    extra.update(files)
    torch.jit.save(module, str(path), _extra_files=extra)


def normalised(x: torch.Tensor) -> np.ndarray:
    return torch.nn.functional.normalize(x, dim=-1).detach().numpy().astype(np.float32)


def images(out: Path) -> List[Path]:
    rng = np.random.default_rng(5)
    folder = out / "images"
    folder.mkdir(exist_ok=True)
    paths = []
    for i, (w, h) in enumerate([(640, 480), (200, 900), (33, 17), (40, 40), (1200, 300)]):
        y, x = np.mgrid[0:h, 0:w]
        arr = np.stack([(x * 255 // max(1, w - 1)), (y * 255 // max(1, h - 1)), (x ^ y) % 256], -1)
        arr = np.clip(arr + rng.integers(-20, 21, arr.shape), 0, 255).astype(np.uint8)
        im = Image.fromarray(arr)
        p = folder / (f"img{i}.png" if i % 2 else f"img{i}.jpg")
        im.save(p, **({} if i % 2 else {"quality": 92}))
        paths.append(p)
    rgba = Image.fromarray(rng.integers(0, 256, (50, 70, 4), np.uint8), "RGBA")
    rgba.save(folder / "alpha.png")
    paths.append(folder / "alpha.png")
    Image.fromarray(rng.integers(0, 256, (90, 60), np.uint8), "L").save(folder / "grey.png")
    paths.append(folder / "grey.png")
    return paths


def pil_squash(path: Path) -> torch.Tensor:
    im = Image.open(path)
    if im.mode in ("RGBA", "LA", "PA"):
        white = Image.new("RGBA", im.size, (255, 255, 255, 255))
        im = Image.alpha_composite(white, im.convert("RGBA"))
    im = im.convert("RGB").resize((SIZE, SIZE), Image.BICUBIC)
    t = torch.from_numpy(np.asarray(im, np.uint8).copy()).permute(2, 0, 1).float().div(255)
    return (t - torch.tensor(MEAN).view(3, 1, 1)) / torch.tensor(STD).view(3, 1, 1)


def main(argv: List[str]) -> int:
    out = Path(argv[0])
    out.mkdir(parents=True, exist_ok=True)
    model_path = train(str(out), "unigram")
    sp = spm.SentencePieceProcessor(model_file=model_path)
    proto = Path(model_path).read_bytes()
    torch.manual_seed(16)
    module = torch.jit.script(Tower(sp.get_piece_size()).eval())
    save(module, out / "spm.pt", config(sp, "cerebro/spm.model"), {"cerebro/spm.model": proto})
    save(module, out / "spm-named.pt", config(sp, "cerebro/tok/sp.model"),
         {"cerebro/tok/sp.model": proto})
    save(module, out / "spm-missing.pt", config(sp, "cerebro/spm.model"), {})
    save(module, out / "spm-damaged.pt", config(sp, "cerebro/spm.model"),
         {"cerebro/spm.model": proto[: len(proto) // 2]})

    sys.path.insert(0, str(ROOT / "tests" / "text"))
    from gen_corpus import build_corpus  # noqa: E402
    # C strings: no NUL inside (the tokenizer test covers those).
    texts = [t for t in build_corpus() if len(t) < 2000 and "\x00" not in t][:300]
    texts += ["A photo of a CAT!", "", "  ", "一只猫的照片", "word " * 40]
    rules = Rules("siglip", -1, sp.eos_id(), True, True, CONTEXT)
    rows = torch.full((len(texts), CONTEXT), PAD, dtype=torch.int64)
    for i, t in enumerate(texts):
        ids = reference(sp, t, rules)
        rows[i, : len(ids)] = torch.tensor(ids)
    with torch.no_grad():
        (out / "text_emb.f32").write_bytes(normalised(module.encode_text(rows)).tobytes())
    (out / "texts.txt").write_text("".join(f"T {t.encode('utf-8').hex()}\n" for t in texts))

    paths = images(out)
    with torch.no_grad():
        emb = module.encode_image(torch.stack([pil_squash(p) for p in paths]))
    (out / "image_emb.f32").write_bytes(normalised(emb).tobytes())
    (out / "images.txt").write_text("".join(f"{p.name}\n" for p in paths))
    print(f"{out}: {len(texts)} texts, {len(paths)} images")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
