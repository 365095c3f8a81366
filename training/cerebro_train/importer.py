"""Import a pretrained CLIP or SigLIP checkpoint as a libcerebro bundle.

    cerebro-import SOURCE --out BUNDLE.pt [--name NAME] [--activation gelu|quick_gelu]
    python3 -m cerebro_train.import SOURCE --out BUNDLE.pt ...

SOURCE is recognised by its contents (docs/models.md):
- an OpenAI CLIP JIT archive (ViT-B-32.pt from OpenAI's release): QuickGELU;
- an OpenAI-layout state dict, as torch.save or .safetensors file: OpenAI CLIP's own
  weights, or an open_clip ViT checkpoint (open_clip_pytorch_model.bin,
  open_clip_model.safetensors, an open_clip training checkpoint). The file cannot tell
  which activation the model was trained with, so --activation is required;
- a Hugging Face CLIP folder (config.json with model_type "clip", model.safetensors or
  pytorch_model.bin, merges.txt): the activation is the config's hidden_act;
- a Hugging Face SigLIP folder (model_type "siglip", weights, spiece.model).

Every tensor must find its place in the model: an import that meets a key it cannot
place, or misses one it needs, names them and writes nothing.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import warnings
import zipfile
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import torch

from .bundle import (CLIP_MEAN, CLIP_STD, DEFAULT_BACKGROUND, FORMAT, FORMAT_VERSION,
                     MERGES_FILE, RESIZE_CROPS, SPM_FILE, read_merges, special_token_ids,
                     trim_merges, utc_now_iso, write_bundle)
from .model import ACTIVATIONS, CLIP, CLIPConfig, config_from_openai_state_dict
from .safetensors import read_safetensors
from .siglip import KIND_SIGLIP, SigLIP, SiglipConfig
from .spm import model_pieces

StateDict = Dict[str, torch.Tensor]

SIGLIP_MEAN = (0.5, 0.5, 0.5)
SIGLIP_STD = (0.5, 0.5, 0.5)

# Which open_clip pretrained weights were trained with which activation (open_clip's
# pretrained.py: a model name ending in -quickgelu sets quick_gelu in its config).
ACTIVATION_HELP = """\
An OpenAI-layout state dict does not record its activation; pass --activation:
  --activation quick_gelu  OpenAI's own weights (the ViT-*.pt files of
      github.com/openai/CLIP, open_clip's pretrained tag "openai" for any model), and
      every open_clip model whose name ends in -quickgelu, e.g.
      ViT-B-32-quickgelu (laion400m_e31, laion400m_e32, metaclip_400m, metaclip_fullcc;
      the laion400m weights are also listed under ViT-B-32, still QuickGELU),
      ViT-B-16-quickgelu (metaclip_400m, metaclip_fullcc, dfn2b),
      ViT-L-14-quickgelu (metaclip_400m, metaclip_fullcc, dfn2b),
      ViT-H-14-quickgelu (metaclip_fullcc, dfn5b), ViT-H-14-378-quickgelu (dfn5b),
      ViT-bigG-14-quickgelu (metaclip_fullcc).
  --activation gelu  the other open_clip ViT weights: the LAION-2B tags
      (laion2b_s34b_b79k, laion2b_s34b_b88k, laion2b_s32b_b82k, laion2b_s39b_b160k,
      laion2b_e16, ...), DataComp (datacomp_xl_s13b_b90k, datacomp_l_s1b_b8k, ...),
      CommonPool (commonpool_*), and laion400m_e31/e32 of ViT-B-16 and ViT-L-14.
