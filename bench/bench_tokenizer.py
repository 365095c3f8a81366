#!/usr/bin/python3
"""Tokenizer throughput: libcerebro's C tokenizer (bench_tokenizer) next to the
Python reference (training/cerebro_train/tokenizer.py, CLIP's rules), on the same
texts, measured in one run.

    /usr/bin/python3 bench/bench_tokenizer.py --build build [--seconds 2] [--threads 2]

Workloads (written to a temporary directory, one text per line, hex-encoded):
  queries   short search queries, 2-6 words (search-as-you-type)
  captions  image captions, 8-30 words with punctuation
  mixed     the parity corpus of tests/text/gen_corpus.py (scripts, emoji, entities, long texts)
  long      English documents of about 10,000 characters
Prints tokens per CPU-second (steadier than wall time on a shared machine) for the
Python reference (its BPE cache warm, as CLIP runs it), the C tokenizer, the C
tokenizer without its per-call BPE cache, all on one thread, then the C tokenizer's
wall-clock tokens/s on --threads threads.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "training"))
sys.path.insert(0, str(ROOT / "tests" / "text"))
from cerebro_train.paths import clip_merges  # noqa: E402
from cerebro_train.tokenizer import Tokenizer  # noqa: E402
from gen_corpus import ENGLISH, PUNCT, build_corpus  # noqa: E402
sys.path.insert(0, str(Path(__file__).resolve().parent))
from rows import record  # noqa: E402

DEFAULT_MERGES = clip_merges()


def workloads(seed: int = 7) -> Dict[str, List[str]]:
    rng = random.Random(seed)
    queries = [" ".join(rng.choice(ENGLISH) for _ in range(rng.randint(2, 6))) for _ in range(3000)]
    captions = []
    for _ in range(2000):
        words = [rng.choice(ENGLISH) for _ in range(rng.randint(8, 30))]
        words[0] = words[0].capitalize()
        for _ in range(rng.randint(0, 3)):
            words.insert(rng.randrange(len(words)), rng.choice([",", ".", "!", "'s", "-"]))
        captions.append(" ".join(words) + ".")
    long_docs = []
    for _ in range(20):
        words: List[str] = []
        while sum(len(w) + 1 for w in words) < 10000:
            words.append(rng.choice(ENGLISH) + (rng.choice(PUNCT) if rng.random() < 0.05 else ""))
        long_docs.append(" ".join(words)[:10000])
    return {"queries": queries, "captions": captions, "mixed": build_corpus(), "long": long_docs}


def write(path: Path, texts: List[str]) -> None:
    with open(path, "w", encoding="ascii") as f:
        for text in texts:
            f.write("T " + text.encode("utf-8").hex() + "\n")


def python_rate(tok: Tokenizer, texts: List[str], seconds: float) -> float:
    """Tokens per CPU-second."""
    for text in texts:  # warm the BPE cache, as a long-running CLIP process has it
        tok.encode(text)
    tokens, start, cpu = 0, time.perf_counter(), time.process_time()
    while True:
        for text in texts:
            tokens += len(tok.encode(text))
        if time.perf_counter() - start >= seconds:
            return tokens / (time.process_time() - cpu)


def c_rates(exe: Path, merges: Path, files: List[Path], seconds: float, threads: int,
            key: str) -> Dict[str, float]:
    """tokens_per_s (wall) or tokens_per_cpu_s of each file."""
    out = subprocess.run([str(exe), str(merges), "--seconds", str(seconds), "--threads", str(threads)]
                         + [str(f) for f in files], check=True, capture_output=True, text=True).stdout
    rates = {}
    for line in out.splitlines():
        m = re.match(r"file=(\S+) .*\b" + key + r"=(\d+)", line)
        if m:
            rates[m.group(1)] = float(m.group(2))
    return rates


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default="build", help="CMake build directory with bench/bench_tokenizer")
    ap.add_argument("--merges", default=str(DEFAULT_MERGES))
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    build = Path(args.build)
    exe, nocache = build / "bench" / "bench_tokenizer", build / "bench" / "bench_tokenizer_nocache"
    if not exe.exists():
        print(f"{exe} not found: build the project first", file=sys.stderr)
        return 1
    start = time.perf_counter()
    tok = Tokenizer.from_file(args.merges)
    print(f"load: Python reference {1e3 * (time.perf_counter() - start):.0f} ms", end="")
    load = subprocess.run([str(exe), args.merges, "--seconds", "0", "/dev/null"], capture_output=True,
                          text=True).stdout
    print(f", C {load.split('=')[1].strip() if '=' in load else '?'} ms")
    sets = workloads()
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for name, texts in sets.items():
            files.append(Path(tmp) / name)
            write(files[-1], texts)
        merges = Path(args.merges)
        c1 = c_rates(exe, merges, files, args.seconds, 1, "tokens_per_cpu_s")
        c0 = (c_rates(nocache, merges, files, args.seconds, 1, "tokens_per_cpu_s")
              if nocache.exists() else {})
        cn = c_rates(exe, merges, files, args.seconds, args.threads, "tokens_per_s")
    print(f"{'':17} {'--------- tokens per CPU-second, 1 thread ---------':>51} {'tokens/s (wall)':>16}")
    print(f"{'workload':10} {'texts':>6} {'Python ref':>12} {'C':>12} {'C no cache':>12} "
          f"{'C/Python':>9} {'C ' + str(args.threads) + ' threads':>16}")
    for name, texts in sets.items():
        py = python_rate(tok, texts, args.seconds)
        print(f"{name:10} {len(texts):6d} {py:12,.0f} {c1[name]:12,.0f} {c0.get(name, 0):12,.0f} "
              f"{c1[name] / py:8.1f}x {cn[name]:16,.0f}")
        record("tokenizer", f"{name}, 1 thread", "tokens/CPU-s", "CLIP rules in Python", py, c1[name])
    return 0


if __name__ == "__main__":
    sys.exit(main())
