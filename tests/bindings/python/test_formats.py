"""Every image format libcerebro reads, through the Python binding: each
sample (tests/format_samples.py: WebP, GIF, TIFF, BMP, HEIC, AVIF, JPEG XL)
preprocessed and encoded from its file and from its bytes gives what the
same picture as PNG gives: exactly for the lossless formats, closely for
the lossy ones."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

import cerebro

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from format_samples import FORMATS, write_sample  # noqa: E402


@pytest.fixture(scope="module")
def samples(photos: list[Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    out = tmp_path_factory.mktemp("formats")
    return {fmt: write_sample(fmt, photos[0], out, "photo", out) for fmt in FORMATS}


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_preprocess_and_encode(model: cerebro.Model, samples: dict[str, tuple[Path, Path]], fmt: str) -> None:
    path, png = samples[fmt]
    lossless = FORMATS[fmt][1]
    want = model.preprocess(png, mode="exact")
    got = model.preprocess(path, mode="exact")
    assert np.array_equal(model.preprocess(path.read_bytes(), mode="exact"), got), fmt
    assert np.array_equal(model.preprocess(bytearray(path.read_bytes()), mode="exact"), got), fmt
    if lossless:
        assert np.array_equal(got, want), (fmt, float(np.abs(got - want).max()))
    else:
        # Normalised values: one uint8 level is about 1/255/0.27 = 0.015.
        assert float(np.abs(got - want).mean()) < 0.05, (fmt, float(np.abs(got - want).mean()))

    vec = model.encode_image(path, mode="exact")
    assert np.allclose(model.encode_image(path.read_bytes(), mode="exact"), vec, atol=1e-6), fmt
    ref = model.encode_image(png, mode="exact")
    if lossless:
        assert np.allclose(vec, ref, atol=1e-5), fmt
    else:
        assert float(vec @ ref) > 0.98, (fmt, float(vec @ ref))


def test_batch_of_every_format(model: cerebro.Model, samples: dict[str, tuple[Path, Path]]) -> None:
    files = [samples[fmt][0] for fmt in FORMATS]
    vecs, errors = model.encode_images(files, mode="exact")
    assert errors == [], errors
    for fmt, row in zip(FORMATS, vecs):
        assert np.allclose(row, model.encode_image(samples[fmt][0], mode="exact"), atol=1e-5), fmt


def test_misnamed_and_not_an_image(model: cerebro.Model, samples: dict[str, tuple[Path, Path]],
                                   tmp_path: Path) -> None:
    """The bytes decide: a WebP named .jpg is a WebP; text named .heic is refused."""
    webp = tmp_path / "really-webp.jpg"
    webp.write_bytes(samples["webp"][0].read_bytes())
    assert np.array_equal(model.preprocess(webp, mode="exact"), model.preprocess(samples["webp"][1], mode="exact"))
    text = tmp_path / "notes.heic"
    text.write_text("not a picture\n")
    with pytest.raises(cerebro.FormatError, match="notes.heic.*not an image format libcerebro reads"):
        model.preprocess(text)
    with pytest.raises(cerebro.FormatError, match="not an image format libcerebro reads"):
        model.preprocess(b"not a picture either")