If open_clip_config.json sits beside the checkpoint and its model_cfg says
"quick_gelu": true, the import uses QuickGELU without --activation."""


class ImportError_(ValueError):
    """A checkpoint that cannot be imported faithfully; the message says why."""


# ---------------------------------------------------------------------------- reading

def _is_torchscript(path: Path) -> bool:
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any("/code/" in name or name.endswith("constants.pkl")
                   for name in archive.namelist())


def _is_safetensors(path: Path) -> bool:
    with open(path, "rb") as f:
        head = f.read(9)
    if len(head) < 9:
        return False
    length = int.from_bytes(head[:8], "little")
    return head[8:9] == b"{" and 2 <= length <= path.stat().st_size - 8


def read_state_dict_file(path: Path) -> StateDict:
    """A state dict from a .safetensors file or a torch.save file (weights only); the
    state dict of an open_clip/training checkpoint under "state_dict" or "model", with
    a DistributedDataParallel "module." prefix removed."""
    if _is_safetensors(path):
        return read_safetensors(path)
    try:
        loaded = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 -- unpickling errors have many types
        raise ImportError_(f"{path}: not a safetensors file, a TorchScript archive or a "
                           f"weights-only torch.save file ({err})") from None
    if not isinstance(loaded, Mapping):
        raise ImportError_(f"{path}: holds a {type(loaded).__name__}, not a state dict")
    for key in ("state_dict", "model"):
        if isinstance(loaded.get(key), Mapping):
            loaded = loaded[key]
            break
    state = dict(loaded)
    if state and all(k.startswith("module.") for k in state):
        state = {k[len("module."):]: v for k, v in state.items()}
    bad = [k for k, v in state.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise ImportError_(f"{path}: entries that are not tensors: {', '.join(sorted(bad)[:10])}")
    return state


def read_folder_weights(folder: Path) -> StateDict:
    """model.safetensors (or its shards), else pytorch_model.bin (or its shards)."""
    for single, index in (("model.safetensors", "model.safetensors.index.json"),
                          ("pytorch_model.bin", "pytorch_model.bin.index.json")):
        if (folder / single).is_file():
            return read_state_dict_file(folder / single)
        if (folder / index).is_file():
            weight_map = json.loads((folder / index).read_text())["weight_map"]
            state: StateDict = {}
            for shard in sorted(set(weight_map.values())):
                if "/" in shard or shard.startswith("."):
                    raise ImportError_(f"{folder / index}: shard name {shard!r} leaves the folder")
                for key, value in read_state_dict_file(folder / shard).items():
                    if key in state:
                        raise ImportError_(f"{folder}: {key} is in two shards")
                    state[key] = value
            return state
    raise ImportError_(f"{folder}: no model.safetensors or pytorch_model.bin")


def detect(source: Path) -> str:
    """"openai_jit", "state_dict", "hf_clip" or "hf_siglip"."""
    if source.is_dir():
        config_path = source / "config.json"
        if not config_path.is_file():
            raise ImportError_(f"{source}: a folder without config.json is not a Hugging Face "
                               f"model folder")
        model_type = json.loads(config_path.read_text()).get("model_type")
        if model_type == "clip":
            return "hf_clip"
        if model_type == "siglip":
            return "hf_siglip"
        raise ImportError_(f"{config_path}: model_type {model_type!r}; this importer reads "
                           f"'clip' (CLIPModel) and 'siglip' (SiglipModel)")
    if not source.is_file():
        raise ImportError_(f"{source}: no such file or folder")
    if _is_torchscript(source):
        return "openai_jit"
    return "state_dict"


# ------------------------------------------------------------------------ placement

def _key_problems(label: str, given: Sequence[str], expected: Sequence[str]) -> None:
    unknown = sorted(set(given) - set(expected))
    missing = sorted(set(expected) - set(given))
    if unknown or missing:
        parts = []
        if unknown:
            parts.append(f"{len(unknown)} key(s) this importer cannot place: "
                         f"{', '.join(unknown[:20])}{' ...' if len(unknown) > 20 else ''}")
        if missing:
            parts.append(f"{len(missing)} key(s) the model needs are missing: "
                         f"{', '.join(missing[:20])}{' ...' if len(missing) > 20 else ''}")
        raise ImportError_(f"{label}: {'; '.join(parts)}; nothing was written")


def _load_strict(label: str, model: torch.nn.Module, state: StateDict) -> None:
    expected = model.state_dict()
    _key_problems(label, list(state), list(expected))
    for key, value in state.items():
        if tuple(value.shape) != tuple(expected[key].shape):
            raise ImportError_(f"{label}: {key} has shape {list(value.shape)}, the model "
                               f"built from the checkpoint's sizes needs "
                               f"{list(expected[key].shape)}")
    model.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)


def _drop_position_ids(label: str, state: StateDict) -> StateDict:
    """Hugging Face's position_ids buffers: accepted when they are 0..n-1."""
    out = {}
    for key, value in state.items():
        if key.endswith("embeddings.position_ids"):
            flat = value.reshape(-1)
            if not torch.equal(flat.long(), torch.arange(flat.numel())):
                raise ImportError_(f"{label}: {key} is not 0..{flat.numel() - 1}")
            continue
        out[key] = value
    return out


