"""Bundle writer/reader: config v1, merges, OpenAI JIT fallback."""

from __future__ import annotations

import copy
import gzip
import json
import zipfile
from pathlib import Path

import pytest
import torch

from cerebro_train import bundle
from cerebro_train.bundle import (export_bundle, load_bundle, load_model_from_bundle,
                                  make_config, read_merges, trim_merges, validate_config)
from cerebro_train.model import CLIP, CLIPConfig
from conftest import padded_tokens, synthetic_merges

CLIP_MERGES = 48894


def test_clip_vocabulary_rule() -> None:
    assert bundle.merges_used(49408) == CLIP_MERGES
    assert bundle.special_token_ids(49408) == (49406, 49407)
    with pytest.raises(ValueError):
        bundle.merges_used(513)


@pytest.fixture(scope="module")
def exported(tiny_model: CLIP, tmp_path_factory: pytest.TempPathFactory):
    path = tmp_path_factory.mktemp("bundle") / "tiny.pt"
    merges = synthetic_merges(CLIP_MERGES + 10)
    written = export_bundle(tiny_model, tiny_model.config, merges, path, "tiny-test",
                            {"training": {"steps": 3}, "source": "unit test"},
                            background=(0, 128, 255))
    return path, written, merges


def test_roundtrip_config_and_merges(exported, tiny_model: CLIP) -> None:
    path, written, merges = exported
    module, config, merges_back = load_bundle(path)
    assert config == written
    assert config["format"] == "cerebro-bundle" and config["format_version"] == 1
    assert config["name"] == "tiny-test"
    assert config["embed_dim"] == 64
    assert config["image"] == {"size": 32, "mean": list(bundle.CLIP_MEAN),
                               "std": list(bundle.CLIP_STD), "resize": "shortest_bicubic",
                               "crop": "center", "background": [0, 128, 255]}
    assert config["text"] == {"context_length": 77, "tokenizer": "clip_bpe",
                              "merges_file": "cerebro/merges.txt", "vocab_size": 49408,
                              "sot_id": 49406, "eot_id": 49407, "pad_id": 0,
                              "variable_length": True, "lowercase": True}
    assert config["provenance"]["training"] == {"steps": 3}
    assert config["provenance"]["source"] == "unit test"
    assert config["provenance"]["created"].endswith("Z")
    assert config["architecture"] == {"kind": "clip_vit", **tiny_model.config.to_dict()}
    # Only the merges the vocabulary uses are stored, after a '#version' header.
    lines = merges_back.split("\n")
    assert lines[0] == "#version: 0.2" and lines[-1] == ""
    assert lines[1:-1] == merges.split("\n")[1:1 + CLIP_MERGES]


@torch.no_grad()
def test_roundtrip_outputs(exported, tiny_model: CLIP) -> None:
    module, _, _ = load_bundle(exported[0])
    image = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(4))
    text = padded_tokens([[320, 1125], []], 77)
    assert torch.allclose(module.encode_image(image), tiny_model.encode_image(image),
                          atol=1e-6, rtol=0)
    assert torch.allclose(module.encode_text(text), tiny_model.encode_text(text),
                          atol=1e-6, rtol=0)
    assert torch.allclose(module.encode_text(text[:1, :4]), tiny_model.encode_text(text[:1]),
                          atol=1e-5, rtol=0)


def test_extra_files_are_where_the_format_says(exported) -> None:
    with zipfile.ZipFile(exported[0]) as archive:
        names = archive.namelist()
        config_name = next(n for n in names if n.endswith("/extra/cerebro/config.json"))
        config = json.loads(archive.read(config_name))
    assert any(n.endswith("/extra/cerebro/merges.txt") for n in names)
    assert config["name"] == "tiny-test"


def test_load_model_from_bundle(exported, tiny_model: CLIP) -> None:
    model = load_model_from_bundle(exported[0])
    assert model.config == tiny_model.config
    for name, value in tiny_model.state_dict().items():
        assert torch.equal(model.state_dict()[name], value), name


def test_small_vocabulary_stores_fewer_merges(tmp_path: Path) -> None:
    config = CLIPConfig(embed_dim=16, image_resolution=16, vision_layers=1, vision_width=32,
                        vision_patch_size=8, context_length=16, vocab_size=600,
                        transformer_width=32, transformer_heads=2, transformer_layers=1)
    written = export_bundle(CLIP(config), None, synthetic_merges(1000), tmp_path / "b.pt",
                            "small")
    assert (written["text"]["sot_id"], written["text"]["eot_id"]) == (598, 599)
    module, _, merges = load_bundle(tmp_path / "b.pt")
    assert len(merges.split("\n")) == 1 + 86 + 1
    assert module.encode_text(torch.tensor([[598, 5, 599]])).shape == (1, 16)


