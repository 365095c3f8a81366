"""Model bundles: a TorchScript archive that libcerebro loads (docs/bundle-format.md).

A bundle holds the scripted model (methods `encode_image`, `encode_text`) and two
extra files: `cerebro/config.json` (format v1) and the tokenizer's data: for
`text.tokenizer` "clip_bpe" `cerebro/merges.txt` (the BPE merges, in CLIP's text
format), for "sentencepiece" `cerebro/spm.model` (a SentencePiece model proto).
Images are resized by `image.resize`: "shortest_bicubic" (+ `image.crop` "center",
CLIP) or "squash_bicubic" (the whole image to S x S, `image.crop` "none", SigLIP).
"""

from __future__ import annotations

import copy
import datetime
import gzip
import json
import os
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple, Union

import torch
from torch import nn

from .model import CLIP, CLIPConfig

FORMAT = "cerebro-bundle"
FORMAT_VERSION = 1
CONFIG_FILE = "cerebro/config.json"
MERGES_FILE = "cerebro/merges.txt"
SPM_FILE = "cerebro/spm.model"
# config.json "relevance" bounds (lib/model/config.h, CB_CONFIG_RELEVANCE_*).
RELEVANCE_SLOPE_MAX = 4.0
RELEVANCE_THRESHOLD_RANGE = (0.5, 20.0)
RESIZE_CROPS = {"shortest_bicubic": "center", "squash_bicubic": "none"}
TOKENIZERS = ("clip_bpe", "sentencepiece")
POOLINGS = ("eot_argmax", "last")
MERGES_HEADER = "#version: 0.2"

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
CLIP_CONTEXT_LENGTH = 77
CLIP_VOCAB_SIZE = 49408
CLIP_IMAGE_SIZE = 224
DEFAULT_BACKGROUND = (255, 255, 255)

# Byte-level BPE vocabulary: 256 byte symbols, the same 256 with "</w>", the merges,
# then <start_of_text> and <end_of_text>. CLIP: 49408 = 512 + 48894 + 2.
BYTE_SYMBOLS = 512
SPECIAL_TOKENS = 2

MergesSource = Union[str, bytes, os.PathLike]


def merges_used(vocab_size: int) -> int:
    """How many merges a vocabulary of `vocab_size` tokens uses."""
    count = vocab_size - BYTE_SYMBOLS - SPECIAL_TOKENS
    if count < 0:
        raise ValueError(f"vocab_size {vocab_size} is below {BYTE_SYMBOLS + SPECIAL_TOKENS}")
    return count


def special_token_ids(vocab_size: int) -> Tuple[int, int]:
    """(sot_id, eot_id): the last two ids, as in CLIP (49406, 49407)."""
    merges_used(vocab_size)
    return vocab_size - 2, vocab_size - 1


def read_merges(source: MergesSource) -> str:
    """Merges text from a path (plain or .gz), from bytes, or from a str holding the
    text itself (any str with a newline); any other str is a path."""
    if isinstance(source, bytes):
        data = source
    elif isinstance(source, str) and "\n" in source:
        return source
    else:
        path = Path(source)
        data = path.read_bytes()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
    return data.decode("utf-8")


def trim_merges(text: str, vocab_size: int) -> str:
    """A '#version' header and the merges `vocab_size` uses, '\\n'-terminated lines.
    Like CLIP, the input's first line is a header and is skipped; CLIP's own file
    starts '"bpe_simple_vocab_16e6.txt#version: 0.2', so only '#version' is required."""
    lines = text.split("\n")
    if "#version" not in lines[0]:
        raise ValueError(f"merges text must start with a '#version' header line, "
                         f"got {lines[0][:40]!r}")
    needed = merges_used(vocab_size)
    merges = lines[1:1 + needed]
    if len(merges) < needed or any(len(m.split(" ")) != 2 for m in merges):
        bad = next((i for i, m in enumerate(merges) if len(m.split(" ")) != 2), len(merges))
        raise ValueError(f"vocab_size {vocab_size} needs {needed} merges of the form "
                         f"'left right'; merge line {bad + 2} is missing or malformed")
    return "\n".join([MERGES_HEADER] + merges) + "\n"


def utc_now_iso() -> str:
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    return now.isoformat().replace("+00:00", "Z")


