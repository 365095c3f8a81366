"""python3 -m cerebro_train COMMAND ...  (see docs/training.md)."""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import List, Optional

COMMANDS = {
    "data": "build the training and evaluation manifests (downloads, cached)",
    "train": "contrastive pretraining from random init (or resume)",
    "pseudolabel": "label unlabelled photos with a bundle through libcerebro's binding",
    "finetune": "continue training on original pairs + pseudo-labels",
    "export": "write a bundle from a training checkpoint",
    "evaluate": "emoji retrieval and CIFAR-6 zero-shot metrics, report and plots",
    "pipeline": "pretrain -> (pseudolabel -> finetune) x3 -> export -> evaluate, resumable",
    "relevance": "measure the relevance cutoff on validation data, choose its default",
}


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="cerebro_train", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, help_text in COMMANDS.items():
        module = importlib.import_module(f"cerebro_train.{name}")
        module.add_arguments(sub.add_parser(name, help=help_text, description=module.__doc__,
                                            formatter_class=argparse.RawDescriptionHelpFormatter))
    args = parser.parse_args(argv)
    return importlib.import_module(f"cerebro_train.{args.command}").main(args)


if __name__ == "__main__":
    sys.exit(main())