def _drop_causal_masks(label: str, state: StateDict) -> StateDict:
    """A JIT archive may keep the text tower's causal mask as a tensor (a module
    attribute or buffer); accepted when it is the causal mask the model builds."""
    out = {}
    for key, value in state.items():
        if key == "attn_mask" or key.endswith(".attn_mask"):
            n = value.shape[-1] if value.dim() == 2 else -1
            if n < 1 or value.shape[0] != n:
                raise ImportError_(f"{label}: {key} of shape {list(value.shape)} is not a mask")
            causal = torch.full((n, n), float("-inf")).triu(1)
            if not torch.equal(value.float(), causal):
                raise ImportError_(f"{label}: {key} is not the causal mask; unsupported")
            continue
        out[key] = value
    return out


OPENAI_NON_PARAMETERS = ("input_resolution", "context_length", "vocab_size")


def clip_from_openai(label: str, state: StateDict, activation: str,
                     vision_heads: Optional[int] = None,
                     text_heads: Optional[int] = None) -> CLIP:
    tensors = {k: v for k, v in state.items() if k not in OPENAI_NON_PARAMETERS}
    if "visual.conv1.weight" not in tensors or "visual.proj" not in tensors:
        _key_problems(label, list(tensors), [])  # names everything: nothing placeable
    try:
        config = config_from_openai_state_dict(tensors, vision_heads, text_heads, activation)
    except (KeyError, ValueError) as err:
        raise ImportError_(f"{label}: not an OpenAI-layout ViT CLIP state dict ({err})") from None
    model = CLIP(config)
    _load_strict(label, model, tensors)
    return model.eval()


def _hf_clip_to_openai(label: str, state: StateDict) -> StateDict:
    """Hugging Face CLIPModel names -> OpenAI's (q/k/v projections stacked)."""
    out: StateDict = {}
    left = dict(state)

    def take(key: str) -> torch.Tensor:
        if key not in left:
            raise ImportError_(f"{label}: missing {key}; nothing was written")
        return left.pop(key)

    simple = {
        "vision_model.embeddings.class_embedding": "visual.class_embedding",
        "vision_model.embeddings.patch_embedding.weight": "visual.conv1.weight",
        "vision_model.embeddings.position_embedding.weight": "visual.positional_embedding",
        "vision_model.pre_layrnorm.weight": "visual.ln_pre.weight",
        "vision_model.pre_layrnorm.bias": "visual.ln_pre.bias",
        "vision_model.post_layernorm.weight": "visual.ln_post.weight",
        "vision_model.post_layernorm.bias": "visual.ln_post.bias",
        "text_model.embeddings.token_embedding.weight": "token_embedding.weight",
        "text_model.embeddings.position_embedding.weight": "positional_embedding",
        "text_model.final_layer_norm.weight": "ln_final.weight",
        "text_model.final_layer_norm.bias": "ln_final.bias",
        "logit_scale": "logit_scale",
    }
    for hf, ours in simple.items():
        out[ours] = take(hf)
    out["visual.proj"] = take("visual_projection.weight").t().contiguous()
    out["text_projection"] = take("text_projection.weight").t().contiguous()
    layer = re.compile(r"(vision|text)_model\.encoder\.layers\.(\d+)\.")
    blocks = sorted({(m.group(1), int(m.group(2))) for k in left for m in [layer.match(k)] if m})
    for tower, i in blocks:
        hf = f"{tower}_model.encoder.layers.{i}."
        ours = f"{'visual.' if tower == 'vision' else ''}transformer.resblocks.{i}."
        for a, b in (("layer_norm1", "ln_1"), ("layer_norm2", "ln_2"),
                     ("mlp.fc1", "mlp.c_fc"), ("mlp.fc2", "mlp.c_proj"),
                     ("self_attn.out_proj", "attn.out_proj")):
            for p in ("weight", "bias"):
                out[f"{ours}{b}.{p}"] = take(f"{hf}{a}.{p}")
        for p in ("weight", "bias"):
            out[f"{ours}attn.in_proj_{p}"] = torch.cat(
                [take(f"{hf}self_attn.{q}_proj.{p}") for q in ("q", "k", "v")], dim=0)
    if left:
        _key_problems(label, list(left), [])
    return out


