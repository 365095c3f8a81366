#!/usr/bin/python3
"""Removing many files from a store: one call per file (what `cerebro remove` and the
bindings did before cerebro_index_remove_many) next to one call for all of them, on two
copies of the same store, measured in one run.

    /usr/bin/python3 bench/bench_remove.py --build build [--items 50000] [--remove 100]

The store holds --items random unit vectors of the model's dimension (default: the
bundled model, 128-d; `--model` another bundle), added through add_embeddings under
made-up absolute paths, so nothing is decoded. Every removal commits to SQLite and
rewrites the search structure's file (ann-N.faiss: items x dim x 4 bytes for the exact
structure below 100,000 items); one call per file does that --remove times, one batch
call once. Prints wall time for each and the speed-up.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bindings" / "python"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from rows import record  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", type=Path, default=ROOT / "build")
    ap.add_argument("--model", type=Path, default=ROOT / "models" / "default.pt")
    ap.add_argument("--items", type=int, default=50_000)
    ap.add_argument("--remove", type=int, default=100)
    args = ap.parse_args()
    os.environ.setdefault("CEREBRO_LIBRARY", str(args.build / "lib" / "libcerebro.so"))
    import cerebro

    model = cerebro.Model(args.model)
    rng = np.random.default_rng(0)
    vecs = rng.standard_normal((args.items, model.dim)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    paths = [f"/photos/{i // 1000:03d}/img{i:06d}.jpg" for i in range(args.items)]
    victims = [paths[i] for i in rng.choice(args.items, args.remove, replace=False)]
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "base"
        with cerebro.Index(base, model, create=True) as ix:
            ix.add_embeddings([cerebro.Embedding(p, 640, 480) for p in paths], vecs)
            structure = ix.stats().structure
        ann_bytes = sum(p.stat().st_size for p in base.glob("ann-*.faiss"))
        times = {}
        for how in ("one call per file", "one call for all"):
            store = Path(tmp) / how.replace(" ", "-")
            shutil.copytree(base, store)
            with cerebro.Index(store, model) as ix:
                started = time.perf_counter()
                if how == "one call per file":
                    for p in victims:
                        ix.remove(p)
                else:
                    assert ix.remove(victims) == []
                times[how] = time.perf_counter() - started
                assert ix.stats().count == args.items - args.remove
    one, batch = times["one call per file"], times["one call for all"]
    print(f"store: {args.items:,} items x {model.dim} dims, {structure}, ann file "
          f"{ann_bytes / 1e6:.1f} MB; removing {args.remove} files")
    print(f"{'how':<20} {'seconds':>9} {'files/s':>10}")
    for how, t in times.items():
        print(f"{how:<20} {t:>9.3f} {args.remove / t:>10.1f}")
    print(f"speed-up: {one / batch:.1f}x")
    record("index", f"remove {args.remove} of {args.items:,} files ({model.dim}-d)", "files/s",
           "one call per file", args.remove / one, args.remove / batch)
    return 0


if __name__ == "__main__":
    sys.exit(main())