def make_config(model_config: CLIPConfig, name: str,
                provenance: Optional[Mapping[str, Any]] = None,
                mean: Sequence[float] = CLIP_MEAN, std: Sequence[float] = CLIP_STD,
                background: Sequence[int] = DEFAULT_BACKGROUND,
                architecture: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
    """The config.json contents (format v1) for a model of `model_config`'s sizes.
    `architecture` replaces the default `{"kind": "clip_vit", **sizes}` record (e.g. a
    convolutional-stem variant, training/cerebro_train/arch.py)."""
    provenance = dict(provenance or {})
    sot_id, eot_id = special_token_ids(model_config.vocab_size)
    config = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "name": name,
        "embed_dim": model_config.embed_dim,
        "image": {
            "size": model_config.image_resolution,
            "mean": [float(v) for v in mean],
            "std": [float(v) for v in std],
            "resize": "shortest_bicubic",
            "crop": "center",
            "background": [int(v) for v in background],
        },
        "text": {
            "context_length": model_config.context_length,
            "tokenizer": "clip_bpe",
            "merges_file": MERGES_FILE,
            "vocab_size": model_config.vocab_size,
            "sot_id": sot_id,
            "eot_id": eot_id,
            "pad_id": 0,
            "variable_length": True,
            "lowercase": True,
        },
        "provenance": {
            "created": provenance.pop("created", None) or utc_now_iso(),
            "training": dict(provenance.pop("training", None) or {}),
            "source": str(provenance.pop("source", "")),
        },
        "architecture": dict(architecture) if architecture is not None
        else {"kind": "clip_vit", **model_config.to_dict()},
    }
    if provenance:
        raise ValueError(f"unknown provenance keys: {sorted(provenance)}")
    validate_config(config)
    return config


def openai_default_config(name: str = "openai-clip") -> Dict[str, Any]:
    """How a TorchScript archive without cerebro/config.json is read: OpenAI CLIP's
    preprocessing, fixed 77-token inputs, CLIP's vocabulary. embed_dim is 0 here;
    load_bundle fills it in by running encode_text once."""
    sot_id, eot_id = special_token_ids(CLIP_VOCAB_SIZE)
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "name": name,
        "embed_dim": 0,
        "image": {"size": CLIP_IMAGE_SIZE, "mean": list(CLIP_MEAN), "std": list(CLIP_STD),
                  "resize": "shortest_bicubic", "crop": "center",
                  "background": list(DEFAULT_BACKGROUND)},
        "text": {"context_length": CLIP_CONTEXT_LENGTH, "tokenizer": "clip_bpe",
                 "merges_file": None, "vocab_size": CLIP_VOCAB_SIZE, "sot_id": sot_id,
                 "eot_id": eot_id, "pad_id": 0, "variable_length": False, "lowercase": True},
        "provenance": {"created": "", "training": {}, "source": "openai-clip-jit"},
    }


def _require(section: Mapping[str, Any], key: str, kind: type, where: str) -> Any:
    if key not in section:
        raise ValueError(f"bundle config: missing {where}{key}")
    value = section[key]
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise ValueError(f"bundle config: {where}{key} must be an integer, got {value!r}")
    if kind is float and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise ValueError(f"bundle config: {where}{key} must be a number, got {value!r}")
    if kind not in (int, float) and not isinstance(value, kind):
        raise ValueError(f"bundle config: {where}{key} must be {kind.__name__}, got {value!r}")
    return value


def _require_numbers(section: Mapping[str, Any], key: str, where: str, count: int,
                     kind: type) -> None:
    values = _require(section, key, list, where)
    if len(values) != count:
        raise ValueError(f"bundle config: {where}{key} must have {count} entries")
    for i, value in enumerate(values):
        _require({f"{key}[{i}]": value}, f"{key}[{i}]", kind, where)


