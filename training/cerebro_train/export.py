"""`export`: write a libcerebro bundle (docs/bundle-format.md) from a training checkpoint.

    python3 -m cerebro_train export --checkpoint runs/x/pretrain/checkpoint.pt \
        --out runs/x/pretrain/bundle.pt --name cerebro-small
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, Dict, Mapping, Optional

from .arch import split_arch
from .bundle import export_bundle
from .text import merges_text
from .train import model_from_checkpoint


def export_checkpoint(checkpoint: Path, out: Path, name: str,
                      training: Optional[Mapping[str, Any]] = None, source: str = "",
                      merges: str = "") -> Dict[str, Any]:
    model, state = model_from_checkpoint(checkpoint)
    _, config, _ = split_arch(state["arch"])
    info = {"step": state["step"], **dict(state.get("meta") or {}), **dict(training or {})}
    return export_bundle(model.eval(), config, merges_text(config.vocab_size, merges), out, name,
                         {"training": info, "source": source or str(checkpoint)},
                         architecture=state["arch"])


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--source", default="")
    parser.add_argument("--training-json", default="", help="extra provenance.training (JSON)")
    parser.add_argument("--merges", default="", help="CLIP BPE merges (default: shared data)")


def main(args: argparse.Namespace) -> int:
    training = json.loads(args.training_json) if args.training_json else None
    config = export_checkpoint(args.checkpoint, args.out, args.name, training, args.source,
                               args.merges)
    print(json.dumps({"bundle": str(args.out), "name": config["name"],
                      "embed_dim": config["embed_dim"]}))
    return 0
