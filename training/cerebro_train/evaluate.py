"""`evaluate`: measure a bundle, or tabulate and plot a pipeline run.

    python3 -m cerebro_train evaluate --bundle B.pt [--backend torch|cerebro] [--out eval.json]
    python3 -m cerebro_train evaluate --run runs/default      # report.json, report.md, plots/

Metrics of one bundle:
- Emoji retrieval, text -> image: every Twitter-style base emoji (a style never trained
  on) is the gallery, its name ("grinning face") the query; R@1/5/10 over all queries
  (`twitter_r@k`) and over the queries of the held-out emoji, which no training source
  contained in any style (`heldout_r@k`), and with the query as people type it, "a
  strawberry" (`twitter_typed_r@k`).
- CIFAR-6 zero-shot: accuracy on the validation photos of bird cat deer dog frog horse
  with the prompts "a photo of a {class}." (`cifar6_acc`) and with the mean of the ten
  training templates (`cifar6_acc_ensemble`).

Backends: `torch` runs the bundle's TorchScript module on the library-equivalent PIL
preprocessing (fast, cached); `cerebro` runs everything through libcerebro's binding.

A run report collects each stage's `eval.json` and pseudo-label report into one
table (report.md), report.json, and PNG plots (matplotlib) of the training loss and of
each metric across rounds, pipeline against control.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, Dict, List, Sequence

import numpy as np
import torch

from .bundle import load_bundle
from .captions import typed_captions
from .data import ANIMALS, class_captions, prompt
from .images import cached_pixels, normalise
from .manifest import read_json, read_manifest, write_json
from .paths import default_data_dir
from .text import pad
from .tokenizer import Tokenizer

RECALL_AT = (1, 5, 10)


def recall_at(similarity: np.ndarray, ks: Sequence[int] = RECALL_AT) -> Dict[int, np.ndarray]:
    """similarity[q, g] with query q's match at gallery g = q: hit arrays per k."""
    correct = similarity[np.arange(len(similarity)), np.arange(len(similarity))]
    rank = (similarity > correct[:, None]).sum(axis=1)
    return {k: rank < k for k in ks}


class TorchEncoder:
    """The bundle's TorchScript module on PIL-preprocessed pixels; precision "bf16" casts
    the module to bfloat16 as libcerebro does (its LayerNorms stay float32)."""

    def __init__(self, bundle: Path, cache_dir: Path, threads: int = 0,
                 precision: str = "fp32") -> None:
        if threads:
            torch.set_num_threads(threads)
        self.module, self.config, merges = load_bundle(bundle)
        self.module.eval()
        if precision == "bf16":
            self.module.to(torch.bfloat16)
        text = self.config["text"]
        self.tokenizer = Tokenizer.from_text(merges, text["vocab_size"])
        self.context = text["context_length"]
        self.size = self.config["image"]["size"]
        self.cache_dir = cache_dir

    @torch.no_grad()
    def images(self, paths: Sequence[str], batch: int = 512) -> np.ndarray:
        pixels = cached_pixels(list(paths), self.size, self.cache_dir)
        image = self.config["image"]
        out = []
        for start in range(0, len(paths), batch):
            x = normalise(torch.from_numpy(np.array(pixels[start:start + batch])),
                          image["mean"], image["std"])
            out.append(self.module.encode_image(x).numpy())
        return _unit(np.concatenate(out))

    @torch.no_grad()
    def texts(self, texts: Sequence[str]) -> np.ndarray:
        rows = [self.tokenizer.encode(t, self.context) for t in texts]
        out = [self.module.encode_text(pad(rows[i:i + 512])).numpy()
               for i in range(0, len(rows), 512)]
        return _unit(np.concatenate(out))