def validate_config(config: Mapping[str, Any]) -> None:
    """Raise ValueError naming the first field that breaks format v1 (as the C parser)."""
    if _require(config, "format", str, "") != FORMAT:
        raise ValueError(f"bundle config: format is {config['format']!r}, not {FORMAT!r}")
    version = _require(config, "format_version", int, "")
    if version != FORMAT_VERSION:
        raise ValueError(f"bundle config: format_version {version} unsupported "
                         f"(this reader knows {FORMAT_VERSION})")
    _require(config, "name", str, "")
    if _require(config, "embed_dim", int, "") < 1:
        raise ValueError("bundle config: embed_dim must be >= 1")

    image = _require(config, "image", dict, "")
    if _require(image, "size", int, "image.") < 1:
        raise ValueError("bundle config: image.size must be >= 1")
    _require_numbers(image, "mean", "image.", 3, float)
    _require_numbers(image, "std", "image.", 3, float)
    if any(s <= 0 for s in image["std"]):
        raise ValueError("bundle config: image.std entries must be > 0")
    resize = _require(image, "resize", str, "image.")
    if resize not in RESIZE_CROPS:
        raise ValueError(f"bundle config: image.resize {resize!r} unsupported")
    if _require(image, "crop", str, "image.") != RESIZE_CROPS[resize]:
        raise ValueError(f"bundle config: image.crop {image['crop']!r} unsupported with "
                         f"image.resize {resize!r} (needs {RESIZE_CROPS[resize]!r})")
    _require_numbers(image, "background", "image.", 3, int)
    if any(not 0 <= v <= 255 for v in image["background"]):
        raise ValueError("bundle config: image.background entries must be 0..255")

    text = _require(config, "text", dict, "")
    context = _require(text, "context_length", int, "text.")
    if context < 2:
        raise ValueError("bundle config: text.context_length must be >= 2")
    tokenizer = _require(text, "tokenizer", str, "text.")
    if tokenizer not in TOKENIZERS:
        raise ValueError(f"bundle config: text.tokenizer {tokenizer!r} unsupported")
    if "pooling" in text and text["pooling"] not in POOLINGS:
        raise ValueError(f"bundle config: text.pooling {text['pooling']!r} unsupported")
    if tokenizer == "sentencepiece":
        _validate_sentencepiece(text)
    else:
        _validate_clip_bpe(text)

    provenance = _require(config, "provenance", dict, "")
    _require(provenance, "created", str, "provenance.")
    _require(provenance, "training", dict, "provenance.")
    _require(provenance, "source", str, "provenance.")

    if "relevance" in config:
        relevance = _require(config, "relevance", dict, "")
        slope = _require(relevance, "size_slope", float, "relevance.")
        threshold = _require(relevance, "threshold", float, "relevance.")
        if not 0 <= slope <= RELEVANCE_SLOPE_MAX:
            raise ValueError(f"bundle config: relevance.size_slope {slope} not in "
                             f"0..{RELEVANCE_SLOPE_MAX}")
        if not RELEVANCE_THRESHOLD_RANGE[0] <= threshold <= RELEVANCE_THRESHOLD_RANGE[1]:
            raise ValueError(f"bundle config: relevance.threshold {threshold} not in "
                             f"{RELEVANCE_THRESHOLD_RANGE[0]}..{RELEVANCE_THRESHOLD_RANGE[1]}")


def _validate_sentencepiece(text: Mapping[str, Any]) -> None:
    if _require(text, "spm_file", str, "text.") != SPM_FILE:
        raise ValueError(f"bundle config: text.spm_file must be {SPM_FILE!r}")
    vocab = _require(text, "vocab_size", int, "text.")
    if vocab < 1:
        raise ValueError("bundle config: text.vocab_size must be >= 1")
    for key in ("pad_id", "eot_id"):
        if not 0 <= _require(text, key, int, "text.") < vocab:
            raise ValueError(f"bundle config: text.{key} outside 0..{vocab - 1}")
    sot_id = _require(text, "sot_id", int, "text.")
    if sot_id != -1 and not 0 <= sot_id < vocab:
        raise ValueError(f"bundle config: text.sot_id must be -1 or inside 0..{vocab - 1}")
    if _require(text, "variable_length", bool, "text."):
        raise ValueError("bundle config: text.variable_length must be false for "
                         "sentencepiece (rows are padded to context_length)")
    _require(text, "lowercase", bool, "text.")
    _require(text, "canonicalize", bool, "text.")


