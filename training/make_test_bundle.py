#!/usr/bin/python3
"""Write a random-weight bundle (and optionally reference outputs) for parity tests.

    make_test_bundle.py --preset tiny --seed 1 --out tiny.pt --reference tiny-ref/

--merges defaults to CLIP's (third_party/clip/bpe_simple_vocab_16e6.txt.gz).

The same preset and seed give the same weights and the same reference inputs.
The reference directory holds raw little-endian C-order tensors and reference.json
describing them (docs/bundle-format.md, "Reference outputs").
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np
import torch

from cerebro_train.bundle import export_bundle, load_bundle
from cerebro_train.model import CLIP, CLIPConfig
from cerebro_train.paths import clip_merges

PRESETS = {"tiny": CLIPConfig.tiny, "vitb32": CLIPConfig.vitb32}
REFERENCE_FORMAT = "cerebro-reference"
REFERENCE_VERSION = 1


def reference_images(config: Dict, count: int, generator: torch.Generator) -> torch.Tensor:
    """Uniform [0, 1] pixels normalised with the bundle's mean/std: the value range
    real preprocessed images have."""
    size = config["image"]["size"]
    mean = torch.tensor(config["image"]["mean"]).view(1, 3, 1, 1)
    std = torch.tensor(config["image"]["std"]).view(1, 3, 1, 1)
    pixels = torch.rand(count, 3, size, size, generator=generator)
    return ((pixels - mean) / std).contiguous()


def reference_tokens(config: Dict, generator: torch.Generator) -> Tuple[torch.Tensor, List[int]]:
    """Rows of <sot> ids... <eot> with random ordinary ids, zero-padded to the context.
    Lengths cover the shortest input, a few typical ones and a full context."""
    text = config["text"]
    context = text["context_length"]
    lengths = sorted({2, 3, 8, min(20, context), context})
    tokens = torch.zeros(len(lengths), context, dtype=torch.int64)
    for row, length in enumerate(lengths):
        body = torch.randint(0, text["sot_id"], (length - 2,), generator=generator)
        tokens[row, 0] = text["sot_id"]
        tokens[row, 1:length - 1] = body
        tokens[row, length - 1] = text["eot_id"]
    return tokens, lengths


def write_tensor(directory: Path, name: str, tensor: torch.Tensor, suffix: str) -> Dict:
    array = np.ascontiguousarray(tensor.detach().cpu().numpy())
    array = array.astype(array.dtype.newbyteorder("<"), copy=False)
    path = directory / f"{name}.{suffix}"
    path.write_bytes(array.tobytes(order="C"))
    return {"file": path.name, "dtype": str(tensor.dtype).replace("torch.", ""),
            "shape": list(array.shape)}


def write_reference(bundle_path: Path, directory: Path, seed: int, images: int) -> Dict:
    """Inputs and the loaded bundle's fp32 outputs for them."""
    module, config, _ = load_bundle(bundle_path)
    generator = torch.Generator().manual_seed(seed + 1)
    pixels = reference_images(config, images, generator)
    tokens, lengths = reference_tokens(config, generator)
    with torch.no_grad():
        image_embeddings = module.encode_image(pixels)
        text_embeddings = module.encode_text(tokens)
        short = [module.encode_text(tokens[i:i + 1, :n]) for i, n in enumerate(lengths)]
    short_diff = max(float((s[0] - text_embeddings[i]).abs().max()) for i, s in enumerate(short))
    directory.mkdir(parents=True, exist_ok=True)
    index = {
        "format": REFERENCE_FORMAT,
        "format_version": REFERENCE_VERSION,
        "bundle": str(bundle_path.resolve()),
        "seed": seed,
        "byte_order": "little",
        "layout": "C order (row-major), no header",
        "note": "embeddings are the bundle's raw float32 outputs, not L2-normalised; "
                "text_embeddings come from the padded tokens rows",
        "tensors": {
            "images": write_tensor(directory, "images", pixels, "f32"),
            "image_embeddings": write_tensor(directory, "image_embeddings", image_embeddings, "f32"),
            "tokens": write_tensor(directory, "tokens", tokens, "i64"),
            "text_embeddings": write_tensor(directory, "text_embeddings", text_embeddings, "f32"),
        },
        "token_lengths": lengths,
        "short_vs_padded_max_abs_diff": short_diff,
    }
    (directory / "reference.json").write_text(json.dumps(index, indent=2) + "\n")
    return index


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", choices=sorted(PRESETS), required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True, help="bundle path (.pt)")
    parser.add_argument("--merges", type=Path, default=clip_merges(),
                        help="CLIP BPE merges, plain or .gz (default: third_party/clip)")
    parser.add_argument("--reference", type=Path, metavar="DIR",
                        help="also write reference inputs/outputs into DIR")
    parser.add_argument("--images", type=int, default=3, help="reference image count")
    parser.add_argument("--name", help="bundle name (default test-PRESET-seedN)")
    args = parser.parse_args(argv)

    started = time.monotonic()
    torch.manual_seed(args.seed)
    config = PRESETS[args.preset]()
    model = CLIP(config).eval()
    name = args.name or f"test-{args.preset}-seed{args.seed}"
    export_bundle(model, config, args.merges, args.out, name, {
        "training": {"kind": "random-init", "preset": args.preset, "seed": args.seed},
        "source": "training/make_test_bundle.py",
    })
    del model
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes) "
          f"in {time.monotonic() - started:.1f} s")
    if args.reference:
        index = write_reference(args.out, args.reference, args.seed, args.images)
        print(f"wrote {args.reference}/reference.json "
              f"(short vs padded max abs diff {index['short_vs_padded_max_abs_diff']:.2e})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