def _sub(config: Mapping[str, Any], key: str) -> Dict[str, Any]:
    value = config.get(key) or config.get(f"{key}_dict") or {}
    if not isinstance(value, Mapping):
        raise ImportError_(f"config.json: {key} is not an object")
    return dict(value)


def _one_activation(label: str, acts: Sequence[str], known: Sequence[str]) -> str:
    if len(set(acts)) != 1:
        raise ImportError_(f"{label}: the towers use different activations {sorted(set(acts))}; "
                           f"unsupported")
    if acts[0] not in known:
        raise ImportError_(f"{label}: hidden_act {acts[0]!r} unsupported (known: "
                           f"{', '.join(known)})")
    return acts[0]


def clip_from_hf(folder: Path, state: StateDict, config: Mapping[str, Any]) -> CLIP:
    label = str(folder)
    state = _drop_position_ids(label, state)
    text_cfg, vision_cfg = _sub(config, "text_config"), _sub(config, "vision_config")
    # Hugging Face's CLIPTextConfig / CLIPVisionConfig defaults where a field is absent.
    act = _one_activation(label, [text_cfg.get("hidden_act", "quick_gelu"),
                                  vision_cfg.get("hidden_act", "quick_gelu")], ACTIVATIONS)
    for name, cfg in (("text_config", text_cfg), ("vision_config", vision_cfg)):
        eps = cfg.get("layer_norm_eps", 1e-5)
        if abs(eps - 1e-5) > 1e-12:
            raise ImportError_(f"{label}: {name}.layer_norm_eps {eps} unsupported (CLIP: 1e-5)")
        width = cfg.get("hidden_size")
        inner = cfg.get("intermediate_size")
        if width and inner and inner != 4 * width:
            raise ImportError_(f"{label}: {name}.intermediate_size {inner} is not 4 x "
                               f"hidden_size {width}; unsupported")
    openai = _hf_clip_to_openai(label, state)
    return clip_from_openai(label, openai, act,
                            vision_heads=int(vision_cfg.get("num_attention_heads", 12)),
                            text_heads=int(text_cfg.get("num_attention_heads", 8)))


