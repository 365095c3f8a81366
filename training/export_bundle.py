#!/usr/bin/python3
"""Export a CLIP state dict or training checkpoint to a libcerebro bundle.

    export_bundle.py CHECKPOINT --out model.pt --name NAME [--merges FILE]

--merges defaults to CLIP's (third_party/clip/bpe_simple_vocab_16e6.txt.gz).

CHECKPOINT is any of (torch.load / torch.jit.load, CPU):
- a state dict with OpenAI CLIP's names (the config is inferred from the shapes,
  heads = width // 64 unless --vision-heads / --text-heads say otherwise);
- a dict with the state dict under "model" or "state_dict", and optionally
  "config" (cerebro_train.model.CLIPConfig fields) and "training" (a dict copied
  into the bundle's provenance);
- an OpenAI CLIP JIT archive (its state dict is used).
A "module." prefix (DistributedDataParallel) is removed. A state dict is built with
QuickGELU unless --activation gelu says otherwise; for open_clip, Hugging Face and
SigLIP checkpoints use cerebro-import (python3 -m cerebro_train.import, docs/models.md),
which asks.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple

import torch

from cerebro_train.bundle import CLIP_MEAN, CLIP_STD, DEFAULT_BACKGROUND, export_bundle
from cerebro_train.model import CLIP, CLIPConfig, from_openai_state_dict
from cerebro_train.paths import clip_merges

StateDict = Dict[str, torch.Tensor]


def _strip_prefix(state_dict: Mapping[str, Any], prefix: str) -> StateDict:
    if all(key.startswith(prefix) for key in state_dict):
        return {key[len(prefix):]: value for key, value in state_dict.items()}
    return dict(state_dict)


def read_checkpoint(path: Path) -> Tuple[StateDict, Optional[Dict], Dict]:
    """(state dict, CLIPConfig dict or None, training provenance)."""
    with warnings.catch_warnings():
        # torch.load hands TorchScript archives to torch.jit.load, with a warning.
        warnings.filterwarnings("ignore", message=".*TorchScript archive")
        loaded = torch.load(str(path), map_location="cpu")
    if isinstance(loaded, torch.jit.ScriptModule):
        return dict(loaded.state_dict()), None, {}
    if not isinstance(loaded, Mapping):
        raise ValueError(f"{path}: expected a state dict or checkpoint dict, "
                         f"got {type(loaded).__name__}")
    for key in ("model", "state_dict"):
        if isinstance(loaded.get(key), Mapping):
            state_dict = loaded[key]
            config = loaded.get("config")
            training = loaded.get("training") or {}
            break
    else:
        state_dict, config, training = loaded, None, {}
    state_dict = _strip_prefix(state_dict, "module.")
    if not all(isinstance(v, torch.Tensor) for v in state_dict.values()):
        raise ValueError(f"{path}: the state dict holds non-tensor values")
    if config is not None and not isinstance(config, Mapping):
        raise ValueError(f"{path}: checkpoint 'config' must be a dict of CLIPConfig fields")
    return state_dict, dict(config) if config else None, dict(training)


def build_model(state_dict: StateDict, config: Optional[Dict], vision_heads: Optional[int],
                text_heads: Optional[int], activation: str = "quick_gelu") -> CLIP:
    if config is None:
        return from_openai_state_dict(state_dict, vision_heads, text_heads, activation)
    model = CLIP(CLIPConfig.from_dict(config))
    model.load_state_dict({k: v.float() for k, v in state_dict.items()}, strict=True)
    return model.eval()


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--out", type=Path, required=True, help="bundle path (.pt)")
    parser.add_argument("--name", required=True, help="model name stored in the bundle")
    parser.add_argument("--merges", type=Path, default=clip_merges(),
                        help="BPE merges the model was trained with, plain or .gz "
                             "(default: CLIP's, third_party/clip)")
    parser.add_argument("--source", default="", help="provenance.source (URL, run id...)")
    parser.add_argument("--training-json", type=Path,
                        help="JSON object merged into provenance.training")
    parser.add_argument("--vision-heads", type=int, help="override width // 64")
    parser.add_argument("--text-heads", type=int, help="override width // 64")
    parser.add_argument("--activation", choices=("quick_gelu", "gelu"), default="quick_gelu",
                        help="for a plain state dict: OpenAI's quick_gelu, or gelu "
                             "(most open_clip weights)")
    parser.add_argument("--mean", type=float, nargs=3, default=list(CLIP_MEAN))
    parser.add_argument("--std", type=float, nargs=3, default=list(CLIP_STD))
    parser.add_argument("--background", type=int, nargs=3, default=list(DEFAULT_BACKGROUND),
                        help="RGB that transparent pixels are composited on")
    args = parser.parse_args(argv)

    state_dict, config, training = read_checkpoint(args.checkpoint)
    if args.training_json:
        training.update(json.loads(args.training_json.read_text()))
    model = build_model(state_dict, config, args.vision_heads, args.text_heads, args.activation)
    written = export_bundle(model, model.config, args.merges, args.out, args.name,
                            {"training": training, "source": args.source},
                            mean=args.mean, std=args.std, background=args.background)
    print(f"wrote {args.out}: embed_dim {written['embed_dim']}, "
          f"image {written['image']['size']} px, context {written['text']['context_length']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
