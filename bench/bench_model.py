#!/usr/bin/python3
"""Encoder throughput: libcerebro (bench_model) next to PyTorch on the same bundle,
same thread count, same batch, measured in one run.

    bench/bench_model.py --build build [--preset vitb32] [--threads 2] [--seconds 5]

Makes a random-weight bundle with training/make_test_bundle.py unless --bundle is
given. Prints images/s for fp32 and bf16 and short-query text speed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "training"))
from cerebro_train.paths import clip_merges  # noqa: E402

MERGES = clip_merges()


def python_reference(bundle: Path, threads: int, batch: int, seconds: float, bf16: bool) -> dict:
    torch.set_num_threads(threads)
    extra = {"cerebro/config.json": ""}
    module = torch.jit.load(str(bundle), _extra_files=extra).eval()
    config = json.loads(extra["cerebro/config.json"])
    size = config["image"]["size"]
    context = config["text"]["context_length"]
    if bf16:
        module = module.to(torch.bfloat16)
    dtype = torch.bfloat16 if bf16 else torch.float32
    pixels = (torch.rand(batch, 3, size, size) * 4 - 2).to(dtype)
    out = {}
    with torch.inference_mode():
        module.encode_image(pixels)
        images, t0 = 0, time.monotonic()
        while time.monotonic() - t0 < seconds:
            module.encode_image(pixels)
            images += batch
        out["image_encode"] = images / (time.monotonic() - t0)
        for label, padded in (("text_short", False), ("text_padded", True)):
            queries, t0 = 0, time.monotonic()
            while time.monotonic() - t0 < seconds / 2:
                for words in range(1, 9):
                    length = context if padded else words + 2
                    tokens = torch.zeros(1, length, dtype=torch.int64)
                    tokens[0, 0] = 49406
                    for w in range(1, words + 1):
                        tokens[0, w] = 320 + w * 7
                    tokens[0, words + 1] = 49407
                    module.encode_text(tokens)
                    queries += 1
            out[label] = queries / (time.monotonic() - t0)
    return out


def c_bench(binary: Path, bundle: Path, threads: int, batch: int, seconds: float, precision: str) -> dict:
    result = subprocess.run([str(binary), str(bundle), "--threads", str(threads), "--batch", str(batch),
                             "--seconds", str(seconds), "--precision", precision],
                            check=True, capture_output=True, text=True)
    figures = {}
    for line in result.stdout.splitlines():
        name, value, _unit = line.split()
        figures[name] = float(value)
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", type=Path, default=ROOT / "build")
    parser.add_argument("--bundle", type=Path)
    parser.add_argument("--preset", default="vitb32")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        bundle = args.bundle
        if bundle is None:
            bundle = Path(tmp) / f"{args.preset}.pt"
            subprocess.run([sys.executable, str(ROOT / "training" / "make_test_bundle.py"), "--preset",
                            args.preset, "--seed", "0", "--out", str(bundle), "--merges", str(MERGES)],
                           check=True, capture_output=True)
        binary = args.build / "bench" / "bench_model"
        print(f"bundle {bundle.name}, {args.threads} threads, image batch {args.batch}, "
              f"{args.seconds:.0f} s per figure")
        print(f"{'figure':<28}{'PyTorch':>12}{'libcerebro':>12}{'ratio':>8}")
        for precision in ("fp32", "bf16"):
            ref = python_reference(bundle, args.threads, args.batch, args.seconds, precision == "bf16")
            ours = c_bench(binary, bundle, args.threads, args.batch, args.seconds, precision)
            for key, unit in (("image_encode", "img/s"), ("text_short", "q/s"), ("text_padded", "q/s")):
                label = f"{key} {precision} ({unit})"
                print(f"{label:<28}{ref[key]:>12.1f}{ours[key]:>12.1f}{ours[key] / ref[key]:>8.2f}")
            print(f"{'short-text speed-up ' + precision:<28}{ref['text_short'] / ref['text_padded']:>12.1f}"
                  f"{ours['text_short'] / ours['text_padded']:>12.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
