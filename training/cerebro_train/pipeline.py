"""`pipeline`: Cerebro's scheme end to end, resumable.

    python3 -m cerebro_train data                       # once: downloads + manifests
    python3 -m cerebro_train pipeline --run runs/default --install ../models/default.pt

Stages (each a folder under --run, each skipped when already complete, so rerunning
the same command after an interruption continues where it stopped):

    pretrain              random init -> contrastive training on the captioned data
    pretrain2             (--restart-steps > 0) a second cosine cycle from pretrain's
                          weights, a warm restart at --restart-lr (SGDR)
    round1..roundN        pseudo-label the unlabelled pool with the previous stage's
                          bundle through libcerebro -> fine-tune (pseudo-labels are
                          --pseudo-share of every batch, the rest original pairs)
    control1..controlN    the control: the same fine-tuning steps on the original pairs
                          only, from the same pretrained weights
    (every stage)         export a bundle, evaluate it (evaluate.py; bfloat16 as search runs)
    final                 the last round's bundle evaluated through libcerebro in fp32,
                          report.md / report.json / plots/, optionally installed
    install               (--install PATH) the relevance cutoff measured on the final
                          bundle (relevance.py) and written into a copy of it,
                          installed.pt, copied to PATH; relevance.json/.md/.png go to
                          PATH's folder/figures and the demo's searches to
                          PATH's folder/demo-queries.txt

Nothing here downloads anything: `data` must have been run (or --data-dir given).
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional

from . import arch as archs
from .evaluate import evaluate_bundle, write_report
from .export import export_checkpoint
from .manifest import read_json, write_json
from .paths import default_data_dir, default_runs_dir
from .pseudolabel import pseudolabel
from .relevance import calibrate, markdown as relevance_markdown
from .train import CHECKPOINT, TrainConfig, load_checkpoint, run_training

# NAME*K: the manifest appears K times per epoch. Emoji are weighted up (they are what
# the Twitter-style retrieval target measures); the vehicle photos stay once per epoch.
TRAIN_MANIFESTS = ("google-emoji*4,openmoji*3,tuxpaint*2,openclipart,cifar-vehicles,"
                   "cifar-seed,fluent-emoji*2,emojione*2,noto-v1-emoji*2")

# Arguments that change what a stage computes: resuming a run with other values would
# silently mix two recipes, so the pipeline refuses instead.
RECIPE_ARGS = ("train_manifests", "seed_repeat", "preset", "arch", "rounds", "pretrain_steps",
               "restart_steps", "restart_lr",
               "round_steps", "batch", "lr", "finetune_lr", "final_lr", "warmup",
               "finetune_warmup", "weight_decay", "seed", "precision", "pseudo_share",
               "fraction", "threshold", "margin", "pool_limit", "merges", "extra_captions",
               "emoji_groups")


@dataclass
class Stage:
    name: str
    arm: str          # "shared" (pretraining), "pipeline" or "control"
    round: int
    steps: int
    init: Optional[str]   # stage whose checkpoint this one starts from
    pseudo: bool


def plan(rounds: int, pretrain_steps: int, round_steps: int, control: bool,
         restart_steps: int = 0) -> List[Stage]:
    stages = [Stage("pretrain", "shared", 0, pretrain_steps, None, False)]
    if restart_steps > 0:
        stages.append(Stage("pretrain2", "shared", 0, restart_steps, "pretrain", False))
    base = stages[-1].name
    for r in range(1, rounds + 1):
        stages.append(Stage(f"round{r}", "pipeline", r, round_steps,
                            base if r == 1 else f"round{r - 1}", True))
    if control:
        for r in range(1, rounds + 1):
            stages.append(Stage(f"control{r}", "control", r, round_steps,
                                base if r == 1 else f"control{r - 1}", False))
    return stages


def checkpoint_complete(directory: Path, steps: int) -> bool:
    path = directory / CHECKPOINT
    return path.is_file() and load_checkpoint(path)["step"] >= steps


def log(message: str) -> None:
    print(f"pipeline: {time.strftime('%H:%M:%S')} {message}", flush=True)


class Pipeline:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.run: Path = args.run
        self.data: Path = args.data_dir
        self.manifests = self.data / "manifests"
        self.train_manifests = []
        for name in (n.strip() for n in args.train_manifests.split(",")):
            if name:
                base, star, repeat = name.partition("*")
                self.train_manifests.append(str(self.manifests / f"{base}.jsonl") +
                                            (f"*{repeat}" if star else ""))
        if args.seed_repeat > 1:
            self.train_manifests = [m + f"*{args.seed_repeat}" if m.endswith("cifar-seed.jsonl")
                                    else m for m in self.train_manifests]
        self.stages = plan(args.rounds, args.pretrain_steps, args.round_steps, not args.no_control,
                           args.restart_steps)
        self.state_path = self.run / "pipeline.json"

    def check_inputs(self) -> None:
        needed = [m.split("*")[0] for m in self.train_manifests] + [
            str(self.manifests / n) for n in ("cifar-pool.jsonl", "cifar-val.jsonl",
                                              "twitter-emoji.jsonl", "vocabulary.json")]
        missing = [p for p in needed if not Path(p).is_file()]
        if missing:
            raise SystemExit("pipeline: missing " + ", ".join(missing) +
                             "\nrun `python3 -m cerebro_train data` first (it downloads and "
                             "builds the manifests)")

    def check_recipe(self) -> None:
        """Refuse to continue a run that was started with a different recipe."""
        if not self.state_path.is_file():
            return
        saved = read_json(self.state_path).get("args", {})
        changed = [f"--{k.replace('_', '-')} {saved[k]} -> {getattr(self.args, k)}"
                   for k in RECIPE_ARGS
                   if k in saved and saved[k] != str(getattr(self.args, k))]
        if changed:
            raise SystemExit(f"pipeline: {self.run} was started with other settings ("
                             + "; ".join(changed) + "); use another --run, or delete it")

    def save_state(self, extra: Dict[str, Any]) -> None:
        state = read_json(self.state_path) if self.state_path.is_file() else {}
        state.setdefault("created", time.strftime("%Y-%m-%dT%H:%M:%S"))
        state["args"] = {k: str(v) for k, v in vars(self.args).items() if k != "func"}
        state["stages"] = [dict(s.__dict__) for s in self.stages]
        state.setdefault("timings", {}).update(extra.pop("timings", {}))
        state.update(extra)
        write_json(self.state_path, state)

    def train_config(self, stage: Stage, pseudo: List[str]) -> TrainConfig:
        a = self.args
        init = self.run / stage.init / CHECKPOINT if stage.init else None
        if stage.arm == "shared":   # pretraining: a cosine cycle from scratch or a restart
            lr, warmup = (a.lr if stage.init is None else a.restart_lr), a.warmup
        else:
            lr, warmup = a.finetune_lr, a.finetune_warmup
        return TrainConfig(
            run=self.run / stage.name, manifests=self.train_manifests, extra_manifests=pseudo,
            extra_share=a.pseudo_share if pseudo else 0.0, preset=a.preset,
            arch=json.loads(a.arch) if a.arch else None, init=init, steps=stage.steps,
            batch=a.batch, lr=lr, final_lr=a.final_lr, warmup=warmup,
            weight_decay=a.weight_decay, clip=1.0, seed=a.seed + stage.round * 1000 +
            (500 if stage.arm == "control" else 0) + (100 if stage.name == "pretrain2" else 0),
            precision=a.precision, augment=True, checkpoint_every=a.checkpoint_every,
            log_every=a.log_every, cache_dir=self.data / "cache", merges=a.merges,
            threads=a.threads,
            caption_fields=tuple(f for f in a.extra_captions.split(",") if f),
            ungroup=() if a.emoji_groups else ("emoji:",))

    def bundle_name(self, stage: str) -> str:
        return f"{self.args.name}-{stage}"

    def run_stage(self, stage: Stage) -> None:
        directory = self.run / stage.name
        directory.mkdir(parents=True, exist_ok=True)
        timings: Dict[str, float] = {}
        pseudo: List[str] = []
        if stage.pseudo:
            manifest, report = directory / "pseudo.jsonl", directory / "pseudo-report.json"
            if not report.is_file():
                source = self.run / stage.init / "bundle.pt"
                log(f"{stage.name}: pseudo-labelling with {source} through libcerebro")
                started = time.time()
                result = pseudolabel(source, self.manifests / "cifar-pool.jsonl",
                                     self.manifests / "vocabulary.json", manifest,
                                     self.manifests / "cifar-pool-labels.json"
                                     if (self.manifests / "cifar-pool-labels.json").is_file()
                                     else None, self.args.fraction, self.args.threshold,
                                     self.args.margin, threads=self.args.threads,
                                     library=self.args.library, limit=self.args.pool_limit,
                                     seed=self.args.seed + stage.round)
                write_json(report, result)
                timings[f"{stage.name}/pseudolabel"] = round(time.time() - started, 1)
                log(f"{stage.name}: kept {result['kept_total']} pseudo-labels, "
                    f"{result.get('kept_accuracy')} correct")
            if read_json(report)["manifest_rows"]:
                pseudo = [str(manifest)]
            else:
                log(f"{stage.name}: no pseudo-labels kept; fine-tuning on the original pairs")
        if not checkpoint_complete(directory, stage.steps):
            log(f"{stage.name}: training {stage.steps} steps")
            started = time.time()
            run_training(self.train_config(stage, pseudo), self.args.nproc)
            timings[f"{stage.name}/train"] = round(time.time() - started, 1)
            if not checkpoint_complete(directory, stage.steps):
                raise SystemExit(f"pipeline: {stage.name} stopped before step {stage.steps}; "
                                 "rerun the command to resume")
        bundle = directory / "bundle.pt"
        if not bundle.is_file():
            export_checkpoint(directory / CHECKPOINT, bundle, self.bundle_name(stage.name),
                              {"stage": stage.name, "round": stage.round, "arm": stage.arm},
                              source=f"training/cerebro_train pipeline, run {self.run.name}",
                              merges=self.args.merges)
        if not (directory / "eval.json").is_file():
            started = time.time()
            metrics = evaluate_bundle(bundle, self.data, self.args.eval_backend,
                                      self.args.threads, self.args.eval_precision)
            write_json(directory / "eval.json", metrics)
            timings[f"{stage.name}/evaluate"] = round(time.time() - started, 1)
            log(f"{stage.name}: CIFAR-6 {metrics['cifar6_acc']:.3f}, "
                f"Twitter R@10 {metrics['twitter_r@10']:.3f}")
        self.save_state({"timings": timings})

    def finish(self) -> Dict[str, Any]:
        last = [s for s in self.stages if s.arm != "control"][-1]
        bundle = self.run / last.name / "bundle.pt"
        final = self.run / "final-eval.json"
        if not final.is_file():
            log(f"final: evaluating {bundle} with {self.args.final_eval_backend} "
                f"({self.args.final_eval_precision})")
            write_json(final, evaluate_bundle(bundle, self.data, self.args.final_eval_backend,
                                              self.args.threads, self.args.final_eval_precision))
        report = write_report(self.run)
        if self.args.install:
            self.install(bundle, self.args.install)
        self.save_state({"final_stage": last.name, "final_bundle": str(bundle)})
        return report

    def install(self, bundle: Path, target: Path) -> None:
        """Calibrate the relevance cutoff for `bundle` (a copy of it, installed.pt, carries
        the measured slope and threshold) and install the copy as `target`, with the
        calibration's figures and the demo's searches beside it."""
        calibrated = self.run / "installed.pt"
        measured = self.run / "relevance"
        # measured once per final bundle (a rerun only copies; a retrained bundle is newer)
        if not calibrated.is_file() or calibrated.stat().st_mtime < bundle.stat().st_mtime:
            log(f"install: measuring the relevance cutoff of {bundle}")
            started = time.time()
            tmp = calibrated.with_name(calibrated.name + ".tmp")
            shutil.copyfile(bundle, tmp)
            result = calibrate(tmp, self.data, measured, measured / "demo-queries.txt",
                               write_bundle=True, threads=self.args.threads,
                               label=str(bundle))
            tmp.replace(calibrated)
            self.save_state({"timings": {"install/relevance": round(time.time() - started, 1)},
                             "relevance": {"size_slope": result["size_slope"],
                                           "threshold": result["default"]}})
        target.parent.mkdir(parents=True, exist_ok=True)
        (target.parent / "figures").mkdir(exist_ok=True)
        for name in ("relevance.json", "relevance.png"):
            shutil.copyfile(measured / name, target.parent / "figures" / name)
        (target.parent / "figures" / "relevance.md").write_text(
            relevance_markdown(json.loads((measured / "relevance.json").read_text())),
            encoding="utf-8")
        shutil.copyfile(measured / "demo-queries.txt", target.parent / "demo-queries.txt")
        tmp = target.with_name(target.name + ".tmp")
        shutil.copyfile(calibrated, tmp)
        tmp.replace(target)
        log(f"installed {calibrated} ({bundle}, relevance calibrated) as {target}")

    def execute(self) -> Dict[str, Any]:
        self.check_inputs()
        self.check_recipe()
        self.run.mkdir(parents=True, exist_ok=True)
        self.save_state({})
        started = time.time()
        for stage in self.stages:
            self.run_stage(stage)
        report = self.finish()
        self.save_state({"timings": {"this_invocation": round(time.time() - started, 1)}})
        return report


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run", type=Path, default=default_runs_dir() / "default")
    parser.add_argument("--name", default="cerebro-lite", help="bundle name prefix")
    parser.add_argument("--data-dir", type=Path, default=default_data_dir())
    parser.add_argument("--train-manifests", default=TRAIN_MANIFESTS,
                        help="comma-separated manifest names under DATA/manifests, NAME*K "
                        "to repeat one K times per epoch")
    parser.add_argument("--seed-repeat", type=int, default=12,
                        help="repeat the cifar-seed manifest this many times per epoch")
    parser.add_argument("--extra-captions", default="typed,wordnet",
                        help="caption fields added to each record's captions (captions.py): "
                        "typed, wordnet, both or none ('')")
    parser.add_argument("--emoji-groups", default=False, action=argparse.BooleanOptionalAction,
                        help="renderings of one emoji (code point) in several styles are "
                        "positives of each other")
    parser.add_argument("--preset", default=archs.DEFAULT_PRESET, choices=list(archs.PRESETS))
    parser.add_argument("--arch", default="", help="architecture JSON (overrides --preset)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pretrain-steps", type=int, default=18000)
    parser.add_argument("--restart-steps", type=int, default=0,
                        help="a second pretraining cycle (warm restart) of this many steps "
                        "from the first cycle's weights; 0: none (12,000 bought +1.1 points of "
                        "Twitter R@10 and -0.6 of CIFAR-6: models/MODEL_CARD.md)")
    parser.add_argument("--restart-lr", type=float, default=4e-4,
                        help="peak learning rate of the second pretraining cycle")
    parser.add_argument("--round-steps", type=int, default=200)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--lr", type=float, default=8e-4)
    parser.add_argument("--finetune-lr", type=float, default=2e-4)
    parser.add_argument("--final-lr", type=float, default=1e-5)
    parser.add_argument("--warmup", type=int, default=40)
    parser.add_argument("--finetune-warmup", type=int, default=10)
    parser.add_argument("--weight-decay", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--precision", choices=["bf16", "fp32"], default="bf16")
    parser.add_argument("--pseudo-share", type=float, default=1 / 3)
    parser.add_argument("--fraction", type=float, default=0.3,
                        help="pseudo-labels kept: most confident fraction per class quota")
    parser.add_argument("--threshold", type=float, default=0.0)
    parser.add_argument("--margin", type=float, default=0.0)
    parser.add_argument("--pool-limit", type=int, default=0,
                        help="pseudo-label a random subset of this many pool images per round "
                        "(0: the whole pool)")
    parser.add_argument("--no-control", action="store_true")
    parser.add_argument("--eval-backend", choices=["cerebro", "torch"], default="torch",
                        help="how each stage's bundle is evaluated (torch: its TorchScript "
                        "module on the library-equivalent PIL pixels; cerebro: libcerebro)")
    parser.add_argument("--eval-precision", choices=["auto", "fp32", "bf16"], default="bf16")
    parser.add_argument("--final-eval-backend", choices=["cerebro", "torch"], default="cerebro")
    parser.add_argument("--final-eval-precision", choices=["auto", "fp32", "bf16"],
                        default="fp32", help="the final bundle is also measured in float32")
    parser.add_argument("--checkpoint-every", type=int, default=20)
    parser.add_argument("--log-every", type=int, default=10)
    parser.add_argument("--threads", type=int, default=0, help="0: all CPUs")
    parser.add_argument("--nproc", type=int, default=0,
                        help="data-parallel training processes (0: one per CPU, at most 8); "
                        "the result does not depend on it")
    parser.add_argument("--merges", default="")
    parser.add_argument("--library", default=None, help="libcerebro.so for the binding")
    parser.add_argument("--install", type=Path, default=None,
                        help="install the final bundle here (e.g. ../models/default.pt), "
                        "its relevance cutoff measured and written into it; the figures go "
                        "to the folder's figures/, the demo's searches to its "
                        "demo-queries.txt")


def main(args: argparse.Namespace) -> int:
    import os
    if not args.threads:
        args.threads = os.cpu_count() or 1
    if not args.nproc:
        # One single-threaded process per core trains twice as fast as one process with
        # two threads on a 2-core machine (600 against 300 images/s, `lite` preset):
        # the model's matrices are too small to split well between threads.
        args.nproc = max(1, min(8, args.threads))
        while args.batch % args.nproc:
            args.nproc -= 1
    Pipeline(args).execute()
    print((args.run / "report.md").read_text())
    return 0
