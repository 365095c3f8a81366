"""`relevance`: choose the default relevance cutoff by measurement.

    python3 -m cerebro_train relevance --bundle ../models/default.pt --out ../models/figures

libcerebro gives each hit a relevance: (score - mean) / sd of the same query's scores
over the whole store (lib/index/relevance.c). Searches drop hits below a minimum
relevance. This measures, on validation data no training stage saw, what each
threshold keeps and drops:

- the store: the 1,911 Twitter-style emoji, a style never trained on (the demo gallery
  is emoji and clip art too). `--with-photos` adds the 3,000 CIFAR validation photos
  and the ten training templates of each CIFAR animal as queries; such a store of two
  kinds of picture gives every query a two-humped background whose spread hides
  matches (measured for the model card), so it is not what the default is chosen on;
- real queries: each emoji's name and its typed form, "a strawberry" (relevant: that
  emoji);
- nonsense queries: 300 strings of made-up words ("zxqv blorp"), relevant: nothing.

The demo's example searches come from this evaluation's successes (`demo_queries`):
the typed forms "a {name}" of the one-word Twitter emoji names (not "crying face",
not ending in "s": no plurals such as "a cherries") whose emoji the query
ranks first among all the store's items and keeps under the default cutoff, best relevance
first, at most one per emoji category, four in all.

For each threshold, over the first 48 hits of every query (one page of the demo):
precision (kept hits that are relevant), recall (relevant hits of the page that are
kept), the share of emoji queries whose emoji is kept, and the share of nonsense
queries that still return a hit. The default is the smallest threshold at which at
most 5 % of nonsense queries return anything; relevance.json holds the whole table
and relevance.png plots it.
"""

from __future__ import annotations

import argparse
import json
import random
import re
from pathlib import Path
from typing import Any, Dict, List

import numpy as np

from .captions import plain_name, typed_captions
from .data import ANIMALS, class_captions
from .evaluate import TorchEncoder
from .manifest import read_manifest
from .paths import default_data_dir

PAGE = 48
NONSENSE_RATE = 0.05
THRESHOLDS = [round(0.1 * i, 1) for i in range(0, 81)]


def nonsense_queries(count: int = 300, seed: int = 0) -> List[str]:
    """Made-up words: random letters, consonant-heavy, 1-3 words of 3-7 letters."""
    rng = random.Random(seed)
    letters = "bcdfghjklmnpqrstvwxzaeiouy"
    out = []
    while len(out) < count:
        words = ["".join(rng.choice(letters) for _ in range(rng.randint(3, 7)))
                 for _ in range(rng.randint(1, 3))]
        out.append(" ".join(words))
    return out


def standard_scores(scores: np.ndarray) -> np.ndarray:
    """Per query row: (score - mean) / sd over the whole store, as libcerebro computes."""
    mean = scores.mean(axis=1, keepdims=True)
    sd = scores.std(axis=1, keepdims=True)
    return (scores - mean) / np.maximum(sd, 1e-12)


def measure(bundle: Path, data_dir: Path, threads: int = 0, with_photos: bool = False
            ) -> Dict[str, Any]:
    manifests = data_dir / "manifests"
    encoder = TorchEncoder(bundle, data_dir / "cache", threads, "fp32")
    emoji = read_manifest(manifests / "twitter-emoji.jsonl")
    val = read_manifest(manifests / "cifar-val.jsonl")
    store = encoder.images([r["image"] for r in emoji] +
                           ([r["image"] for r in val] if with_photos else []))
    n_emoji = len(emoji)
    names = [r["captions"][0] for r in emoji]

    typed = [typed_captions(plain_name(n.split(":")[0]))[:1] or [n] for n in names]
    queries: List[str] = list(names) + [t[0] for t in typed]
    relevant: List[set] = [{i} for i in range(n_emoji)] * 2
    kinds: List[str] = ["emoji"] * (2 * n_emoji)
    labels = np.array([ANIMALS.index(r["label"]) for r in val])
    for c, animal in enumerate(ANIMALS if with_photos else []):
        photos = {n_emoji + int(i) for i in np.nonzero(labels == c)[0]}
        icons = {i for i, name in enumerate(names) if re.search(rf"\b{animal}\b", name)}
        for text in class_captions(animal):
            queries.append(text)
            relevant.append(photos | icons)
            kinds.append("cifar")
    nonsense = nonsense_queries()
    queries += nonsense
    relevant += [set() for _ in nonsense]
    kinds += ["nonsense"] * len(nonsense)

    z = standard_scores(encoder.texts(queries) @ store.T)
    top = np.argsort(-z, axis=1)[:, :PAGE]
    top_z = np.take_along_axis(z, top, axis=1)
    is_relevant = np.array([[g in relevant[q] for g in top[q]] for q in range(len(queries))])
    kinds_a = np.array(kinds)
    real = kinds_a != "nonsense"
    rows = []
    for t in THRESHOLDS:
        kept = top_z >= t
        kept_real = kept[real]
        rel_real = is_relevant[real]
        n_kept = int(kept_real.sum())
        precision = float((kept_real & rel_real).sum() / n_kept) if n_kept else 1.0
        recall = float((kept_real & rel_real).sum() / max(1, rel_real.sum()))
        emoji_kept = float((kept & is_relevant)[kinds_a == "emoji"].any(axis=1).mean())
        cifar_q = kinds_a == "cifar"
        cifar_precision = (float((kept & is_relevant)[cifar_q].sum() / kept[cifar_q].sum())
                           if kept[cifar_q].sum() else 1.0)
        rows.append({"threshold": t, "precision": round(precision, 4),
                     "recall": round(recall, 4), "emoji_found": round(emoji_kept, 4),
                     "cifar_precision": round(cifar_precision, 4),
                     "hits_per_real_query": round(n_kept / real.sum(), 2),
                     "nonsense_with_hits": round(float(kept[~real].any(axis=1).mean()), 4)})
    chosen = next((r for r in rows if r["nonsense_with_hits"] <= NONSENSE_RATE), rows[-1])
    demo = demo_queries(encoder, emoji, store, chosen["threshold"])
    best_nonsense = np.sort(top_z[~real, 0])
    return {"bundle": bundle.name, "store": int(store.shape[0]), "page": PAGE,
            "queries": {"emoji": n_emoji, "cifar": int((kinds_a == "cifar").sum()),
                        "nonsense": len(nonsense)},
            "rule": f"smallest threshold at which <= {NONSENSE_RATE:.0%} of nonsense "
                    "queries return a hit",
            "default": chosen["threshold"], "at_default": chosen,
            "nonsense_best_relevance": {"median": round(float(np.median(best_nonsense)), 3),
                                        "p95": round(float(np.quantile(best_nonsense, 0.95)), 3),
                                        "max": round(float(best_nonsense[-1]), 3)},
            "emoji_target_relevance_median": round(float(np.median(
                z[np.arange(n_emoji), np.arange(n_emoji)])), 3),
            "store_kind": "emoji + CIFAR photos" if with_photos else "emoji",
            "demo_queries": demo, "table": rows}


