"""cerebro.Model against the C library's own results and the PyTorch
reference outputs of the tiny fixture bundle."""

from __future__ import annotations

import json
import subprocess
import threading
from ctypes import POINTER, byref, c_int32, c_size_t
from pathlib import Path

import numpy as np
import pytest

import cerebro
from cerebro import _lib
from conftest import MERGES, built_tool


def reference(fixtures: Path, name: str) -> np.ndarray:
    ref = fixtures / "tiny-ref"
    meta = json.loads((ref / "reference.json").read_text())["tensors"][name]
    return np.fromfile(ref / meta["file"], dtype=meta["dtype"]).reshape(meta["shape"])


def normalized(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def test_properties(model: cerebro.Model, tiny: Path) -> None:
    assert model.config["format"] == "cerebro-bundle"
    assert model.dim == model.config["embed_dim"] == 64
    assert model.name == model.config["name"]
    assert model.context_length == model.config["text"]["context_length"]
    assert model.image_size == model.config["image"]["size"]
    assert len(model.id) == 64 and int(model.id, 16) >= 0
    assert str(tiny) in repr(model)


def c_tokenize(text: str, context_length: int) -> list[int]:
    """The C API called directly: a tokenizer opened from the CLIP merges file."""
    lib = _lib.lib()
    tok = POINTER(_lib.TokenizerHandle)()
    _lib.check(lib.cerebro_tokenizer_open(byref(tok), str(MERGES).encode()))
    try:
        raw = text.encode()
        buf, n = (c_int32 * 4096)(), c_size_t()
        _lib.check(lib.cerebro_tokenizer_encode(tok, raw, len(raw), context_length, buf, 4096, byref(n)))
        return list(buf[:n.value])
    finally:
        lib.cerebro_tokenizer_free(tok)


def test_tokenize_matches_the_c_tokenizer(model: cerebro.Model) -> None:
    texts = ["a snow leopard on rocks", "", "Café &amp; ÜBER  spaces", "<|endoftext|> x",
             "word " * 100]
    for text in texts:
        assert model.tokenize(text) == c_tokenize(text, 77), text
        assert model.tokenize(text, truncate=False) == c_tokenize(text, 0), text
    ids = model.tokenize("a photo")
    assert ids[0] == model.config["text"]["sot_id"] and ids[-1] == model.config["text"]["eot_id"]
    assert len(ids) == 4
    assert len(model.tokenize("word " * 100)) == 77
    assert len(model.tokenize("word " * 100, truncate=False)) == 102
    assert model.tokenize(b"a photo") == ids


def test_encode_tokens_matches_pytorch(model: cerebro.Model, fixtures: Path) -> None:
    tokens = reference(fixtures, "tokens")
    want = normalized(reference(fixtures, "text_embeddings"))
    got = model.encode_tokens(tokens)
    assert got.dtype == np.float32 and got.shape == want.shape
    np.testing.assert_allclose(got, want, atol=2e-5)


def test_encode_text_equals_the_tokens_path(model: cerebro.Model) -> None:
    texts = ["a snow leopard on rocks", "a dog", "word " * 100, ""]
    got = model.encode_text(texts)
    assert got.shape == (4, model.dim) and got.dtype == np.float32 and got.flags.c_contiguous
    for i, text in enumerate(texts):
        ids = model.tokenize(text)
        padded = ids + [model.config["text"]["pad_id"]] * (model.context_length - len(ids))
        np.testing.assert_allclose(got[i], model.encode_tokens([ids])[0], atol=1e-5)
        np.testing.assert_allclose(got[i], model.encode_tokens([padded])[0], atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1, atol=1e-5)
    assert model.encode_text([]).shape == (0, model.dim)


def test_encode_preprocessed_matches_pytorch(model: cerebro.Model, fixtures: Path) -> None:
    got = model.encode_preprocessed(reference(fixtures, "images"))
    np.testing.assert_allclose(got, normalized(reference(fixtures, "image_embeddings")), atol=2e-5)


@pytest.mark.parametrize("mode", ["exact", "fast"])
def test_preprocess_equals_the_c_example(model: cerebro.Model, photos: list[Path], tmp_path: Path,
                                         mode: str) -> None:
    tool = built_tool("CEREBRO_PREPROCESS", "cerebro-preprocess")
    out = tmp_path / "tensors.f32"
    s = model.image_size
    subprocess.run([tool, "--size", str(s), *(["--fast"] if mode == "fast" else []), "--out", str(out),
                    *map(str, photos)], check=True, stdout=subprocess.DEVNULL)
    want = np.fromfile(out, dtype=np.float32).reshape(len(photos), 3, s, s)
    for i, photo in enumerate(photos):
        got = model.preprocess(photo, mode=mode)
        assert got.shape == (3, s, s) and got.dtype == np.float32
        np.testing.assert_array_equal(got, want[i])
        np.testing.assert_array_equal(model.preprocess(photo.read_bytes(), mode=mode), want[i])


def test_encode_images_equals_preprocess_then_encode(model: cerebro.Model, photos: list[Path]) -> None:
    got, errors = model.encode_images(photos, mode="exact")
    assert errors == [] and got.shape == (len(photos), model.dim)
    want = model.encode_preprocessed(np.stack([model.preprocess(p, mode="exact") for p in photos]))
    np.testing.assert_allclose(got, want, atol=1e-5)
    np.testing.assert_allclose(model.encode_image(photos[0].read_bytes(), mode="exact"), want[0],
                               atol=1e-5)
    np.testing.assert_allclose(model.encode_image(str(photos[1]), mode="exact"), want[1], atol=1e-5)


def test_encode_images_reports_bad_files(model: cerebro.Model, photos: list[Path],
                                         tmp_path: Path) -> None:
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(photos[0].read_bytes()[:2000])
    text = tmp_path / "notes.jpg"
    text.write_text("not an image")
    missing = tmp_path / "missing.jpg"
    paths = [photos[0], missing, text, photos[1], truncated]
    vecs, errors = model.encode_images(paths)
    assert [e.index for e in errors] == [1, 2, 4]
    assert [e.status for e in errors] == [cerebro.Status.E_NOT_FOUND, cerebro.Status.E_FORMAT,
                                          cerebro.Status.E_CORRUPT]
    for e in errors:
        assert e.path == str(paths[e.index]) and str(paths[e.index]) in e.message
        assert not vecs[e.index].any()
    good, _ = model.encode_images([photos[0], photos[1]])
    np.testing.assert_allclose(vecs[[0, 3]], good, atol=1e-5)


def test_errors_carry_status_and_message(model: cerebro.Model, fixtures: Path, tmp_path: Path) -> None:
    cases = [("missing.pt", cerebro.NotFoundError), ("not-an-archive.pt", cerebro.FormatError),
             ("schema-v99.pt", cerebro.UnsupportedError), ("wrong-dim.pt", cerebro.MismatchError)]
    for name, cls in cases:
        with pytest.raises(cls) as info:
            cerebro.Model(fixtures / name)
        assert name in str(info.value) and name in info.value.message
        assert info.value.status == cls.status and isinstance(info.value, cerebro.Error)
    with pytest.raises(cerebro.NotFoundError, match="nowhere.jpg"):
        model.preprocess(tmp_path / "nowhere.jpg")
    with pytest.raises(cerebro.NotFoundError, match="nowhere.jpg"):
        model.encode_image(tmp_path / "nowhere.jpg")
    with pytest.raises(cerebro.FormatError, match="image buffer"):
        model.preprocess(b"definitely not an image")
    with pytest.raises(cerebro.InvalidError, match="invalid UTF-8 at byte 2"):
        model.tokenize(b"ab\xff")
    with pytest.raises(cerebro.InvalidError, match="texts\\[1\\]"):
        model.encode_text(["fine", "nul\0inside"])
    with pytest.raises(cerebro.InvalidError, match="outside the vocabulary"):
        model.encode_tokens([[49406, 10 ** 6, 49407]])
    with pytest.raises(cerebro.InvalidError, match="mode"):
        model.encode_images([fixtures / "photos" / "photo0.jpg"], mode="slow")
    with pytest.raises(cerebro.InvalidError, match="precision"):
        cerebro.Model(fixtures / "tiny.pt", precision="fp16")
    with pytest.raises(TypeError):
        model.encode_text("one string")
    # An OpenAI-style checkpoint without its own merges needs vocab=.
    with pytest.raises(cerebro.Error, match="openai-style.pt"):
        cerebro.Model(fixtures / "openai-style.pt")
    with cerebro.Model(fixtures / "openai-style.pt", vocab=MERGES) as m:
        assert m.tokenize("a dog") == model.tokenize("a dog")


def test_errors_are_thread_local(model: cerebro.Model, tmp_path: Path) -> None:
    """Each thread's exception names its own file: the message is read on
    the failing thread right after the call."""
    failures: dict[int, list[str]] = {i: [] for i in range(4)}

    def worker(i: int) -> None:
        for j in range(50):
            name = f"t{i}-{j}.jpg"
            try:
                model.preprocess(tmp_path / name)
            except cerebro.NotFoundError as e:
                if name not in str(e):
                    failures[i].append(str(e))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == {i: [] for i in range(4)}


def test_four_threads_share_a_model(model: cerebro.Model, photos: list[Path]) -> None:
    texts = ["a snow leopard", "a red car", "two dogs on a beach", "a bowl of soup"]
    want_text = model.encode_text(texts)
    want_img, _ = model.encode_images(photos)
    got: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            got[i] = [(model.encode_text(texts), model.encode_images(photos, workers=1)[0])
                      for _ in range(3)]
        except BaseException as e:  # reported below, not lost in the thread
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for results in got.values():
        for text, img in results:
            np.testing.assert_allclose(text, want_text, atol=1e-6)
            np.testing.assert_allclose(img, want_img, atol=1e-6)
    assert len(got) == 4