def siglip_from_hf(folder: Path, state: StateDict, config: Mapping[str, Any],
                   pad_id: int) -> SigLIP:
    label = str(folder)
    state = _drop_position_ids(label, state)
    text_cfg, vision_cfg = _sub(config, "text_config"), _sub(config, "vision_config")
    if vision_cfg.get("vision_use_head", True) is False:
        raise ImportError_(f"{label}: vision_use_head is false (no pooling head); unsupported")
    act = _one_activation(label, [text_cfg.get("hidden_act", "gelu_pytorch_tanh"),
                                  vision_cfg.get("hidden_act", "gelu_pytorch_tanh")],
                          ("gelu_pytorch_tanh", "gelu", "quick_gelu"))
    eps = {text_cfg.get("layer_norm_eps", 1e-6), vision_cfg.get("layer_norm_eps", 1e-6)}
    if len(eps) != 1:
        raise ImportError_(f"{label}: the towers use different layer_norm_eps; unsupported")

    def shape(key: str) -> List[int]:
        if key not in state:
            raise ImportError_(f"{label}: missing {key}; nothing was written")
        return list(state[key].shape)

    def count(prefix: str) -> int:
        pattern = re.compile(re.escape(prefix) + r"(\d+)\.")
        found = {int(m.group(1)) for k in state for m in [pattern.match(k)] if m}
        if found != set(range(len(found))):
            raise ImportError_(f"{label}: {prefix}* layer numbers not 0..n-1")
        return len(found)

    patch = shape("vision_model.embeddings.patch_embedding.weight")
    positions = shape("vision_model.embeddings.position_embedding.weight")[0]
    grid = int(round(math.sqrt(positions)))
    if grid * grid != positions or patch[1] != 3:
        raise ImportError_(f"{label}: {positions} vision positions / {patch[1]} input "
                           f"channels: not a square RGB image grid")
    siglip_config = SiglipConfig(
        embed_dim=shape("text_model.head.weight")[0],
        image_size=grid * patch[-1],
        patch_size=patch[-1],
        vision_width=patch[0],
        vision_layers=count("vision_model.encoder.layers."),
        vision_heads=int(vision_cfg.get("num_attention_heads", 12)),
        vision_mlp=shape("vision_model.encoder.layers.0.mlp.fc1.weight")[0],
        context_length=shape("text_model.embeddings.position_embedding.weight")[0],
        vocab_size=shape("text_model.embeddings.token_embedding.weight")[0],
        text_width=shape("text_model.embeddings.token_embedding.weight")[1],
        text_layers=count("text_model.encoder.layers."),
        text_heads=int(text_cfg.get("num_attention_heads", 12)),
        text_mlp=shape("text_model.encoder.layers.0.mlp.fc1.weight")[0],
        pad_id=pad_id,
        layer_norm_eps=float(eps.pop()),
        activation=act,
    )
    head_mlp = shape("vision_model.head.mlp.fc1.weight")[0]
    if head_mlp != siglip_config.vision_mlp:
        raise ImportError_(f"{label}: head MLP width {head_mlp} differs from the encoder's "
                           f"{siglip_config.vision_mlp}; unsupported")
    image_size = vision_cfg.get("image_size")
    if image_size is not None and image_size != siglip_config.image_size:
        raise ImportError_(f"{label}: vision_config.image_size {image_size} but the position "
                           f"embedding covers {siglip_config.image_size} px")
    # transformers keeps logit_scale/logit_bias as shape [1]; other converters as scalars.
    state = {k: (v.reshape(1) if k in ("logit_scale", "logit_bias") and v.numel() == 1 else v)
             for k, v in state.items()}
    model = SigLIP(siglip_config)
    _load_strict(label, model, state)
    return model.eval()


# ---------------------------------------------------------------------- preprocessing

def _preprocessor(folder: Path, size: int, squash: bool) -> Tuple[List[float], List[float]]:
    """mean/std from preprocessor_config.json (defaults: CLIP's, or SigLIP's 0.5), with
    a check that its sizes and resampling are what the bundle records."""
    mean, std = (list(SIGLIP_MEAN), list(SIGLIP_STD)) if squash else (list(CLIP_MEAN),
                                                                       list(CLIP_STD))
    path = folder / "preprocessor_config.json"
    if not path.is_file():
        return mean, std
    pre = json.loads(path.read_text())
    mean = [float(v) for v in pre.get("image_mean", mean)]
    std = [float(v) for v in pre.get("image_std", std)]
    if len(mean) != 3 or len(std) != 3:
        raise ImportError_(f"{path}: image_mean/image_std need 3 entries")
    if pre.get("resample", 3) != 3:
        print(f"note: {path}: resample {pre['resample']}; the bundle resizes bicubic "
              f"(3), as the model's training did not necessarily", file=sys.stderr)
    sizes = pre.get("size")
    if isinstance(sizes, Mapping):
        given = sizes.get("shortest_edge") or sizes.get("height")
        if given is not None and given != size:
            raise ImportError_(f"{path}: size {sizes} but the model takes {size} px")
    return mean, std


