"""`relevance`: choose the default relevance cutoff by measurement.

    python3 -m cerebro_train relevance --bundle ../models/default.pt --out ../models/figures

libcerebro gives each hit a relevance (lib/index/relevance.c): its standard score
(score - mean) / sd among the same query's scores over the whole store, adjusted for the
store's size. The best of N unrelated items stands higher the more items there are (50
items: a nonsense query's best hit stands ~2.0 sd out, 18,000 items: ~2.9), so one
threshold on the bare standard score hides real matches in small stores and lets
nonsense through in large ones. The adjustment subtracts

    SIZE_SLOPE * (sqrt(2 ln N) - sqrt(2 ln SIZE_REF))

(sqrt(2 ln N) is how the maximum of N normal draws grows; SIZE_SLOPE is fitted here to
how this model's nonsense maxima grow, and SIZE_REF = 2,000 items keeps the numbers near
the bare standard score of a store of that size). Searches drop hits below a minimum
relevance. This measures, on validation data no training stage saw, what each threshold
keeps and drops:

- store sizes: uniform subsets of 50 to 1,911 of the 1,911 Twitter-style emoji (a style
  never trained on) with each member's typed form ("a strawberry") as a real query, and,
  for nonsense only, stores of 4,000 to 18,362 pictures (the Twitter emoji and the
  training icons: Google, OpenMoji, Openclipart, Tux Paint). The slope is the least-squares
  fit of the nonsense queries' 95th-percentile best relevance against sqrt(2 ln N);
- the full store: the 1,911 emoji. `--with-photos` adds the 3,000 CIFAR validation photos
  and the ten training templates of each CIFAR animal as queries; such a store of two
  kinds of picture gives every query a two-humped background whose spread hides
  matches (measured for the model card), so it is not what the default is chosen on;
- a photo store: the 3,000 CIFAR validation photos alone, the ten templates of each of the
  six animals as queries (a sixth of the store matches each query), reported, not chosen on;
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
queries that still return a hit; per store size, the share of nonsense queries with a
hit and of real queries whose emoji is kept. The default is the smallest threshold at
which at most 5 % of nonsense queries return anything in every store size;
relevance.json holds the whole table and relevance.png plots it. `--write-bundle` writes
the fitted slope and the default into the bundle's config ("relevance"): libcerebro then
uses them for that model (lib/index/relevance.c), instead of the fallback SIZE_SLOPE and
LIBRARY_DEFAULT measured for the November 2026 default model.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np

from .bundle import set_relevance, utc_now_iso
from .captions import plain_name, typed_captions
from .data import ANIMALS, class_captions
from .evaluate import TorchEncoder
from .manifest import read_manifest
from .paths import default_data_dir

PAGE = 48
NONSENSE_RATE = 0.05
# Steps of 0.01: coarser steps round the default up to the next step, an arbitrary margin
# (0.05 steps gave the third-generation model 3.35 where the rule holds from 3.32).
THRESHOLDS = [round(0.01 * i, 2) for i in range(0, 801)]
# The size adjustment, as lib/index/relevance.c applies it (CB_RELEVANCE_SIZE_REF,
# CB_RELEVANCE_SIZE_SLOPE): `measure` fits the slope; the library's constant is set to it.
SIZE_REF = 2000
SIZE_SLOPE = 0.38
# CEREBRO_MIN_RELEVANCE_DEFAULT: a calibrated bundle's relevances are moved so that this
# cutoff is the threshold measured for it (lib/index/relevance.c).
LIBRARY_DEFAULT = 3.35
SUBSET_SIZES = [50, 100, 200, 500, 1000]
MIXED_SIZES = [4000, 8000]
ICON_SOURCES = ["google-emoji", "openmoji", "openclipart", "tuxpaint"]


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
    """Per query row: (score - mean) / sd over the whole store."""
    mean = scores.mean(axis=1, keepdims=True)
    sd = scores.std(axis=1, keepdims=True)
    return (scores - mean) / np.maximum(sd, 1e-12)


def size_offset(items: int, slope: float = SIZE_SLOPE) -> float:
    """What the relevance of a store of `items` subtracts from the standard score."""
    return slope * (np.sqrt(2 * np.log(items)) - np.sqrt(2 * np.log(SIZE_REF)))


def relevance(scores: np.ndarray, slope: float = SIZE_SLOPE) -> np.ndarray:
    """Per query row over a store of scores.shape[1] items, as libcerebro computes for a
    bundle without a calibration record (slope SIZE_SLOPE) or measured here."""
    return standard_scores(scores) - size_offset(scores.shape[1], slope)


def library_relevance(scores: np.ndarray, calibration: Dict[str, float]) -> np.ndarray:
    """What libcerebro reports for a bundle whose config carries `calibration` (the
    "relevance" record): the relevance with its slope, moved so that the library's
    default cutoff (LIBRARY_DEFAULT) is the record's threshold."""
    return (relevance(scores, calibration["size_slope"])
            - (calibration["threshold"] - LIBRARY_DEFAULT))


