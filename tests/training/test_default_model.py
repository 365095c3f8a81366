"""The bundled default model (models/default.pt) through libcerebro equals its own
TorchScript module run by PyTorch, in float32, end to end: the eight sample pictures and
typed queries, the reference side preprocessed and tokenized by the training pipeline's
Python code (PIL, cerebro_train.tokenizer), independent of libcerebro's C. The bundle is
what every user runs first; a change to it (retraining, a calibration record) must still
load and compute as it was trained."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cerebro_train.evaluate import LibraryEncoder, TorchEncoder
from conftest import REPO

BUNDLE = REPO / "models" / "default.pt"
TEXTS = ["a frog", "a photo of a flamingo.", "An  OWL!", "zxqv blorp", "a strawberry",
         "the penguin that stands on the ice, looking at the sea under a grey winter sky"]


def test_bundled_model_equals_pytorch(tmp_path: Path) -> None:
    images = sorted(str(p) for p in (REPO / "examples" / "images").iterdir()
                    if p.suffix in (".jpg", ".png"))
    assert len(images) == 8, images
    reference = TorchEncoder(BUNDLE, tmp_path / "cache", threads=2, precision="fp32")
    library = LibraryEncoder(BUNDLE, threads=2, precision="fp32")
    # unit vectors; measured 2026-12-07: at most 1e-7 apart (libcerebro in bfloat16: 2e-3)
    np.testing.assert_allclose(library.images(images), reference.images(images), atol=1e-5)
    np.testing.assert_allclose(library.texts(TEXTS), reference.texts(TEXTS), atol=1e-5)
