"""`pseudolabel`: label unlabelled photos with a bundle, through libcerebro's binding.

    python3 -m cerebro_train pseudolabel --bundle runs/x/pretrain/bundle.pt \
        --pool data/manifests/cifar-pool.jsonl --vocabulary data/manifests/vocabulary.json \
        --out runs/x/round1/pseudo.jsonl [--labels data/manifests/cifar-pool-labels.json]

The images and prompts ("a photo of a {name}.") are encoded by the C library
(`cerebro.Model.encode_images` / `encode_text`), so the labels come from the model
exactly as search would run it. The vocabulary is the target classes plus distractor
names (other animals): a photo whose best match is a distractor is not labelled.
Confidence is the softmax over the whole vocabulary at `--temperature` (CLIP's 100).

Selection, per predicted class: optional `--threshold` (confidence) and `--margin`
(best minus second-best probability) filters, then the most confident members up to a
quota of `--fraction` x pool size / classes. Class balance: classes that fall short of
the quota are repeated in the manifest (at most `--max-repeat` times) so every class
has about the same weight in fine-tuning. The labels file, when given, is read only to
report how many predictions and kept labels are right; it never influences selection.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from .binding import import_cerebro
from .data import LICENCES, class_captions, prompt
from .manifest import read_json, read_manifest, write_json, write_manifest


def encode_with_library(bundle: Path, images: Sequence[str], texts: Sequence[str],
                        threads: int = 0, precision: str = "auto", mode: str = "exact",
                        library: Optional[str] = None) -> tuple:
    """(image embeddings, text embeddings), both L2-normalised, from libcerebro."""
    cerebro = import_cerebro(library)
    with cerebro.Model(str(bundle), threads=threads or None, precision=precision) as model:
        text = model.encode_text(list(texts))
        image, errors = model.encode_images(list(images), mode=mode)
    if errors:
        first = errors[0]
        raise RuntimeError(f"libcerebro could not encode {len(errors)} images; first: "
                           f"{first.path}: {first.message}")
    return normalised(image), normalised(text)


def normalised(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def select(probs: np.ndarray, classes: int, fraction: float, threshold: float, margin: float
           ) -> Dict[int, np.ndarray]:
    """Indices kept per class (most confident first)."""
    order = np.argsort(-probs, axis=1)
    best, second = order[:, 0], order[:, 1]
    rows = np.arange(len(probs))
    confidence = probs[rows, best]
    gap = confidence - probs[rows, second]
    quota = int(math.ceil(fraction * len(probs) / classes))
    kept: Dict[int, np.ndarray] = {}
    for c in range(classes):
        members = np.nonzero((best == c) & (confidence >= threshold) & (gap >= margin))[0]
        members = members[np.argsort(-confidence[members], kind="stable")]
        kept[c] = members[:quota]
    return kept


def balanced(kept: Dict[int, np.ndarray], max_repeat: int) -> Dict[int, List[int]]:
    """Each class repeated towards the largest class's count (at most max_repeat times)."""
    target = max((len(v) for v in kept.values()), default=0)
    out: Dict[int, List[int]] = {}
    for c, members in kept.items():
        items = list(members)
        if items:
            repeat = min(max_repeat, max(1, int(round(target / len(items)))))
            items = items * repeat
        out[c] = items
    return out