def _open_clip_preprocess(path: Path, size: int) -> Tuple[List[float], List[float], str,
                                                          Optional[bool]]:
    """mean, std, resize and model_cfg.quick_gelu from an open_clip_config.json beside a
    state dict file (open_clip's hub layout); OpenAI's defaults without one."""
    cfg_path = path.parent / "open_clip_config.json"
    if not cfg_path.is_file():
        return list(CLIP_MEAN), list(CLIP_STD), "shortest_bicubic", None
    cfg = json.loads(cfg_path.read_text())
    pre = cfg.get("preprocess_cfg") or {}
    model_cfg = cfg.get("model_cfg") or {}
    mean = [float(v) for v in pre.get("mean", CLIP_MEAN)]
    std = [float(v) for v in pre.get("std", CLIP_STD)]
    if pre.get("interpolation", "bicubic") != "bicubic":
        raise ImportError_(f"{cfg_path}: interpolation {pre['interpolation']!r}; the library "
                           f"resizes bicubic only")
    mode = pre.get("resize_mode", "shortest")
    resize = {"shortest": "shortest_bicubic", "squash": "squash_bicubic"}.get(mode)
    if resize is None:
        raise ImportError_(f"{cfg_path}: resize_mode {mode!r} unsupported")
    given = pre.get("size")
    if given is not None:
        given = given[0] if isinstance(given, list) else given
        if given != size:
            raise ImportError_(f"{cfg_path}: size {given} but the model takes {size} px")
    # Only an explicit true decides: open_clip's own model configs lack the key for
    # GELU models, and a pushed config may not carry the pretrained tag's QuickGELU.
    quick = True if model_cfg.get("quick_gelu") is True else None
    return mean, std, resize, quick


# --------------------------------------------------------------------------- tokenizer

def _clip_merges(folder: Optional[Path], vocab_size: int, default: Path) -> str:
    """The folder's merges.txt (checked against vocab.json) or CLIP's."""
    if folder is not None and (folder / "merges.txt").is_file():
        text = read_merges(folder / "merges.txt")
        vocab_path = folder / "vocab.json"
        if vocab_path.is_file():
            vocab = json.loads(vocab_path.read_text())
            sot, eot = special_token_ids(vocab_size)
            if vocab.get("<|startoftext|>") != sot or vocab.get("<|endoftext|>") != eot:
                raise ImportError_(f"{vocab_path}: <|startoftext|>/<|endoftext|> are not ids "
                                   f"{sot}/{eot}; not CLIP's vocabulary layout")
    else:
        text = read_merges(default)
    try:
        return trim_merges(text, vocab_size)
    except ValueError as err:
        raise ImportError_(f"{folder or default}: {err}") from None


def _siglip_tokenizer(folder: Path, context_length: int) -> Tuple[bytes, Dict[str, Any]]:
    spm_path = folder / "spiece.model"
    if not spm_path.is_file():
        raise ImportError_(f"{folder}: no spiece.model (the SentencePiece tokenizer)")
    data = spm_path.read_bytes()
    pieces = model_pieces(data, str(spm_path))
    ids = {piece: i for i, piece in reversed(list(enumerate(pieces)))}
    settings: Dict[str, Any] = {}
    for name in ("special_tokens_map.json", "tokenizer_config.json"):
        if (folder / name).is_file():
            settings.update(json.loads((folder / name).read_text()))

    def token_id(key: str, default: str) -> int:
        token = settings.get(key, default)
        if isinstance(token, Mapping):
            token = token.get("content")
        if token not in ids:
            raise ImportError_(f"{spm_path}: {key} {token!r} is not a piece of the model")
        return ids[token]

    # SiglipTokenizer's defaults: eos and pad "</s>", lower-casing on.
    text = {
        "context_length": context_length,
        "tokenizer": "sentencepiece",
        "spm_file": SPM_FILE,
        "vocab_size": len(pieces),
        "sot_id": -1,
        "eot_id": token_id("eos_token", "</s>"),
        "pad_id": token_id("pad_token", "</s>"),
        "variable_length": False,
        "lowercase": bool(settings.get("do_lower_case", True)),
        "canonicalize": True,
        "pooling": "last",
    }
    return data, text