def size_study(texts: np.ndarray, emoji: np.ndarray, icons: np.ndarray, nonsense: np.ndarray,
               seed: int = 0) -> Dict[str, Any]:
    """Best standard score of nonsense queries, and of each member's typed query, in stores
    of every size: the data the slope is fitted on and the threshold is checked against.
    texts[i] is the typed query of emoji[i]; rows are unit vectors."""
    rng = np.random.default_rng(seed)
    n = len(emoji)
    pool = np.concatenate([emoji, icons])
    # the sizes the data allows (a small data set, e.g. the pipeline's smoke test, has few)
    all_sizes = ([s for s in SUBSET_SIZES if s <= n] + [n] +
                 [s for s in MIXED_SIZES if n < s < len(pool)] + ([len(pool)] if len(icons) else []))
    sizes = []
    for size in all_sizes:
        reps = max(1, min(20, 20000 // size))
        real, best = [], []
        for _ in range(reps):
            if size <= n:
                members = rng.choice(n, size, replace=False) if size < n else np.arange(n)
                store = emoji[members]
                z = standard_scores(texts[members] @ store.T)
                first = np.argmax(z, axis=1) == np.arange(size)
                # the member's own standard score where it ranks first, else -inf
                real.append(np.where(first, z[np.arange(size), np.arange(size)], -np.inf))
            else:
                store = pool[rng.choice(len(pool), size, replace=False)] if size < len(pool) else pool
            best.append(standard_scores(nonsense @ store.T).max(axis=1))
        best_a = np.concatenate(best)
        sizes.append({"items": size, "repeats": reps,
                      "kind": "twitter emoji" if size <= n else "twitter emoji + training icons",
                      "nonsense_best": best_a,
                      "real_first": np.concatenate(real) if real else None,
                      "nonsense_best_p95": float(np.quantile(best_a, 0.95)),
                      "nonsense_best_median": float(np.median(best_a))})
    x = np.sqrt(2 * np.log([s["items"] for s in sizes]))
    if len(set(x)) < 2:   # one size: nothing to fit; the library's fallback
        return {"sizes": sizes, "fitted_slope": SIZE_SLOPE}
    slope, _ = np.polyfit(x, [s["nonsense_best_p95"] for s in sizes], 1)
    return {"sizes": sizes, "fitted_slope": float(slope)}


def photo_store(encoder: TorchEncoder, photos: np.ndarray, labels: np.ndarray,
                nonsense: np.ndarray, threshold: float, slope: float) -> Dict[str, Any]:
    """The CIFAR validation photos alone as the store (six animals, 500 each: a sixth of
    the store matches every class query) and the ten training templates of each animal
    as queries. `oracle_best`: the best hit's standard score against the scores of the
    other classes' photos only, i.e. the background without any match in it. photos: the
    photos' embeddings (unit rows), labels: their ANIMALS indexes."""
    texts, classes = [], []
    for c, animal in enumerate(ANIMALS):
        for text in class_captions(animal):
            texts.append(text)
            classes.append(c)
    scores = encoder.texts(texts) @ photos.T
    z = relevance(scores, slope)
    top = np.argsort(-z, axis=1)[:, :PAGE]
    top_z = np.take_along_axis(z, top, axis=1)
    rel = labels[top] == np.array(classes)[:, None]
    kept = top_z >= threshold
    oracle = []
    for q, c in enumerate(classes):
        other = scores[q, labels != c]
        oracle.append((scores[q].max() - other.mean()) / other.std())
    best_nonsense = relevance(nonsense @ photos.T, slope).max(axis=1)
    return {"items": len(photos), "queries": len(texts),
            "page_precision_without_cutoff": round(float(rel.mean()), 4),
            "queries_keeping_a_match_at_default": round(float((kept & rel).any(axis=1).mean()), 4),
            "hits_per_query_at_default": round(float(kept.sum(axis=1).mean()), 2),
            "best_relevance_median": round(float(np.median(top_z[:, 0])), 3),
            "oracle_best_standard_score_median": round(float(np.median(oracle)), 3),
            "nonsense_with_hits_at_default": round(float((best_nonsense >= threshold).mean()), 4),
            "nonsense_best_relevance_median": round(float(np.median(best_nonsense)), 3)}


def size_table(study: Dict[str, Any], slope: float) -> List[Dict[str, Any]]:
    """Per threshold and store size: nonsense queries with a hit, real queries kept."""
    rows = []
    for t in THRESHOLDS:
        row: Dict[str, Any] = {"threshold": t, "nonsense_with_hits": {}, "real_kept": {}}
        for s in study["sizes"]:
            off = size_offset(s["items"], slope)
            row["nonsense_with_hits"][s["items"]] = round(
                float((s["nonsense_best"] - off >= t).mean()), 4)
            if s["real_first"] is not None:
                row["real_kept"][s["items"]] = round(float((s["real_first"] - off >= t).mean()), 4)
        rows.append(row)
    return rows


def measure(bundle: Path, data_dir: Path, threads: int = 0, with_photos: bool = False
            ) -> Dict[str, Any]:
    manifests = data_dir / "manifests"
    encoder = TorchEncoder(bundle, data_dir / "cache", threads, "fp32")
    emoji = read_manifest(manifests / "twitter-emoji.jsonl")
    # The CIFAR photos (the photo-store report, --with-photos) are optional: a bundle can be
    # calibrated on data built without CIFAR-10 (`data --sources` without cifar).
    val = (read_manifest(manifests / "cifar-val.jsonl")
           if (manifests / "cifar-val.jsonl").is_file() else [])
    if with_photos and not val:
        raise SystemExit(f"relevance: --with-photos needs {manifests / 'cifar-val.jsonl'}")
    store = encoder.images([r["image"] for r in emoji] +
                           ([r["image"] for r in val] if with_photos else []))
    n_emoji = len(emoji)
    names = [r["captions"][0] for r in emoji]

    typed = [typed_captions(plain_name(n.split(":")[0]))[:1] or [n] for n in names]
    queries: List[str] = list(names) + [t[0] for t in typed]
    relevant: List[set] = [{i} for i in range(n_emoji)] * 2
    kinds: List[str] = ["emoji"] * (2 * n_emoji)
    labels = np.array([ANIMALS.index(r["label"]) for r in val])
    # the photos' embeddings, encoded once: part of the store with --with-photos
    photos = (store[n_emoji:] if with_photos
              else encoder.images([r["image"] for r in val]) if val else None)
    for c, animal in enumerate(ANIMALS if with_photos else []):
        of_class = {n_emoji + int(i) for i in np.nonzero(labels == c)[0]}
        named = {i for i, name in enumerate(names) if re.search(rf"\b{animal}\b", name)}
        for text in class_captions(animal):
            queries.append(text)
            relevant.append(of_class | named)
            kinds.append("cifar")
    nonsense = nonsense_queries()
    queries += nonsense
    relevant += [set() for _ in nonsense]
    kinds += ["nonsense"] * len(nonsense)

    q = encoder.texts(queries)
    nonsense_q = q[len(queries) - len(nonsense):]
    icons: List[Dict[str, Any]] = []
    for source in ICON_SOURCES:
        if (manifests / f"{source}.jsonl").is_file():
            icons += read_manifest(manifests / f"{source}.jsonl")
    study = size_study(q[n_emoji:2 * n_emoji], store[:n_emoji],
                       encoder.images([r["image"] for r in icons]) if icons
                       else np.zeros((0, store.shape[1]), np.float32), nonsense_q)
    slope = round(study["fitted_slope"], 2)
    sizes = size_table(study, slope)

    z = relevance(q @ store.T, slope)
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
    ok = [r["nonsense_with_hits"] <= NONSENSE_RATE and
          max(s["nonsense_with_hits"].values()) <= NONSENSE_RATE for r, s in zip(rows, sizes)]
    chosen = rows[ok.index(True) if True in ok else -1]
    at_sizes = next(s for s in sizes if s["threshold"] == chosen["threshold"])
    demo = demo_queries(encoder, emoji, store, chosen["threshold"], slope)
    best_nonsense = np.sort(top_z[~real, 0])
    return {"bundle": bundle.name, "store": int(store.shape[0]), "page": PAGE,
            "queries": {"emoji": n_emoji, "cifar": int((kinds_a == "cifar").sum()),
                        "nonsense": len(nonsense)},
            "rule": f"smallest threshold at which <= {NONSENSE_RATE:.0%} of nonsense "
                    "queries return a hit, in the full store and in every store size",
            "size_ref": SIZE_REF, "size_slope": slope,
            "size_slope_fitted": round(study["fitted_slope"], 4),
            "sizes": [{"items": s["items"], "kind": s["kind"], "repeats": s["repeats"],
                       "nonsense_best_median": round(s["nonsense_best_median"], 3),
                       "nonsense_best_p95": round(s["nonsense_best_p95"], 3),
                       "offset": round(float(size_offset(s["items"], slope)), 3),
                       "bare_threshold": bare_threshold(s),
                       "nonsense_with_hits_at_default": at_sizes["nonsense_with_hits"][s["items"]],
                       "real_kept_at_default": at_sizes["real_kept"].get(s["items"]),
                       "real_kept_at_bare_default": bare_kept(s, chosen["threshold"]),
                       "nonsense_with_hits_at_bare_default": round(float(
                           (s["nonsense_best"] >= chosen["threshold"]).mean()), 4)}
                      for s in study["sizes"]],
            # tenths and the default: the whole table is as long as it is uninformative
            "size_table": [r for r in sizes if abs(r["threshold"] * 10 - round(r["threshold"] * 10))
                           < 1e-9 or r["threshold"] == chosen["threshold"]],
            "photo_store": (photo_store(encoder, photos, labels, nonsense_q, chosen["threshold"],
                                        slope) if photos is not None else None),
            "default": chosen["threshold"], "at_default": chosen,
            "nonsense_best_relevance": {"median": round(float(np.median(best_nonsense)), 3),
                                        "p95": round(float(np.quantile(best_nonsense, 0.95)), 3),
                                        "max": round(float(best_nonsense[-1]), 3)},
            "emoji_target_relevance_median": round(float(np.median(
                z[np.arange(n_emoji), np.arange(n_emoji)])), 3),
            "store_kind": "emoji + CIFAR photos" if with_photos else "emoji",
            "demo_queries": demo, "table": rows}


def bare_threshold(size: Dict[str, Any]) -> float:
    """The smallest threshold on the unadjusted standard score that one store size needs."""
    return next((t for t in THRESHOLDS
                 if (size["nonsense_best"] >= t).mean() <= NONSENSE_RATE), THRESHOLDS[-1])


def bare_kept(size: Dict[str, Any], threshold: float):
    """Real queries kept by `threshold` on the unadjusted standard score (no size term)."""
    if size["real_first"] is None:
        return None
    return round(float((size["real_first"] >= threshold).mean()), 4)


def demo_queries(encoder: TorchEncoder, emoji: List[Dict[str, Any]], store: np.ndarray,
                 threshold: float, slope: float, count: int = 4) -> List[Dict[str, Any]]:
    """Typed one-word queries ("a strawberry") that find their Twitter emoji first."""
    picks = [(i, typed_captions(plain_name(r["captions"][0]))[0]) for i, r in enumerate(emoji)
             if plain_name(r["captions"][0]) == r["captions"][0].lower()  # not "crying face"
             and r["captions"][0].isalpha()
             and not r["captions"][0].endswith("s")]  # "a cherries"
    if not picks:
        return []
    z = relevance(encoder.texts([q for _, q in picks]) @ store.T, slope)
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
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(12, 4.4))
    # precision of no kept hit is not a measurement: not drawn where real queries keep
    # fewer than 0.005 hits each (the table says 1.0 there)
    ax.plot(t, [r["precision"] if r["hits_per_real_query"] > 0 else float("nan") for r in table],
            label="precision (real queries)")
    ax.plot(t, [r["recall"] for r in table], label="recall of the page's relevant hits")
    ax.plot(t, [r["emoji_found"] for r in table], label="emoji queries: emoji kept")
    ax.plot(t, [r["nonsense_with_hits"] for r in table], label="nonsense queries with a hit",
            linestyle="--")
    ax.axvline(result["default"], color="grey", linewidth=0.8)
    ax.text(result["default"] + 0.1, 0.93, f"default {result['default']}", fontsize=8)
    ax.set_xlabel("minimum relevance (size-adjusted standard score)")
    ax.set_ylim(0, 1.02)
    ax.set_title(f"Relevance cutoff, {result['bundle']}: {result['store']} items, first "
                 f"{result['page']} hits", fontsize=9)
    ax.legend(fontsize=7, loc="center right")
    sizes = result["sizes"]
    n = [s["items"] for s in sizes]
    real = [s for s in sizes if s["real_kept_at_default"] is not None]
    bx.plot([s["items"] for s in real], [s["real_kept_at_default"] for s in real], marker="o",
            label="typed query keeps its emoji: size-adjusted")
    bx.plot([s["items"] for s in real], [s["real_kept_at_bare_default"] for s in real],
            marker="o", label="typed query keeps its emoji: bare standard score")
    bx.plot(n, [s["nonsense_with_hits_at_default"] for s in sizes], marker="x", linestyle="--",
            label="nonsense queries with a hit: size-adjusted")
    bx.plot(n, [s["nonsense_with_hits_at_bare_default"] for s in sizes], marker="x",
            linestyle=":", label="nonsense queries with a hit: bare standard score")
    bx.set_xscale("log")
    bx.set_xlabel("items in the store")
    bx.set_ylim(0, 0.5)
    bx.set_title(f"At the default {result['default']}, by store size (slope "
                 f"{result['size_slope']}, reference {result['size_ref']} items)", fontsize=9)
    bx.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _pct(x: Optional[float]) -> str:
    return "" if x is None else f"{100 * x:.1f} %"


def markdown(result: Dict[str, Any]) -> str:
    """The measurement as the model card's tables (relevance.md beside relevance.json)."""
    d = result["default"]
    out = [f"# Relevance calibration of {result['bundle']}", "",
           f"Size slope {result['size_slope']} (fitted {result['size_slope_fitted']}), default "
           f"threshold **{d}** ({result['rule']}); reference size {result['size_ref']:,} items.",
           "", "| store items | kind | nonsense best, median | 95th pct | size term added | "
           "bare threshold that size needs | typed queries kept first, adjusted | same, bare "
           "standard score | nonsense with a hit, adjusted | same, bare |",
           "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for s in result["sizes"]:
        out.append(f"| {s['items']:,} | {s['kind']} | {s['nonsense_best_median']:.2f} | "
                   f"{s['nonsense_best_p95']:.2f} | {-s['offset']:+.2f} | {s['bare_threshold']:.2f} | "
                   f"{_pct(s['real_kept_at_default'])} | {_pct(s['real_kept_at_bare_default'])} | "
                   f"{_pct(s['nonsense_with_hits_at_default'])} | "
                   f"{_pct(s['nonsense_with_hits_at_bare_default'])} |")
    out += ["", f"(Medians and percentiles are of the bare standard score; \"same, bare\" "
            f"applies {d} to it.)", "",
            f"Over the first {result['page']} hits of each query in the full store of "
            f"{result['store']:,} items ({result['store_kind']}), "
            f"{result['queries']['emoji'] * 2:,} emoji names and typed forms"
            + (f" and {result['queries']['cifar']} photo prompts" if result["queries"]["cifar"]
               else "") + f" as real queries, {result['queries']['nonsense']} nonsense queries:",
            "", "| min relevance | precision | recall of the page's relevant hits | emoji "
            "queries: emoji kept | hits per real query | nonsense queries with a hit |",
            "|---:|---:|---:|---:|---:|---:|"]
    wanted = [0.0] + [round(d + k, 2) for k in (-1.0, -0.5, -0.25, -0.1, 0.0, 0.1, 0.25, 0.5)]
    for r in result["table"]:
        if any(abs(r["threshold"] - w) < 1e-9 for w in wanted):
            t = f"**{r['threshold']:g}**" if abs(r["threshold"] - d) < 1e-9 else f"{r['threshold']:g}"
            out.append(f"| {t} | {100 * r['precision']:.1f} | {100 * r['recall']:.1f} | "
                       f"{100 * r['emoji_found']:.1f} | {r['hits_per_real_query']:g} | "
                       f"{100 * r['nonsense_with_hits']:.1f} |")
    b = result["nonsense_best_relevance"]
    out += ["", f"Nonsense queries' best hit: median relevance {b['median']:.2f}, 95th percentile "
            f"{b['p95']:.2f}, max {b['max']:.2f}; a query's own emoji: median "
            f"{result['emoji_target_relevance_median']:.2f}."]
    ph = result.get("photo_store")
    if ph:
        out += ["", f"Photo store ({ph['items']:,} CIFAR validation photos, {ph['queries']} "
                f"prompts): first {result['page']} hits right without a cutoff "
                f"{_pct(ph['page_precision_without_cutoff'])}; prompts keeping a match at the "
                f"default {_pct(ph['queries_keeping_a_match_at_default'])} (best relevance "
                f"median {ph['best_relevance_median']:.2f}; against the other classes only "
                f"{ph['oracle_best_standard_score_median']:.2f}); nonsense queries with a hit "
                f"{_pct(ph['nonsense_with_hits_at_default'])} (best median "
                f"{ph['nonsense_best_relevance_median']:.2f})."]
    if result["demo_queries"]:
        out += ["", "Demo searches: " + ", ".join(
            f"\"{q['query']}\" ({q['relevance']:.2f}, {q['category']})"
            for q in result["demo_queries"]) + "."]
    return "\n".join(out) + "\n"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bundle", type=Path, required=True)
    parser.add_argument("--data-dir", type=Path, default=default_data_dir())
    parser.add_argument("--out", type=Path, required=True,
                        help="folder for relevance.json, relevance.md (the tables) and relevance.png")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--with-photos", action="store_true",
                        help="add the CIFAR validation photos and prompts (a mixed store)")
    parser.add_argument("--demo-queries", type=Path, default=None,
                        help="write the demo's example searches here (one per line)")
    parser.add_argument("--write-bundle", action="store_true",
                        help="write the measured slope and threshold into the bundle's "
                        "config (\"relevance\"), so that libcerebro's default cutoff is this "
                        "model's; changes the bundle's id: calibrate before indexing")


def calibrate(bundle: Path, data_dir: Path, out: Path, demo_path: Optional[Path] = None,
              write_bundle: bool = False, threads: int = 0, with_photos: bool = False,
              label: Optional[str] = None) -> Dict[str, Any]:
    """Measure `bundle`, write relevance.json, relevance.md and relevance.png to `out` and the demo's
    example searches to `demo_path`; with `write_bundle`, write the measured slope and
    threshold into the bundle (`set_relevance`). `label` names the model in the figures
    (default: the bundle's file name). Returns the measurement."""
    result = measure(bundle, data_dir, threads, with_photos)
    if label:
        result["bundle"] = label
    if write_bundle:
        set_relevance(bundle, result["size_slope"], result["default"],
                      f"python3 -m cerebro_train relevance, {utc_now_iso()}: {result['rule']}")
        print(f"relevance: wrote size_slope {result['size_slope']}, threshold "
              f"{result['default']} into {bundle}", file=sys.stderr)
    elif result["size_slope"] != SIZE_SLOPE or result["default"] != LIBRARY_DEFAULT:
        print(f"relevance: this model's size slope is {result['size_slope']} and its threshold "
              f"{result['default']}; libcerebro assumes {SIZE_SLOPE} and {LIBRARY_DEFAULT} for "
              "a bundle without a calibration: rerun with --write-bundle", file=sys.stderr)
    out.mkdir(parents=True, exist_ok=True)
    (out / "relevance.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / "relevance.md").write_text(markdown(result), encoding="utf-8")
    plot(result, out / "relevance.png")
    if demo_path:
        demo_path.write_text(
            "# The demo's example searches (scripts/demo.sh), written by `python3 -m\n"
            "# cerebro_train relevance`: typed one-word queries whose Twitter-style emoji\n"
            f"# (a style never trained on) ranks first among the {result['queries']['emoji']:,} "
            "validation emoji with\n"
            f"# relevance >= {result['default']}, best first, one per emoji category.\n"
            + "".join(q["query"] + "\n" for q in result["demo_queries"]), encoding="utf-8")
    return result


def main(args: argparse.Namespace) -> int:
    result = calibrate(args.bundle, args.data_dir, args.out, args.demo_queries,
                       args.write_bundle, args.threads, args.with_photos)
    print(json.dumps({k: v for k, v in result.items() if k not in ("table", "size_table")},
                     indent=2))
    return 0