class LibraryEncoder:
    def __init__(self, bundle: Path, threads: int = 0, precision: str = "auto") -> None:
        from .binding import import_cerebro
        self.model = import_cerebro().Model(str(bundle), threads=threads or None,
                                            precision=precision)

    def images(self, paths: Sequence[str]) -> np.ndarray:
        vectors, errors = self.model.encode_images(list(paths), mode="exact")
        if errors:
            raise RuntimeError(f"libcerebro failed on {errors[0].path}: {errors[0].message}")
        return _unit(vectors)

    def texts(self, texts: Sequence[str]) -> np.ndarray:
        return _unit(self.model.encode_text(list(texts)))


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def evaluate_bundle(bundle: Path, data_dir: Path, backend: str = "torch", threads: int = 0,
                    precision: str = "auto") -> Dict[str, Any]:
    """Metrics of a bundle. backend "cerebro" runs libcerebro with `precision` ("auto":
    bfloat16 where the CPU supports it, as search does; "fp32")."""
    manifests = data_dir / "manifests"
    encoder = (TorchEncoder(bundle, data_dir / "cache", threads,
                            "bf16" if precision == "bf16" else "fp32")
               if backend == "torch" else LibraryEncoder(bundle, threads, precision))
    metrics: Dict[str, Any] = {"bundle": str(bundle), "backend": backend,
                               "precision": precision}

    emoji = read_manifest(manifests / "twitter-emoji.jsonl")
    gallery = encoder.images([r["image"] for r in emoji])
    queries = encoder.texts([r["captions"][0] for r in emoji])
    hits = recall_at(queries @ gallery.T)
    heldout = np.array([bool(r.get("heldout")) for r in emoji])
    for k, hit in hits.items():
        metrics[f"twitter_r@{k}"] = round(float(hit.mean()), 4)
        metrics[f"heldout_r@{k}"] = round(float(hit[heldout].mean()), 4) if heldout.any() else None
    # What people type: "a strawberry" for the emoji named "strawberry" (captions.py).
    typed = recall_at(encoder.texts([typed_captions(r["captions"][0].split(":")[0])[0]
                                     for r in emoji]) @ gallery.T)
    for k, hit in typed.items():
        metrics[f"twitter_typed_r@{k}"] = round(float(hit.mean()), 4)
    metrics["twitter_gallery"] = len(emoji)
    metrics["heldout_queries"] = int(heldout.sum())

    val = read_manifest(manifests / "cifar-val.jsonl")
    truth = np.array([ANIMALS.index(r["label"]) for r in val])
    images = encoder.images([r["image"] for r in val])
    prompts = encoder.texts([prompt(c) for c in ANIMALS])
    predicted = (images @ prompts.T).argmax(axis=1)
    metrics["cifar6_acc"] = round(float((predicted == truth).mean()), 4)
    ensemble = np.stack([_unit(encoder.texts(class_captions(c)).mean(axis=0, keepdims=True))[0]
                         for c in ANIMALS])
    metrics["cifar6_acc_ensemble"] = round(float(((images @ ensemble.T).argmax(axis=1) == truth)
                                                 .mean()), 4)
    metrics["cifar6_per_class"] = {c: round(float((predicted[truth == i] == i).mean()), 4)
                                   for i, c in enumerate(ANIMALS)}
    metrics["cifar6_val_images"] = len(val)
    return metrics


# ---- run reports ---------------------------------------------------------------------------

METRICS = [("cifar6_acc", "CIFAR-6 val acc"), ("cifar6_acc_ensemble", "CIFAR-6 (10 prompts)"),
           ("twitter_r@1", "Twitter R@1"), ("twitter_r@5", "Twitter R@5"),
           ("twitter_r@10", "Twitter R@10"), ("heldout_r@10", "held-out R@10"),
           ("twitter_typed_r@10", "typed \"a X\" R@10")]


def stage_rows(run: Path) -> List[Dict[str, Any]]:
    """One row per evaluated stage, in pipeline order."""
    state = read_json(run / "pipeline.json") if (run / "pipeline.json").is_file() else {}
    rows = []
    for stage in state.get("stages", []):
        directory = run / stage["name"]
        row: Dict[str, Any] = {"stage": stage["name"], "arm": stage["arm"],
                               "round": stage["round"], "steps": stage.get("steps")}
        if (directory / "eval.json").is_file():
            row.update({k: v for k, v in read_json(directory / "eval.json").items()
                        if k in dict(METRICS)})
        pseudo = directory / "pseudo-report.json"
        if pseudo.is_file():
            report = read_json(pseudo)
            row["pseudo_kept"] = report.get("kept_total")
            row["pseudo_kept_acc"] = report.get("kept_accuracy")
            row["pseudo_pool_acc"] = report.get("pool_accuracy_6way")
        if (directory / "log.jsonl").is_file():
            row["train_seconds"] = _last_log(directory / "log.jsonl").get("time")
        rows.append(row)
    return rows


