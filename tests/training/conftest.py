"""Shared fixtures for the training package tests (run with Debian's /usr/bin/python3)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]
TRAINING = REPO / "training"
sys.path.insert(0, str(TRAINING))

from cerebro_train.model import CLIP, CLIPConfig  # noqa: E402
from cerebro_train.paths import clip_merges  # noqa: E402

# Keep the shared 2-core machine usable while tests run.
torch.set_num_threads(min(2, torch.get_num_threads()))


@pytest.fixture(scope="session")
def clip_merges_path() -> Path:
    path = clip_merges()
    if not path.is_file():
        pytest.fail(f"CLIP BPE file not found at {path} (third_party/clip, or $CEREBRO_MERGES)")
    return path


def synthetic_merges(count: int) -> str:
    """A merges text in CLIP's format with `count` distinct well-formed merges."""
    return "#version: 0.2\n" + "".join(f"m{i} x{i}</w>\n" for i in range(count))


def randomise(model: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Give every parameter (LayerNorm gains, biases too) distinct random values, so a
    tensor loaded into the wrong slot changes the output."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            noise = torch.randn(param.shape, generator=generator)
            if name.endswith("logit_scale"):
                continue
            if "ln_" in name and name.endswith(".weight"):
                param.copy_(1.0 + 0.1 * noise)
            else:
                param.add_(0.02 * noise)
    return model


@pytest.fixture(scope="session")
def tiny_model() -> CLIP:
    torch.manual_seed(0)
    return randomise(CLIP(CLIPConfig.tiny()), 1).eval()


@pytest.fixture(scope="session")
def vitb32_model() -> CLIP:
    torch.manual_seed(0)
    return CLIP(CLIPConfig.vitb32()).eval()


def padded_tokens(rows, context: int, sot: int = 49406, eot: int = 49407) -> torch.Tensor:
    """[sot, *row, eot] per row, zero-padded to `context`."""
    out = torch.zeros(len(rows), context, dtype=torch.int64)
    for i, row in enumerate(rows):
        ids = [sot, *row, eot]
        out[i, :len(ids)] = torch.tensor(ids)
    return out