def pseudolabel(bundle: Path, pool: Path, vocabulary: Path, out: Path,
                labels: Optional[Path] = None, fraction: float = 0.3, threshold: float = 0.0,
                margin: float = 0.0, temperature: float = 100.0, max_repeat: int = 3,
                threads: int = 0, precision: str = "auto", library: Optional[str] = None,
                limit: int = 0, seed: int = 0) -> Dict[str, Any]:
    records = read_manifest(pool)
    subset = np.arange(len(records))
    if 0 < limit < len(records):
        subset = np.sort(np.random.default_rng(seed).choice(len(records), limit, replace=False))
        records = [records[i] for i in subset]
    vocab = read_json(vocabulary)
    classes: List[str] = list(vocab["classes"])
    names = classes + [d for d in vocab.get("distractors", []) if d not in classes]
    texts = [prompt(name) for name in names]
    started = time.time()
    image, text = encode_with_library(bundle, [r["image"] for r in records], texts, threads,
                                      precision, library=library)
    seconds = time.time() - started
    probs = softmax(temperature * image @ text.T)
    kept = select(probs, len(classes), fraction, threshold, margin)
    repeated = balanced(kept, max_repeat)

    rows: List[Dict[str, Any]] = []
    for c, members in repeated.items():
        for i in members:
            record = records[i]
            rows.append({"image": record["image"], "captions": class_captions(classes[c]),
                         "group": f"cifar:{classes[c]}", "source": "cifar10-pseudo",
                         "licence": LICENCES["cifar10"], "id": record.get("id", str(i)),
                         "confidence": round(float(probs[i, c]), 5)})
    write_manifest(out, rows)

    best = probs.argmax(axis=1)
    report: Dict[str, Any] = {
        "bundle": str(bundle), "pool": len(records), "limit": limit, "seed": seed, "vocabulary": len(names),
        "classes": classes, "fraction": fraction, "threshold": threshold, "margin": margin,
        "temperature": temperature, "encode_seconds": round(seconds, 1),
        "images_per_second": round(len(records) / max(seconds, 1e-9), 1),
        "predicted_as_class": int((best < len(classes)).sum()),
        "kept": {classes[c]: int(len(v)) for c, v in kept.items()},
        "kept_total": int(sum(len(v) for v in kept.values())),
        "manifest_rows": len(rows),
    }
    if labels is not None:
        names_all = read_json(labels)
        if len(names_all) != len(subset) and len(names_all) <= subset[-1]:
            raise ValueError(f"{labels}: {len(names_all)} labels for a pool of {pool}")
        truth = np.array([classes.index(names_all[i]) for i in subset])
        six_way = probs[:, :len(classes)].argmax(axis=1)
        kept_idx = np.concatenate([v for v in kept.values() if len(v)] or [np.zeros(0, int)])
        kept_pred = np.concatenate([np.full(len(v), c) for c, v in kept.items() if len(v)]
                                   or [np.zeros(0, int)])
        report["pool_accuracy_6way"] = round(float((six_way == truth).mean()), 4)
        report["kept_accuracy"] = round(float((kept_pred == truth[kept_idx]).mean()), 4) \
            if len(kept_idx) else None
        report["kept_accuracy_per_class"] = {
            classes[c]: round(float((truth[v] == c).mean()), 4) if len(v) else None
            for c, v in kept.items()}
    return report


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bundle", type=Path, required=True)
    parser.add_argument("--pool", type=Path, required=True, help="manifest of unlabelled images")
    parser.add_argument("--vocabulary", type=Path, required=True,
                        help="JSON {classes: [...], distractors: [...]}")
    parser.add_argument("--out", type=Path, required=True, help="pseudo-label manifest to write")
    parser.add_argument("--labels", type=Path, default=None,
                        help="hidden labels (JSON list), only to report accuracy")
    parser.add_argument("--report", type=Path, default=None, help="write the report JSON here")
    parser.add_argument("--fraction", type=float, default=0.3)
    parser.add_argument("--threshold", type=float, default=0.0)
    parser.add_argument("--margin", type=float, default=0.0)
    parser.add_argument("--temperature", type=float, default=100.0)
    parser.add_argument("--max-repeat", type=int, default=3)
    parser.add_argument("--limit", type=int, default=0,
                        help="label a seeded random subset of this many pool images (0: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"])
    parser.add_argument("--library", default=None, help="libcerebro.so (default: $CEREBRO_LIBRARY)")


def main(args: argparse.Namespace) -> int:
    report = pseudolabel(args.bundle, args.pool, args.vocabulary, args.out, args.labels,
                         args.fraction, args.threshold, args.margin, args.temperature,
                         args.max_repeat, args.threads, args.precision, args.library,
                         args.limit, args.seed)
    if args.report:
        write_json(args.report, report)
    print(json.dumps(report, indent=2))
    return 0