def demo_queries(encoder: TorchEncoder, emoji: List[Dict[str, Any]], store: np.ndarray,
                 threshold: float, count: int = 4) -> List[Dict[str, Any]]:
    """Typed one-word queries ("a strawberry") that find their Twitter emoji first."""
    picks = [(i, typed_captions(plain_name(r["captions"][0]))[0]) for i, r in enumerate(emoji)
             if plain_name(r["captions"][0]) == r["captions"][0].lower()  # not "crying face"
             and r["captions"][0].isalpha()
             and not r["captions"][0].endswith("s")]  # "a cherries"
    z = standard_scores(encoder.texts([q for _, q in picks]) @ store.T)
    found = []
    for row, (i, query) in enumerate(picks):
        if int(np.argmax(z[row])) == i and z[row, i] >= threshold:
            found.append({"query": query, "relevance": round(float(z[row, i]), 3),
                          "category": emoji[i].get("subcategory", "").split("-")[0]})
    found.sort(key=lambda f: -f["relevance"])
    out, categories = [], set()
    for f in found:
        if f["category"] not in categories:
            out.append(f)
            categories.add(f["category"])
        if len(out) == count:
            break
    return out


def plot(result: Dict[str, Any], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    table = result["table"]
    t = [r["threshold"] for r in table]
    fig, ax = plt.subplots(figsize=(7, 4.2))
    ax.plot(t, [r["precision"] for r in table], label="precision (real queries)")
    ax.plot(t, [r["recall"] for r in table], label="recall of the page's relevant hits")
    ax.plot(t, [r["emoji_found"] for r in table], label="emoji queries: emoji kept")
    ax.plot(t, [r["nonsense_with_hits"] for r in table], label="nonsense queries with a hit",
            linestyle="--")
    ax.axvline(result["default"], color="grey", linewidth=0.8)
    ax.text(result["default"] + 0.1, 0.93, f"default {result['default']}", fontsize=8)
    ax.set_xlabel("minimum relevance (standard deviations above the query's mean score)")
    ax.set_ylim(0, 1.02)
    ax.set_title(f"Relevance cutoff, {result['bundle']}: {result['store']} items, first "
                 f"{result['page']} hits", fontsize=9)
    ax.legend(fontsize=7, loc="center right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bundle", type=Path, required=True)
    parser.add_argument("--data-dir", type=Path, default=default_data_dir())
    parser.add_argument("--out", type=Path, required=True,
                        help="folder for relevance.json and relevance.png")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--with-photos", action="store_true",
                        help="add the CIFAR validation photos and prompts (a mixed store)")
    parser.add_argument("--demo-queries", type=Path, default=None,
                        help="write the demo's example searches here (one per line)")


def main(args: argparse.Namespace) -> int:
    result = measure(args.bundle, args.data_dir, args.threads, args.with_photos)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "relevance.json").write_text(json.dumps(result, indent=2) + "\n")
    plot(result, args.out / "relevance.png")
    if args.demo_queries:
        args.demo_queries.write_text(
            "# The demo's example searches (scripts/demo.sh), written by `python3 -m\n"
            "# cerebro_train relevance`: typed one-word queries whose Twitter-style emoji\n"
            "# (a style never trained on) ranks first among the 1,911 validation emoji with\n"
            f"# relevance >= {result['default']}, best first, one per emoji category.\n"
            + "".join(q["query"] + "\n" for q in result["demo_queries"]), encoding="utf-8")
    print(json.dumps({k: v for k, v in result.items() if k != "table"}, indent=2))
    return 0