# ------------------------------------------------------------------------------ import

def import_checkpoint(source: Path, out: Path, name: Optional[str] = None,
                      activation: Optional[str] = None, merges: Optional[Path] = None,
                      source_note: str = "") -> Dict[str, Any]:
    """Write the bundle for `source`; returns its config."""
    from .paths import clip_merges
    kind = detect(source)
    name = name or (source.name if source.is_dir() else source.stem)
    default_merges = merges or clip_merges()
    provenance = {"training": {"imported_from": kind}, "source": source_note or str(source)}

    if kind == "hf_siglip":
        config = json.loads((source / "config.json").read_text())
        text_cfg = _sub(config, "text_config")
        state = read_folder_weights(source)
        context = state.get("text_model.embeddings.position_embedding.weight")
        context_length = int(context.shape[0]) if context is not None \
            else int(text_cfg.get("max_position_embeddings", 64))
        spm_data, text = _siglip_tokenizer(source, context_length)
        if activation is not None:
            raise ImportError_(f"{source}: --activation is for OpenAI-layout state dicts; a "
                               f"SigLIP config names its own")
        model = siglip_from_hf(source, state, config, text["pad_id"])
        if text["vocab_size"] > model.config.vocab_size:
            raise ImportError_(f"{source}: spiece.model has {text['vocab_size']} pieces, the "
                               f"token embedding {model.config.vocab_size} rows")
        size = model.config.image_size
        mean, std = _preprocessor(source, size, squash=True)
        bundle_config = _config(name, model.config.embed_dim, size, mean, std,
                                "squash_bicubic", text,
                                {"kind": KIND_SIGLIP, **model.config.to_dict()}, provenance)
        write_bundle(model, bundle_config, {SPM_FILE: spm_data}, out)
        return bundle_config

    if kind == "hf_clip":
        if activation is not None:
            raise ImportError_(f"{source}: --activation is for OpenAI-layout state dicts; a "
                               f"Hugging Face config names its own (hidden_act)")
        config = json.loads((source / "config.json").read_text())
        model = clip_from_hf(source, read_folder_weights(source), config)
        mean, std = _preprocessor(source, model.config.image_resolution, squash=False)
        resize = "shortest_bicubic"
        merges_text = _clip_merges(source, model.config.vocab_size, default_merges)
    else:
        if kind == "openai_jit":
            if activation not in (None, "quick_gelu"):
                raise ImportError_(f"{source}: an OpenAI JIT archive is QuickGELU; "
                                   f"--activation {activation} contradicts it")
            activation = "quick_gelu"
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*TorchScript")
                state = dict(torch.jit.load(str(source), map_location="cpu").state_dict())
            state = _drop_causal_masks(str(source), state)
            mean, std, resize, quick = list(CLIP_MEAN), list(CLIP_STD), "shortest_bicubic", None
        else:
            state = read_state_dict_file(source)
            quick = None
        label = str(source)
        # Sizes first, so a wrong file is named before the activation question.
        probe_config = _openai_config_or_error(label, state)
        if kind == "state_dict":
            mean, std, resize, quick = _open_clip_preprocess(source,
                                                             probe_config.image_resolution)
        if activation is None:
            if quick is None:
                raise ImportError_(f"{source}: {ACTIVATION_HELP}")
            activation = "quick_gelu" if quick else "gelu"
        elif quick and activation != "quick_gelu":
            raise ImportError_(f"{source}: --activation {activation} contradicts "
                               f"open_clip_config.json (model_cfg.quick_gelu: true)")
        model = clip_from_openai(label, state, activation)
        merges_text = _clip_merges(None, model.config.vocab_size, default_merges)
    cfg = model.config
    sot, eot = special_token_ids(cfg.vocab_size)
    text = {"context_length": cfg.context_length, "tokenizer": "clip_bpe",
            "merges_file": MERGES_FILE, "vocab_size": cfg.vocab_size, "sot_id": sot,
            "eot_id": eot, "pad_id": 0, "variable_length": True, "lowercase": True}
    bundle_config = _config(name, cfg.embed_dim, cfg.image_resolution, mean, std, resize,
                            text, {"kind": "clip_vit", **cfg.to_dict()}, provenance)
    write_bundle(model, bundle_config, {MERGES_FILE: merges_text}, out)
    return bundle_config