def _validate_clip_bpe(text: Mapping[str, Any]) -> None:
    if _require(text, "merges_file", str, "text.") != MERGES_FILE:
        raise ValueError(f"bundle config: text.merges_file must be {MERGES_FILE!r}")
    vocab = _require(text, "vocab_size", int, "text.")
    sot_id, eot_id = special_token_ids(vocab)
    if _require(text, "sot_id", int, "text.") != sot_id \
            or _require(text, "eot_id", int, "text.") != eot_id:
        raise ValueError(f"bundle config: text.sot_id/eot_id must be {sot_id}/{eot_id} "
                         f"for vocab_size {vocab}")
    if _require(text, "pad_id", int, "text.") != 0:
        raise ValueError("bundle config: text.pad_id must be 0")
    _require(text, "variable_length", bool, "text.")
    _require(text, "lowercase", bool, "text.")


def _as_float32_script(model: nn.Module) -> torch.jit.ScriptModule:
    if isinstance(model, torch.jit.ScriptModule):
        return model
    if any(p.dtype != torch.float32 for p in model.parameters()):
        model = copy.deepcopy(model).float()
    return torch.jit.script(model.eval())


def probe_tokens(text: Mapping[str, Any]) -> torch.Tensor:
    """One row of a bundle's tokenizer output for empty text: [sot,] eot, padded to
    context_length unless rows are variable-length."""
    ids = ([text["sot_id"]] if text.get("sot_id", -1) >= 0 else []) + [text["eot_id"]]
    if not text["variable_length"]:
        ids += [text["pad_id"]] * (text["context_length"] - len(ids))
    return torch.tensor([ids], dtype=torch.int64)


def _probe(module: torch.jit.ScriptModule, config: Mapping[str, Any]) -> None:
    """Run both methods once so a bundle that libcerebro cannot use is never written."""
    size, dim = config["image"]["size"], config["embed_dim"]
    tokens = probe_tokens(config["text"])
    with torch.no_grad():
        image_out = module.encode_image(torch.zeros(1, 3, size, size))
        text_out = module.encode_text(tokens)
    for what, out in (("encode_image", image_out), ("encode_text", text_out)):
        if tuple(out.shape) != (1, dim) or out.dtype != torch.float32:
            raise ValueError(f"{what} returned {out.dtype}{list(out.shape)}, "
                             f"config says float32[1, {dim}]")


