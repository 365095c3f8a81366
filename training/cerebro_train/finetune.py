"""`finetune`: continue training a checkpoint on the original pairs plus pseudo-labels.

    python3 -m cerebro_train finetune --init runs/x/pretrain/checkpoint.pt --run runs/x/round1 \
        --manifest ... --pseudo runs/x/round1/pseudo.jsonl --pseudo-share 0.33 --steps 500

The same loop as `train` (train.py): a fresh optimiser and warm-up/cosine schedule
from the checkpoint's weights; each batch takes `--pseudo-share` of its samples from
the pseudo-label manifest(s), the rest from the original captioned manifests. Without
`--pseudo` it is the control: the same steps on the original pairs only.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .train import TrainConfig, add_common_arguments, config_from_args, run_training


def finetune_config(args: argparse.Namespace) -> TrainConfig:
    args.preset = ""
    args.arch = ""
    args.extra_manifest = list(args.pseudo or [])
    args.extra_share = args.pseudo_share if args.pseudo else 0.0
    return config_from_args(args)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common_arguments(parser)
    parser.set_defaults(lr=2.5e-4, warmup=50)
    parser.add_argument("--init", type=Path, required=True, help="checkpoint to start from")
    parser.add_argument("--pseudo", action="append", default=[],
                        help="pseudo-label manifest (repeatable); none: control run")
    parser.add_argument("--pseudo-share", type=float, default=1 / 3)


def main(args: argparse.Namespace) -> int:
    result = run_training(finetune_config(args), args.nproc)
    print(json.dumps(result))
    return 0