def test_export_casts_a_bf16_model_to_float32(tiny_model: CLIP, tmp_path: Path) -> None:
    model = copy.deepcopy(tiny_model).bfloat16()
    export_bundle(model, None, synthetic_merges(CLIP_MERGES), tmp_path / "b.pt", "bf16")
    assert next(model.parameters()).dtype == torch.bfloat16
    module, _, _ = load_bundle(tmp_path / "b.pt")
    assert {p.dtype for p in module.parameters()} == {torch.float32}


def test_export_rejects_too_few_merges(tiny_model: CLIP, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="needs 48894 merges"):
        export_bundle(tiny_model, None, synthetic_merges(100), tmp_path / "b.pt", "x")
    assert not (tmp_path / "b.pt").exists()


def test_read_merges_sources(tmp_path: Path) -> None:
    text = synthetic_merges(5)
    (tmp_path / "m.txt").write_text(text)
    (tmp_path / "m.txt.gz").write_bytes(gzip.compress(text.encode()))
    assert read_merges(tmp_path / "m.txt") == text
    assert read_merges(str(tmp_path / "m.txt.gz")) == text
    assert read_merges(text) == text
    assert read_merges(text.encode()) == text


def test_trim_merges_checks_its_input() -> None:
    with pytest.raises(ValueError, match="#version"):
        trim_merges("a b\n" * 600, 600)
    with pytest.raises(ValueError, match="line 4"):
        trim_merges("#version: 0.2\na b\nc d\nbroken\n" + "e f\n" * 100, 600)


def test_real_clip_merges(clip_merges_path: Path) -> None:
    text = read_merges(clip_merges_path)
    trimmed = trim_merges(text, 49408).split("\n")
    assert trimmed[:3] == ["#version: 0.2", "i n", "t h"]
    assert len(trimmed) == 1 + CLIP_MERGES + 1
    # CLIP's last used merge (simple_tokenizer.py: merges[1:49152-256-2+1]).
    assert trimmed[-2] == text.split("\n")[CLIP_MERGES]


@pytest.mark.parametrize("path, value, message", [
    (("format_version",), 2, "format_version 2 unsupported"),
    (("format",), "other", "format"),
    (("embed_dim",), "64", "embed_dim must be an integer"),
    (("image", "mean"), [0.5, 0.5], "image.mean must have 3 entries"),
    (("image", "std"), [0.5, 0.0, 0.5], "std entries must be > 0"),
    (("image", "resize"), "bilinear", "image.resize"),
    (("image", "background"), [0, 0, 256], "0..255"),
    (("text", "eot_id"), 1, "sot_id/eot_id"),
    (("text", "variable_length"), 1, "variable_length must be bool"),
    (("provenance", "training"), "x", "provenance.training"),
])
def test_validate_config_rejects(path, value, message) -> None:
    config = make_config(CLIPConfig.tiny(), "t")
    validate_config(config)
    section = config
    for key in path[:-1]:
        section = section[key]
    section[path[-1]] = value
    with pytest.raises(ValueError, match=message):
        validate_config(config)


def test_validate_config_reports_missing_field() -> None:
    config = make_config(CLIPConfig.tiny(), "t")
    del config["text"]["context_length"]
    with pytest.raises(ValueError, match="missing text.context_length"):
        validate_config(config)


def test_openai_jit_fallback(tiny_model: CLIP, tmp_path: Path, clip_merges_path: Path) -> None:
    """An archive without cerebro/config.json reads with CLIP's defaults."""
    path = tmp_path / "ViT-B-32.pt"
    torch.jit.save(torch.jit.script(tiny_model), str(path))
    module, config, merges = load_bundle(path, merges_path=clip_merges_path)
    assert config["image"]["size"] == 224 and config["text"]["context_length"] == 77
    assert config["text"]["variable_length"] is False
    assert config["embed_dim"] == 64 and config["name"] == "ViT-B-32"
    assert config["image"]["mean"] == list(bundle.CLIP_MEAN)
    assert merges.startswith('"bpe_simple_vocab_16e6.txt#version')
    assert load_bundle(path)[2] is None
    assert module.encode_text(padded_tokens([[320]], 77)).shape == (1, 64)


def test_archive_without_methods_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "plain.pt"
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), str(path))
    with pytest.raises(ValueError, match="no encode_image"):
        load_bundle(path)
