#!/usr/bin/python3
"""Encoder throughput: libcerebro (bench_model) next to PyTorch on the same bundle,
same thread count, same batch, measured in one run.

    bench/bench_model.py --build build [--preset vitb32] [--threads 2] [--seconds 3] [--rounds 3]

Makes a random-weight bundle with training/make_test_bundle.py unless --bundle is
given. PyTorch runs three ways (as installed; OMP_WAIT_POLICY=PASSIVE; one thread
for everything), libcerebro with no thread variable in its environment; each
figure is the median of interleaved rounds, next to the best PyTorch set-up.
Prints images/s for fp32 and bf16, short-query text speed, and what precision
"auto" chose with the bf16/fp32 speed ratio and cosine.
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
sys.path.insert(0, str(Path(__file__).resolve().parent))
from rows import record  # noqa: E402

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


# The environment variables that steer the thread pools; every run starts
# without them, then adds its own.
POOL_VARS = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
             "MKL_NUM_THREADS", "OMP_DYNAMIC")


def clean_env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in POOL_VARS}
    env.update(extra)
    return env


def parse_figures(text: str) -> dict:
    figures = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3:
            try:
                figures[parts[0]] = float(parts[1])
            except ValueError:
                pass
    return figures


def c_bench(binary: Path, bundle: Path, threads: int, batch: int, seconds: float, precision: str) -> dict:
    result = subprocess.run([str(binary), str(bundle), "--threads", str(threads), "--batch", str(batch),
                             "--seconds", str(seconds), "--precision", precision],
                            check=True, capture_output=True, text=True, env=clean_env())
    return parse_figures(result.stdout)


# PyTorch's three usual set-ups: as installed, libgomp told to sleep when
# idle, and one thread for everything.
REFERENCES = {
    "default": ({}, None),
    "PASSIVE": ({"OMP_WAIT_POLICY": "PASSIVE"}, None),
    "1 thread": ({"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}, 1),
}


def py_bench(bundle: Path, setup: str, threads: int, batch: int, seconds: float, precision: str) -> dict:
    env_extra, forced = REFERENCES[setup]
    result = subprocess.run([sys.executable, __file__, "--reference", "--bundle", str(bundle), "--threads",
                             str(forced or threads), "--batch", str(batch), "--seconds", str(seconds),
                             "--precision", precision],
                            check=True, capture_output=True, text=True, env=clean_env(**env_extra))
    return json.loads(result.stdout)


def median(values: list) -> float:
    v = sorted(values)
    return v[len(v) // 2] if len(v) % 2 else (v[len(v) // 2 - 1] + v[len(v) // 2]) / 2


FIGURES = (("image_encode", "img/s"), ("text_short", "q/s"), ("text_padded", "q/s"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", type=Path, default=ROOT / "build")
    parser.add_argument("--bundle", type=Path)
    parser.add_argument("--preset", default="vitb32")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; medians are shown")
    parser.add_argument("--precision", default="fp32", help=argparse.SUPPRESS)
    parser.add_argument("--reference", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.reference:
        print(json.dumps(python_reference(args.bundle, args.threads, args.batch, args.seconds,
                                          args.precision == "bf16")))
        return 0

    with tempfile.TemporaryDirectory() as tmp:
        bundle = args.bundle
        if bundle is None:
            bundle = Path(tmp) / f"{args.preset}.pt"
            subprocess.run([sys.executable, str(ROOT / "training" / "make_test_bundle.py"), "--preset",
                            args.preset, "--seed", "0", "--out", str(bundle), "--merges", str(MERGES)],
                           check=True, capture_output=True)
        binary = args.build / "bench" / "bench_model"
        runs: dict = {}
        for _ in range(args.rounds):
            for precision in ("fp32", "bf16"):
                for setup in REFERENCES:
                    runs.setdefault((setup, precision), []).append(
                        py_bench(bundle, setup, args.threads, args.batch, args.seconds, precision))
                runs.setdefault(("libcerebro", precision), []).append(
                    c_bench(binary, bundle, args.threads, args.batch, args.seconds, precision))
            runs.setdefault(("libcerebro", "auto"), []).append(
                c_bench(binary, bundle, args.threads, args.batch, args.seconds / 2, "auto"))

        def fig(setup: str, precision: str, key: str) -> float:
            return median([r[key] for r in runs[(setup, precision)]])

        print(f"bundle {bundle.name}, {args.threads} threads, image batch {args.batch}, "
              f"{args.seconds:g} s per figure, median of {args.rounds} interleaved rounds, load average "
              f"{os.getloadavg()[0]:.1f} at the end; libcerebro: no thread variable set (as the C library, "
              f"the cerebro command and the bindings run)")
        head = "".join(f"{name:>11}" for name in REFERENCES)
        print(f"{'figure':<24}{head}{'best':>11}{'libcerebro':>12}{'ratio':>7}")
        for precision in ("fp32", "bf16"):
            for key, unit in FIGURES:
                refs = [fig(setup, precision, key) for setup in REFERENCES]
                ours = fig("libcerebro", precision, key)
                cells = "".join(f"{v:>11.1f}" for v in refs)
                print(f"{key + ' ' + precision + ' (' + unit + ')':<24}{cells}{max(refs):>11.1f}"
                      f"{ours:>12.1f}{ours / max(refs):>7.2f}")
                best = max(REFERENCES, key=lambda s: fig(s, precision, key))
                record("model", f"{bundle.stem} {key} {precision}, {args.threads} threads, no variable set", unit,
                       f"PyTorch ({best}, best of 3 set-ups)", max(refs), ours)
        auto = runs[("libcerebro", "auto")]
        chosen = sum(r["bf16"] for r in auto)
        speed = fig("libcerebro", "bf16", "image_encode") / fig("libcerebro", "fp32", "image_encode")
        text = fig("libcerebro", "bf16", "text_short") / fig("libcerebro", "fp32", "text_short")
        print(f"precision auto: chose bf16 in {chosen:g} of {len(auto)} loads (load {median([r['open'] for r in auto]):.2f} s, "
              f"fp32 {median([r['open'] for r in runs[('libcerebro', 'fp32')]]):.2f} s); "
              f"bf16 / fp32 speed: images {speed:.2f}x, short text {text:.2f}x; "
              f"bf16 cosine to fp32 (min) {min(r['bf16_cosine_min'] for r in auto):.5f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