def export_bundle(model: nn.Module, config: Optional[CLIPConfig], merges_path_or_text: MergesSource,
                  out_path: Union[str, os.PathLike], name: str,
                  provenance: Optional[Mapping[str, Any]] = None, *,
                  mean: Sequence[float] = CLIP_MEAN, std: Sequence[float] = CLIP_STD,
                  background: Sequence[int] = DEFAULT_BACKGROUND,
                  architecture: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
    """Script `model` (float32, eval) and write it with its config and merges to
    `out_path`. `config` defaults to `model.config`; `provenance` may hold "training"
    (dict), "source" (str) and "created" (ISO 8601, default now); `architecture`
    overrides the config's architecture record. Returns the config."""
    if config is None:
        config = model.config
    bundle_config = make_config(config, name, provenance, mean, std, background, architecture)
    merges = trim_merges(read_merges(merges_path_or_text), config.vocab_size)
    write_bundle(model, bundle_config, {MERGES_FILE: merges}, out_path)
    return bundle_config


def write_bundle(model: nn.Module, bundle_config: Mapping[str, Any],
                 extra_files: Mapping[str, Union[str, bytes]],
                 out_path: Union[str, os.PathLike]) -> None:
    """Validate `bundle_config`, script `model` (float32, eval), run both methods once,
    and write the archive with config.json and `extra_files` (the tokenizer's data)
    atomically to `out_path`."""
    validate_config(bundle_config)
    module = _as_float32_script(model)
    _probe(module, bundle_config)
    _save_archive(module, bundle_config, extra_files, out_path)


def _save_archive(module: torch.jit.ScriptModule, bundle_config: Mapping[str, Any],
                  extra_files: Mapping[str, Union[str, bytes]],
                  out_path: Union[str, os.PathLike]) -> None:
    """The archive: `module`, config.json and `extra_files`, written atomically."""
    out_path = Path(out_path)
    tmp_path = out_path.with_name(out_path.name + ".tmp")
    files: Dict[str, Union[str, bytes]] = {
        CONFIG_FILE: json.dumps(bundle_config, indent=2, sort_keys=False) + "\n"}
    files.update(extra_files)
    torch.jit.save(module, str(tmp_path), _extra_files=files)
    os.replace(tmp_path, out_path)


def set_relevance(path: Union[str, os.PathLike], size_slope: float, threshold: float,
                  measured: str) -> Dict[str, Any]:
    """Write a relevance calibration (docs/bundle-format.md, "relevance") into the bundle
    at `path`, in place and atomically: the module and every other extra file are kept
    as they are. The bundle's content hash, libcerebro's model id, changes with it, so
    stores made with the uncalibrated file are refused by the calibrated one: calibrate
    before indexing. Returns the new config."""
    extra = {CONFIG_FILE: "", MERGES_FILE: "", SPM_FILE: ""}
    module = torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
    if not extra[CONFIG_FILE]:
        raise ValueError(f"{path}: no {CONFIG_FILE} (an OpenAI JIT archive): export it as a "
                         "bundle first (training/export_bundle.py)")
    config = json.loads(extra[CONFIG_FILE].decode("utf-8"))
    config["relevance"] = {"size_slope": round(float(size_slope), 4),
                           "threshold": round(float(threshold), 4), "measured": measured}
    validate_config(config)
    _save_archive(module, config, {name: bytes(data) for name, data in extra.items()
                                   if name != CONFIG_FILE and data}, path)
    return config


def _openai_embed_dim(module: torch.jit.ScriptModule, text: Mapping[str, Any]) -> int:
    tokens = torch.zeros(1, text["context_length"], dtype=torch.int64)
    tokens[0, 0], tokens[0, 1] = text["sot_id"], text["eot_id"]
    try:
        with torch.no_grad():
            return int(module.encode_text(tokens).shape[-1])
    except RuntimeError as err:
        raise ValueError("archive without cerebro/config.json: encode_text failed on CPU "
                         "(OpenAI's JIT archives were traced on CUDA; export their state "
                         f"dict with training/export_bundle.py instead): {err}") from err


def load_bundle(path: Union[str, os.PathLike], merges_path: Optional[MergesSource] = None
                ) -> Tuple[torch.jit.ScriptModule, Dict[str, Any], Any]:
    """(scripted module on CPU, config dict, tokenizer data): the merges text for
    "clip_bpe" bundles, the SentencePiece model bytes for "sentencepiece" ones. An
    archive without cerebro/config.json is read as OpenAI CLIP JIT
    (openai_default_config); its merges come from `merges_path` (None if not given)."""
    extra = {CONFIG_FILE: "", MERGES_FILE: "", SPM_FILE: ""}
    module = torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
    for method in ("encode_image", "encode_text"):
        if not hasattr(module, method):
            raise ValueError(f"{path}: archive has no {method} method")
    if not extra[CONFIG_FILE]:
        merges = read_merges(merges_path) if merges_path is not None else None
        config = openai_default_config(Path(path).stem)
        config["embed_dim"] = _openai_embed_dim(module, config["text"])
        return module, config, merges
    config = json.loads(extra[CONFIG_FILE].decode("utf-8"))
    validate_config(config)
    if config["text"]["tokenizer"] == "sentencepiece":
        if not extra[SPM_FILE]:
            raise ValueError(f"{path}: bundle has no {SPM_FILE}")
        return module, config, bytes(extra[SPM_FILE])
    merges = extra[MERGES_FILE].decode("utf-8")
    trim_merges(merges, config["text"]["vocab_size"])
    return module, config, merges


def load_model_from_bundle(path: Union[str, os.PathLike]) -> nn.Module:
    """An eager (trainable) CLIP, or SigLIP, with a bundle's weights."""
    module, config, _ = load_bundle(path)
    arch = dict(config.get("architecture") or {})
    kind = arch.pop("kind", None)
    if kind == "siglip":
        from .siglip import SigLIP, SiglipConfig
        siglip = SigLIP(SiglipConfig.from_dict(arch))
        siglip.load_state_dict(module.state_dict(), strict=True)
        return siglip
    if kind != "clip_vit":
        raise ValueError(f"{path}: bundle has no clip_vit or siglip architecture record")
    model = CLIP(CLIPConfig.from_dict(arch))
    model.load_state_dict(module.state_dict(), strict=True)
    return model