def _last_log(path: Path) -> Dict[str, Any]:
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    return json.loads(lines[-1]) if lines else {}


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{100 * value:.1f}" if value <= 1 else f"{value:.0f}"
    return str(value)


def markdown_table(rows: List[Dict[str, Any]]) -> str:
    columns = [("stage", "stage"), ("steps", "steps")] + METRICS + [
        ("pseudo_kept", "pseudo-labels kept"), ("pseudo_kept_acc", "kept correct %"),
        ("pseudo_pool_acc", "pool 6-way %")]
    lines = ["| " + " | ".join(title for _, title in columns) + " |",
             "|" + "|".join("---" for _ in columns) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(_fmt(row.get(key)) for key, _ in columns) + " |")
    return "\n".join(lines) + "\n"


def plot_run(run: Path, rows: List[Dict[str, Any]]) -> List[Path]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = run / "plots"
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    # Loss: the stages of each arm one after another on a common step axis.
    fig, ax = plt.subplots(figsize=(7, 4))
    for arm, style in (("pipeline", "-"), ("control", "--")):
        offset = 0
        xs, ys = [], []
        for row in rows:
            if row["arm"] not in (arm, "shared"):
                continue
            log = run / row["stage"] / "log.jsonl"
            if not log.is_file():
                continue
            entries = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
            xs += [offset + e["step"] for e in entries]
            ys += [e["loss"] for e in entries]
            offset += row.get("steps") or (entries[-1]["step"] if entries else 0)
        if xs:
            ax.plot(xs, ys, style, label=arm, linewidth=1)
    ax.set_xlabel("step")
    ax.set_ylabel("contrastive loss")
    ax.set_title("training loss (pretraining, then each round)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out_dir / "loss.png", dpi=100)
    plt.close(fig)
    written.append(out_dir / "loss.png")
    for key, title in METRICS + [("pseudo_kept_acc", "pseudo-labels kept: correct")]:
        fig, ax = plt.subplots(figsize=(5, 3.5))
        for arm, marker in (("pipeline", "o-"), ("control", "s--")):
            # Round 0 is the last pretraining stage (a restart's, where there is one).
            points = sorted({r["round"]: r[key] for r in rows
                             if r["arm"] in (arm, "shared") and r.get(key) is not None}.items())
            if points:
                ax.plot([p[0] for p in points], [100 * p[1] for p in points], marker, label=arm)
        ax.set_xlabel("round (0 = after pretraining)")
        ax.set_ylabel("%")
        ax.set_title(title)
        ax.legend()
        fig.tight_layout()
        path = out_dir / f"{key.replace('@', '-at-')}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        written.append(path)
    return written


def write_report(run: Path) -> Dict[str, Any]:
    rows = stage_rows(run)
    table = markdown_table(rows)
    (run / "report.md").write_text(f"# {run.name}\n\n{table}", encoding="utf-8")
    plots = plot_run(run, rows)
    report = {"run": str(run), "stages": rows, "plots": [str(p) for p in plots]}
    write_json(run / "report.json", report)
    return report


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bundle", type=Path, default=None)
    parser.add_argument("--run", type=Path, default=None, help="tabulate and plot a pipeline run")
    parser.add_argument("--data-dir", type=Path, default=default_data_dir())
    parser.add_argument("--backend", choices=["torch", "cerebro"], default="torch")
    parser.add_argument("--precision", choices=["auto", "fp32", "bf16"], default="auto",
                        help="precision (auto = bf16 where supported for cerebro, fp32 for torch)")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None)


def main(args: argparse.Namespace) -> int:
    if args.bundle is None and args.run is None:
        raise SystemExit("evaluate: give --bundle or --run")
    if args.bundle is not None:
        metrics = evaluate_bundle(args.bundle, args.data_dir, args.backend, args.threads,
                                  args.precision)
        if args.out:
            write_json(args.out, metrics)
        print(json.dumps(metrics, indent=2))
    if args.run is not None:
        report = write_report(args.run)
        print((args.run / "report.md").read_text())
        print("\n".join(report["plots"]))
    return 0