def _openai_config_or_error(label: str, state: StateDict) -> CLIPConfig:
    tensors = {k: v for k, v in state.items() if k not in OPENAI_NON_PARAMETERS}
    if "visual.conv1.weight" not in tensors or "visual.proj" not in tensors:
        hint = ""
        if any(k.startswith(("vision_model.", "text_model.")) for k in tensors):
            hint = " (Hugging Face names: pass the model's folder, with its config.json)"
        raise ImportError_(f"{label}: not an OpenAI-layout ViT CLIP state dict: no "
                           f"visual.conv1.weight / visual.proj{hint}; first keys: "
                           f"{', '.join(sorted(tensors)[:8])}")
    try:
        return config_from_openai_state_dict(tensors)
    except (KeyError, ValueError) as err:
        raise ImportError_(f"{label}: not an OpenAI-layout ViT CLIP state dict ({err})") from None


def _config(name: str, embed_dim: int, size: int, mean: Sequence[float], std: Sequence[float],
            resize: str, text: Mapping[str, Any], architecture: Mapping[str, Any],
            provenance: Mapping[str, Any]) -> Dict[str, Any]:
    """config.json (format v1, docs/bundle-format.md); write_bundle validates it."""
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "name": name,
        "embed_dim": embed_dim,
        "image": {"size": size, "mean": [float(v) for v in mean],
                  "std": [float(v) for v in std], "resize": resize,
                  "crop": RESIZE_CROPS[resize], "background": list(DEFAULT_BACKGROUND)},
        "text": dict(text),
        "provenance": {"created": utc_now_iso(), "training": dict(provenance["training"]),
                       "source": str(provenance["source"])},
        "architecture": dict(architecture),
    }


def main(argv: Optional[List[str]] = None, prog: Optional[str] = None) -> int:
    parser = argparse.ArgumentParser(
        prog=prog or "python3 -m cerebro_train.import",
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 2)[2], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", type=Path,
                        help="checkpoint file (.pt, .bin, .safetensors) or Hugging Face folder")
    parser.add_argument("--out", type=Path, required=True, help="bundle to write (.pt)")
    parser.add_argument("--name", help="model name stored in the bundle (default: SOURCE's)")
    parser.add_argument("--activation", choices=ACTIVATIONS,
                        help="for OpenAI-layout state dicts: what the model was trained with")
    parser.add_argument("--merges", type=Path,
                        help="CLIP BPE merges for state dicts (default: CLIP's own)")
    parser.add_argument("--source-note", default="", help="provenance.source (URL, model id)")
    args = parser.parse_args(argv)
    try:
        config = import_checkpoint(args.source, args.out, args.name, args.activation,
                                   args.merges, args.source_note)
    except (ImportError_, ValueError, OSError) as err:
        print(f"{parser.prog}: {err}", file=sys.stderr)
        return 1
    arch = config["architecture"]
    print(f"wrote {args.out}: {arch['kind']}"
          f"{' ' + arch['activation'] if arch['kind'] == 'clip_vit' else ''}, "
          f"embed_dim {config['embed_dim']}, image {config['image']['size']} px "
          f"({config['image']['resize']}), tokenizer {config['text']['tokenizer']}, "
          f"context {config['text']['context_length']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
