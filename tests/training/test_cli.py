"""The two command-line tools, run as the C tests and users run them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from cerebro_train.bundle import load_bundle
from cerebro_train.model import CLIP
from conftest import TRAINING, padded_tokens, synthetic_merges


def run_tool(script: str, *args: str) -> str:
    result = subprocess.run([sys.executable, str(TRAINING / script), *map(str, args)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return result.stdout


def read_tensor(directory: Path, entry: dict) -> np.ndarray:
    dtype = np.dtype(entry["dtype"]).newbyteorder("<")
    data = np.frombuffer((directory / entry["file"]).read_bytes(), dtype=dtype)
    return data.reshape(entry["shape"])


@pytest.fixture(scope="module")
def test_bundle(tmp_path_factory: pytest.TempPathFactory, clip_merges_path: Path):
    out = tmp_path_factory.mktemp("make")
    run_tool("make_test_bundle.py", "--preset", "tiny", "--seed", "3", "--out", out / "a.pt",
             "--merges", clip_merges_path, "--reference", out / "ref")
    return out


def test_make_test_bundle_writes_a_loadable_bundle(test_bundle: Path) -> None:
    module, config, merges = load_bundle(test_bundle / "a.pt")
    assert config["name"] == "test-tiny-seed3"
    assert config["provenance"]["training"] == {"kind": "random-init", "preset": "tiny",
                                                "seed": 3}
    assert config["text"]["variable_length"] is True
    assert len(merges.split("\n")) == 1 + 48894 + 1


@torch.no_grad()
def test_reference_outputs_reproduce(test_bundle: Path) -> None:
    ref = test_bundle / "ref"
    index = json.loads((ref / "reference.json").read_text())
    assert index["format"] == "cerebro-reference" and index["byte_order"] == "little"
    tensors = {name: read_tensor(ref, entry) for name, entry in index["tensors"].items()}
    assert tensors["images"].shape == (3, 3, 32, 32)
    assert tensors["tokens"].shape == (len(index["token_lengths"]), 77)
    assert index["token_lengths"][0] == 2 and index["token_lengths"][-1] == 77
    for row, length in zip(tensors["tokens"], index["token_lengths"]):
        assert row[0] == 49406 and row[length - 1] == 49407
        assert (row[length:] == 0).all() and (row[1:length - 1] < 49406).all()
    assert index["short_vs_padded_max_abs_diff"] <= 1e-5

    module, _, _ = load_bundle(index["bundle"])
    images = module.encode_image(torch.from_numpy(tensors["images"].copy()))
    text = module.encode_text(torch.from_numpy(tensors["tokens"].copy()))
    assert np.array_equal(images.numpy(), tensors["image_embeddings"])
    assert np.array_equal(text.numpy(), tensors["text_embeddings"])


def test_same_seed_same_bundle(test_bundle: Path, tmp_path: Path,
                               clip_merges_path: Path) -> None:
    run_tool("make_test_bundle.py", "--preset", "tiny", "--seed", "3", "--out", tmp_path / "b.pt",
             "--merges", clip_merges_path, "--reference", tmp_path / "ref")
    first, _, _ = load_bundle(test_bundle / "a.pt")
    second, _, _ = load_bundle(tmp_path / "b.pt")
    for (name, a), (_, b) in zip(first.state_dict().items(), second.state_dict().items()):
        assert torch.equal(a, b), name
    for name in ("images.f32", "tokens.i64", "image_embeddings.f32"):
        assert (tmp_path / "ref" / name).read_bytes() == (test_bundle / "ref" / name).read_bytes()


@torch.no_grad()
def test_export_bundle_from_openai_state_dict(tiny_model: CLIP, tmp_path: Path) -> None:
    state = {k: v.half() for k, v in tiny_model.state_dict().items()}
    state["context_length"] = torch.tensor(77)
    torch.save(state, tmp_path / "sd.pt")
    (tmp_path / "merges.txt").write_text(synthetic_merges(48894))
    (tmp_path / "training.json").write_text('{"dataset": "emoji"}')
    run_tool("export_bundle.py", tmp_path / "sd.pt", "--out", tmp_path / "b.pt",
             "--name", "from-sd", "--merges", tmp_path / "merges.txt",
             "--vision-heads", "4", "--text-heads", "4", "--source", "unit",
             "--training-json", tmp_path / "training.json")
    module, config, _ = load_bundle(tmp_path / "b.pt")
    assert config["name"] == "from-sd" and config["provenance"]["source"] == "unit"
    assert config["provenance"]["training"] == {"dataset": "emoji"}
    text = padded_tokens([[320, 1125]], 77)
    expected = CLIP(tiny_model.config)
    expected.load_state_dict({k: v.float() for k, v in state.items() if k != "context_length"})
    assert torch.allclose(module.encode_text(text), expected.encode_text(text), atol=1e-6)


@torch.no_grad()
def test_export_bundle_from_training_checkpoint(tiny_model: CLIP, tmp_path: Path) -> None:
    checkpoint = {
        "model": {f"module.{k}": v for k, v in tiny_model.state_dict().items()},
        "config": tiny_model.config.to_dict(),
        "training": {"steps": 10},
        "optimizer": {},
    }
    torch.save(checkpoint, tmp_path / "ckpt.pt")
    (tmp_path / "merges.txt").write_text(synthetic_merges(48894))
    run_tool("export_bundle.py", tmp_path / "ckpt.pt", "--out", tmp_path / "b.pt",
             "--name", "ckpt", "--merges", tmp_path / "merges.txt",
             "--mean", "0.5", "0.5", "0.5", "--std", "0.25", "0.25", "0.25")
    module, config, _ = load_bundle(tmp_path / "b.pt")
    assert config["architecture"]["transformer_heads"] == 4
    assert config["image"]["mean"] == [0.5] * 3 and config["image"]["std"] == [0.25] * 3
    assert config["provenance"]["training"] == {"steps": 10}
    image = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(6))
    assert torch.allclose(module.encode_image(image), tiny_model.encode_image(image), atol=1e-6)


@torch.no_grad()
def test_export_bundle_from_jit_archive(tiny_model: CLIP, tmp_path: Path) -> None:
    torch.jit.save(torch.jit.script(tiny_model), str(tmp_path / "jit.pt"))
    (tmp_path / "merges.txt").write_text(synthetic_merges(48894))
    run_tool("export_bundle.py", tmp_path / "jit.pt", "--out", tmp_path / "b.pt",
             "--name", "jit", "--merges", tmp_path / "merges.txt",
             "--vision-heads", "4", "--text-heads", "4")
    module, config, _ = load_bundle(tmp_path / "b.pt")
    assert config["text"]["variable_length"] is True
    text = padded_tokens([[320]], 77)
    assert torch.allclose(module.encode_text(text[:, :3]), tiny_model.encode_text(text),
                          atol=1e-5)
