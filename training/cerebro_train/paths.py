"""Where the workspace's shared data lives (CLIP's BPE merges, CIFAR-10).

The environment variable CEREBRO_SHARED_DATA wins; otherwise the `shared/data`
folder beside the repository, then /work/shared/data.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def shared_data() -> Path:
    env = os.environ.get("CEREBRO_SHARED_DATA")
    if env:
        return Path(env)
    for candidate in (REPO.parent / "shared" / "data", Path("/work/shared/data")):
        if candidate.is_dir():
            return candidate
    return REPO.parent / "shared" / "data"


def clip_merges() -> Path:
    """CLIP's bpe_simple_vocab_16e6.txt.gz."""
    return shared_data() / "clip" / "bpe_simple_vocab_16e6.txt.gz"


# The training pipeline's folders.
TRAINING = REPO / "training"


def default_data_dir() -> Path:
    """Downloads, manifests and pixel caches of `cerebro_train data` (git-ignored)."""
    return Path(os.environ.get("CEREBRO_TRAINING_DATA", TRAINING / "data"))


def default_runs_dir() -> Path:
    """Training runs: checkpoints, logs, bundles, reports (git-ignored)."""
    return TRAINING / "runs"
