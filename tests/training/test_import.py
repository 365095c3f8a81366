"""`cerebro_train.import`: every checkpoint family imports to a bundle whose embeddings
equal a PyTorch reference of that family's forward pass.

The references below are written here from each family's published architecture, with
each family's own module structure and parameter names, independently of
cerebro_train's model code: OpenAI CLIP's model.py (nn.MultiheadAttention on [L, N, D],
QuickGELU), open_clip's VisionTransformer/TextTransformer (batch-first attention, nn.GELU),
Hugging Face's CLIPModel and SiglipModel (separate q/k/v projections, their names).
Random weights, tiny sizes; the checkpoints are written in each family's file layout
(torch.save state dict, open_clip training checkpoint, Hugging Face folder with
safetensors or pytorch_model.bin, OpenAI JIT archive).
"""

from __future__ import annotations

import gzip
import io
import json
import math
import struct
import subprocess
import sys
from collections import OrderedDict
from pathlib import Path
from typing import Dict, Optional

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from conftest import REPO, TRAINING
from cerebro_train import importer
from cerebro_train.bundle import load_bundle
from cerebro_train.paths import clip_merges
from cerebro_train.safetensors import SafetensorsError, read_safetensors
from cerebro_train.spm import encode_rows, model_pieces

VOCAB = 1000          # CLIP-style vocabulary: CLIP's first 486 merges + specials
SOT, EOT = VOCAB - 2, VOCAB - 1
IMAGE = 32


# ----------------------------------------------------------------------- references

def quick_gelu(x: torch.Tensor) -> torch.Tensor:
    return x * torch.sigmoid(1.702 * x)


class QuickGELURef(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return quick_gelu(x)


class OpenAIBlock(nn.Module):
    """OpenAI model.py's ResidualAttentionBlock: [L, N, D] through nn.MultiheadAttention."""

    def __init__(self, width: int, heads: int, act: nn.Module, batch_first: bool) -> None:
        super().__init__()
        self.batch_first = batch_first
        self.attn = nn.MultiheadAttention(width, heads, batch_first=batch_first)
        self.ln_1 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(OrderedDict([("c_fc", nn.Linear(width, width * 4)),
                                              ("gelu", act),
                                              ("c_proj", nn.Linear(width * 4, width))]))
        self.ln_2 = nn.LayerNorm(width)

    def forward(self, x: torch.Tensor, mask: Optional[torch.Tensor]) -> torch.Tensor:
        y = self.ln_1(x)
        x = x + self.attn(y, y, y, need_weights=False, attn_mask=mask)[0]
        return x + self.mlp(self.ln_2(x))


class OpenAITransformer(nn.Module):
    def __init__(self, width: int, layers: int, heads: int, act, batch_first: bool) -> None:
        super().__init__()
        self.resblocks = nn.Sequential(*[OpenAIBlock(width, heads, act(), batch_first)
                                         for _ in range(layers)])

    def forward(self, x: torch.Tensor, mask: Optional[torch.Tensor]) -> torch.Tensor:
        for block in self.resblocks:
            x = block(x, mask)
        return x


class OpenAIVisual(nn.Module):
    def __init__(self, size, patch, width, layers, heads, out, act, batch_first) -> None:
        super().__init__()
        self.batch_first = batch_first
        self.conv1 = nn.Conv2d(3, width, patch, stride=patch, bias=False)
        self.class_embedding = nn.Parameter(torch.randn(width))
        self.positional_embedding = nn.Parameter(torch.randn((size // patch) ** 2 + 1, width))
        self.ln_pre = nn.LayerNorm(width)
        self.transformer = OpenAITransformer(width, layers, heads, act, batch_first)
        self.ln_post = nn.LayerNorm(width)
        self.proj = nn.Parameter(torch.randn(width, out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(x).reshape(x.shape[0], self.conv1.out_channels, -1).permute(0, 2, 1)
        cls = self.class_embedding + torch.zeros(x.shape[0], 1, x.shape[-1])
        x = self.ln_pre(torch.cat([cls, x], dim=1) + self.positional_embedding)
        if self.batch_first:                     # open_clip
            x = self.transformer(x, None)
        else:                                    # OpenAI: NLD -> LND -> NLD
            x = self.transformer(x.permute(1, 0, 2), None).permute(1, 0, 2)
        return self.ln_post(x[:, 0, :]) @ self.proj


class OpenAICLIPRef(nn.Module):
    """OpenAI CLIP (batch_first=False, QuickGELU) or open_clip's CLIP (batch_first=True,
    nn.GELU): the same parameter names."""

    def __init__(self, act, batch_first: bool, embed=48, vwidth=128, vlayers=2, patch=8,
                 twidth=64, tlayers=2, context=16) -> None:
        super().__init__()
        self.batch_first = batch_first
        self.visual = OpenAIVisual(IMAGE, patch, vwidth, vlayers, vwidth // 64, embed, act,
                                   batch_first)
        self.transformer = OpenAITransformer(twidth, tlayers, twidth // 64, act, batch_first)
        self.token_embedding = nn.Embedding(VOCAB, twidth)
        self.positional_embedding = nn.Parameter(torch.randn(context, twidth))
        self.ln_final = nn.LayerNorm(twidth)
        self.text_projection = nn.Parameter(torch.randn(twidth, embed))
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))
        mask = torch.full((context, context), float("-inf")).triu(1)
        self.register_buffer("attn_mask", mask, persistent=False)

    def encode_image(self, image: torch.Tensor) -> torch.Tensor:
        return self.visual(image)

    def encode_text(self, text: torch.Tensor) -> torch.Tensor:
        x = self.token_embedding(text) + self.positional_embedding
        if self.batch_first:
            x = self.transformer(x, self.attn_mask)
        else:
            x = self.transformer(x.permute(1, 0, 2), self.attn_mask).permute(1, 0, 2)
        x = self.ln_final(x)
        return x[torch.arange(x.shape[0]), text.argmax(dim=-1)] @ self.text_projection

    def forward(self, image: torch.Tensor, text: torch.Tensor):
        return self.encode_image(image), self.encode_text(text)


class HFAttention(nn.Module):
    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads, self.head_dim = heads, width // heads
        self.scale = self.head_dim ** -0.5
        self.q_proj, self.k_proj = nn.Linear(width, width), nn.Linear(width, width)
        self.v_proj, self.out_proj = nn.Linear(width, width), nn.Linear(width, width)

    def forward(self, x: torch.Tensor, mask: Optional[torch.Tensor]) -> torch.Tensor:
        b, n, d = x.shape

        def split(t):
            return t.view(b, n, self.heads, self.head_dim).transpose(1, 2)
        q, k, v = split(self.q_proj(x) * self.scale), split(self.k_proj(x)), split(self.v_proj(x))
        w = q @ k.transpose(-1, -2)
        if mask is not None:
            w = w + mask
        out = F.softmax(w, dim=-1, dtype=torch.float32).to(v.dtype) @ v
        return self.out_proj(out.transpose(1, 2).reshape(b, n, d))


class HFLayer(nn.Module):
    def __init__(self, width, heads, inner, act, eps) -> None:
        super().__init__()
        self.self_attn = HFAttention(width, heads)
        self.layer_norm1 = nn.LayerNorm(width, eps=eps)
        self.mlp = nn.Module()
        self.mlp.fc1, self.mlp.fc2 = nn.Linear(width, inner), nn.Linear(inner, width)
        self.act = act
        self.layer_norm2 = nn.LayerNorm(width, eps=eps)

    def forward(self, x, mask):
        x = x + self.self_attn(self.layer_norm1(x), mask)
        return x + self.mlp.fc2(self.act(self.mlp.fc1(self.layer_norm2(x))))


def hf_encoder(width, layers, heads, inner, act, eps) -> nn.Module:
    encoder = nn.Module()
    encoder.layers = nn.ModuleList([HFLayer(width, heads, inner, act, eps)
                                    for _ in range(layers)])
    return encoder


def hf_run(encoder, x, mask):
    for layer in encoder.layers:
        x = layer(x, mask)
    return x


HF_ACTS = {"quick_gelu": quick_gelu, "gelu": F.gelu,
           "gelu_pytorch_tanh": lambda x: F.gelu(x, approximate="tanh")}


class HFCLIPRef(nn.Module):
    """transformers' CLIPModel: names, pre_layrnorm, separate projections."""

    def __init__(self, hidden_act: str, embed=40, vwidth=32, vlayers=2, vheads=2, patch=8,
                 twidth=32, tlayers=2, theads=4, context=16) -> None:
        super().__init__()
        act = HF_ACTS[hidden_act]
        self.vision_model = nn.Module()
        emb = self.vision_model.embeddings = nn.Module()
        emb.class_embedding = nn.Parameter(torch.randn(vwidth))
        emb.patch_embedding = nn.Conv2d(3, vwidth, patch, stride=patch, bias=False)
        positions = (IMAGE // patch) ** 2 + 1
        emb.position_embedding = nn.Embedding(positions, vwidth)
        emb.register_buffer("position_ids", torch.arange(positions).unsqueeze(0))
        self.vision_model.pre_layrnorm = nn.LayerNorm(vwidth)
        self.vision_model.encoder = hf_encoder(vwidth, vlayers, vheads, 4 * vwidth, act, 1e-5)
        self.vision_model.post_layernorm = nn.LayerNorm(vwidth)
        self.text_model = nn.Module()
        temb = self.text_model.embeddings = nn.Module()
        temb.token_embedding = nn.Embedding(VOCAB, twidth)
        temb.position_embedding = nn.Embedding(context, twidth)
        temb.register_buffer("position_ids", torch.arange(context).unsqueeze(0))
        self.text_model.encoder = hf_encoder(twidth, tlayers, theads, 4 * twidth, act, 1e-5)
        self.text_model.final_layer_norm = nn.LayerNorm(twidth)
        self.visual_projection = nn.Linear(vwidth, embed, bias=False)
        self.text_projection = nn.Linear(twidth, embed, bias=False)
        self.logit_scale = nn.Parameter(torch.tensor(2.6592))
        self.sizes = dict(embed=embed, vwidth=vwidth, vlayers=vlayers, vheads=vheads,
                          patch=patch, twidth=twidth, tlayers=tlayers, theads=theads,
                          context=context, act=hidden_act)

    def encode_image(self, pixels):
        emb = self.vision_model.embeddings
        x = emb.patch_embedding(pixels).flatten(2).transpose(1, 2)
        x = torch.cat([emb.class_embedding.expand(x.shape[0], 1, -1), x], dim=1)
        x = x + emb.position_embedding(emb.position_ids)
        x = hf_run(self.vision_model.encoder, self.vision_model.pre_layrnorm(x), None)
        return self.visual_projection(self.vision_model.post_layernorm(x[:, 0, :]))

    def encode_text(self, ids):
        emb = self.text_model.embeddings
        n = ids.shape[1]
        x = emb.token_embedding(ids) + emb.position_embedding(emb.position_ids[:, :n])
        causal = torch.full((n, n), torch.finfo(x.dtype).min).triu(1)
        x = self.text_model.final_layer_norm(hf_run(self.text_model.encoder, x, causal))
        # eos_token_id 2 (legacy configs): the highest id, CLIP's end of text.
        return self.text_projection(x[torch.arange(x.shape[0]), ids.argmax(dim=-1)])

    def hf_config(self) -> Dict:
        s = self.sizes
        return {
            "architectures": ["CLIPModel"], "model_type": "clip", "projection_dim": s["embed"],
            "text_config": {"hidden_size": s["twidth"], "intermediate_size": 4 * s["twidth"],
                            "num_attention_heads": s["theads"],
                            "num_hidden_layers": s["tlayers"],
                            "max_position_embeddings": s["context"], "vocab_size": VOCAB,
                            "hidden_act": s["act"], "layer_norm_eps": 1e-5,
                            "eos_token_id": 2, "model_type": "clip_text_model"},
            "vision_config": {"hidden_size": s["vwidth"], "intermediate_size": 4 * s["vwidth"],
                              "num_attention_heads": s["vheads"],
                              "num_hidden_layers": s["vlayers"], "image_size": IMAGE,
                              "patch_size": s["patch"], "hidden_act": s["act"],
                              "layer_norm_eps": 1e-5, "model_type": "clip_vision_model"},
        }


class SiglipHeadRef(nn.Module):
    """SiglipMultiheadAttentionPoolingHead: a probe query through nn.MultiheadAttention."""

    def __init__(self, width, heads, inner, act, eps) -> None:
        super().__init__()
        self.probe = nn.Parameter(torch.randn(1, 1, width))
        self.attention = nn.MultiheadAttention(width, heads, batch_first=True)
        self.layernorm = nn.LayerNorm(width, eps=eps)
        self.mlp = nn.Module()
        self.mlp.fc1, self.mlp.fc2 = nn.Linear(width, inner), nn.Linear(inner, width)
        self.act = act

    def forward(self, x):
        probe = self.probe.repeat(x.shape[0], 1, 1)
        h = self.attention(probe, x, x)[0]
        h = h + self.mlp.fc2(self.act(self.mlp.fc1(self.layernorm(h))))
        return h[:, 0]


class HFSiglipRef(nn.Module):
    """transformers' SiglipModel."""

    def __init__(self, vocab: int, width=32, vlayers=2, vheads=2, vinner=48, patch=8,
                 tlayers=2, theads=4, tinner=56, context=12, eps=1e-6,
                 hidden_act="gelu_pytorch_tanh") -> None:
        super().__init__()
        act = HF_ACTS[hidden_act]
        self.vision_model = nn.Module()
        emb = self.vision_model.embeddings = nn.Module()
        emb.patch_embedding = nn.Conv2d(3, width, patch, stride=patch)
        positions = (IMAGE // patch) ** 2
        emb.position_embedding = nn.Embedding(positions, width)
        emb.register_buffer("position_ids", torch.arange(positions).unsqueeze(0))
        self.vision_model.encoder = hf_encoder(width, vlayers, vheads, vinner, act, eps)
        self.vision_model.post_layernorm = nn.LayerNorm(width, eps=eps)
        self.vision_model.head = SiglipHeadRef(width, vheads, vinner, act, eps)
        self.text_model = nn.Module()
        temb = self.text_model.embeddings = nn.Module()
        temb.token_embedding = nn.Embedding(vocab, width)
        temb.position_embedding = nn.Embedding(context, width)
        temb.register_buffer("position_ids", torch.arange(context).unsqueeze(0))
        self.text_model.encoder = hf_encoder(width, tlayers, theads, tinner, act, eps)
        self.text_model.final_layer_norm = nn.LayerNorm(width, eps=eps)
        self.text_model.head = nn.Linear(width, width)
        # transformers' SiglipModel: torch.randn(1), shape [1] (not scalars).
        self.logit_scale = nn.Parameter(torch.tensor([math.log(10.0)]))
        self.logit_bias = nn.Parameter(torch.tensor([-10.0]))
        self.sizes = dict(width=width, vlayers=vlayers, vheads=vheads, vinner=vinner,
                          patch=patch, tlayers=tlayers, theads=theads, tinner=tinner,
                          context=context, vocab=vocab, act=hidden_act, eps=eps)

    def encode_image(self, pixels):
        emb = self.vision_model.embeddings
        x = emb.patch_embedding(pixels).flatten(2).transpose(1, 2)
        x = x + emb.position_embedding(emb.position_ids)
        x = self.vision_model.post_layernorm(hf_run(self.vision_model.encoder, x, None))
        return self.vision_model.head(x)

    def encode_text(self, ids):
        emb = self.text_model.embeddings
        x = emb.token_embedding(ids) + emb.position_embedding(emb.position_ids[:, :ids.shape[1]])
        x = self.text_model.final_layer_norm(hf_run(self.text_model.encoder, x, None))
        return self.text_model.head(x[:, -1, :])

    def hf_config(self) -> Dict:
        s = self.sizes
        return {
            "architectures": ["SiglipModel"], "model_type": "siglip",
            "text_config": {"hidden_size": s["width"], "intermediate_size": s["tinner"],
                            "num_attention_heads": s["theads"],
                            "num_hidden_layers": s["tlayers"],
                            "max_position_embeddings": s["context"], "vocab_size": s["vocab"],
                            "hidden_act": s["act"], "layer_norm_eps": s["eps"],
                            "model_type": "siglip_text_model"},
            "vision_config": {"hidden_size": s["width"], "intermediate_size": s["vinner"],
                              "num_attention_heads": s["vheads"],
                              "num_hidden_layers": s["vlayers"], "image_size": IMAGE,
                              "patch_size": s["patch"], "hidden_act": s["act"],
                              "layer_norm_eps": s["eps"], "model_type": "siglip_vision_model"},
        }


def randomise(model: nn.Module, seed: int) -> nn.Module:
    """Distinct random values everywhere (LayerNorm gains around 1), so a tensor in the
    wrong place changes the output."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name in ("logit_scale", "logit_bias"):
                continue
            noise = torch.randn(p.shape, generator=g)
            is_norm = any(t in name for t in ("ln_", "norm", "layrnorm"))
            if is_norm and name.endswith("weight"):
                p.copy_(1.0 + 0.2 * noise)
            elif p.dim() >= 2 and not name.endswith("embedding.weight"):
                p.copy_(noise * p.shape[-1] ** -0.5 if p.dim() == 2 else noise * 0.1)
            else:
                p.copy_(0.3 * noise)
    return model.eval()


# ------------------------------------------------------------------------ file layouts

def write_safetensors_ref(tensors: Dict[str, torch.Tensor], path: Path) -> None:
    """The safetensors layout, written here independently of cerebro_train's writer."""
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        t = t.detach().contiguous()
        raw = t.numpy().tobytes() if t.dtype != torch.bfloat16 else \
            t.view(torch.int16).numpy().tobytes()
        dtype = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
                 torch.int64: "I64"}[t.dtype]
        header[name] = {"dtype": dtype, "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    data = json.dumps({"__metadata__": {"format": "pt"}, **header}).encode()
    path.write_bytes(struct.pack("<Q", len(data)) + data + b"".join(blobs))


def clip_merges_text() -> str:
    return gzip.decompress(clip_merges().read_bytes()).decode("utf-8")


def write_hf_clip(ref: HFCLIPRef, folder: Path, weights: str) -> Path:
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps(ref.hf_config()))
    state = ref.state_dict()
    if weights == "safetensors":
        write_safetensors_ref(state, folder / "model.safetensors")
    else:
        torch.save(state, folder / "pytorch_model.bin")
    lines = clip_merges_text().split("\n")
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(lines[1:VOCAB - 513]) + "\n")
    (folder / "vocab.json").write_text(json.dumps({"<|startoftext|>": SOT,
                                                   "<|endoftext|>": EOT}))
    (folder / "preprocessor_config.json").write_text(json.dumps({
        "crop_size": {"height": IMAGE, "width": IMAGE}, "do_center_crop": True,
        "image_mean": [0.48145466, 0.4578275, 0.40821073],
        "image_std": [0.26862954, 0.26130258, 0.27577711], "resample": 3,
        "size": {"shortest_edge": IMAGE}}))
    return folder


SPM_SENTENCES = ["a photo of a cat", "a dog on the beach", "two cats sleeping on a sofa",
                 "a red car parked near the house", "sunset over the mountains",
                 "people walking in the city at night", "a bowl of fruit on a table",
                 "snow on the trees in winter", "a child playing with a ball",
                 "the old bridge across the river"] * 20


@pytest.fixture(scope="module")
def spm_model() -> bytes:
    spm = pytest.importorskip("sentencepiece")
    out = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(SPM_SENTENCES), model_writer=out,
                                   vocab_size=60, model_type="unigram", pad_id=0, eos_id=1,
                                   unk_id=2, bos_id=-1, character_coverage=1.0,
                                   num_threads=1, minloglevel=2)
    return out.getvalue()


def write_hf_siglip(ref: HFSiglipRef, folder: Path, spm_model: bytes) -> Path:
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps(ref.hf_config()))
    write_safetensors_ref(ref.state_dict(), folder / "model.safetensors")
    (folder / "spiece.model").write_bytes(spm_model)
    (folder / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "SiglipTokenizer", "do_lower_case": True,
        "model_max_length": ref.sizes["context"], "eos_token": "</s>", "pad_token": "</s>",
        "unk_token": "<unk>"}))
    (folder / "preprocessor_config.json").write_text(json.dumps({
        "do_normalize": True, "do_rescale": True, "do_resize": True,
        "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5], "resample": 3,
        "rescale_factor": 1 / 255, "size": {"height": IMAGE, "width": IMAGE}}))
    return folder


# ------------------------------------------------------------------------- comparison

def images() -> torch.Tensor:
    return torch.randn(3, 3, IMAGE, IMAGE, generator=torch.Generator().manual_seed(7))


def clip_tokens(context: int = 16) -> torch.Tensor:
    g = torch.Generator().manual_seed(8)
    rows = torch.zeros(3, context, dtype=torch.int64)
    for i, n in enumerate((0, 5, context - 2)):
        rows[i, 0] = SOT
        rows[i, 1:1 + n] = torch.randint(0, SOT, (n,), generator=g)
        rows[i, 1 + n] = EOT
    return rows


def assert_matches(module, ref, pixels, tokens) -> None:
    """fp32: max |diff| <= 1e-4 on L2-normalised vectors; bf16: cosine >= 0.999."""
    with torch.no_grad():
        pairs = [(module.encode_image(pixels), ref.encode_image(pixels)),
                 (module.encode_text(tokens), ref.encode_text(tokens))]
        for got, want in pairs:
            assert got.dtype == torch.float32 and got.shape == want.shape
            diff = (F.normalize(got, dim=-1) - F.normalize(want, dim=-1)).abs().max().item()
            assert diff <= 1e-4, diff
        low = module.to(torch.bfloat16)
        for got, want in [(low.encode_image(pixels), pairs[0][1]),
                          (low.encode_text(tokens), pairs[1][1])]:
            cosine = F.cosine_similarity(got.float(), want, dim=-1).min().item()
            assert cosine >= 0.999, cosine


def run_import(source: Path, out: Path, *args: str) -> dict:
    status = importer.main([str(source), "--out", str(out), *args])
    assert status == 0
    module, config, _ = load_bundle(out)
    return config


# ---------------------------------------------------------------------------- families

def test_openai_state_dict_quickgelu(tmp_path: Path) -> None:
    torch.manual_seed(0)
    ref = randomise(OpenAICLIPRef(QuickGELURef, batch_first=False), 1)
    torch.save(ref.state_dict(), tmp_path / "ViT-tiny.pt")
    config = run_import(tmp_path / "ViT-tiny.pt", tmp_path / "b.pt", "--activation",
                        "quick_gelu")
    assert config["architecture"]["kind"] == "clip_vit"
    assert config["architecture"]["activation"] == "quick_gelu"
    assert config["image"]["resize"] == "shortest_bicubic" and config["image"]["crop"] == "center"
    assert config["text"]["tokenizer"] == "clip_bpe" and config["text"]["context_length"] == 16
    assert config["name"] == "ViT-tiny"
    assert_matches(torch.jit.load(str(tmp_path / "b.pt")), ref, images(), clip_tokens())


@pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning")
def test_openai_jit_archive(tmp_path: Path) -> None:
    torch.manual_seed(0)
    ref = randomise(OpenAICLIPRef(QuickGELURef, batch_first=False), 2)
    # OpenAI's archives are traced and keep three sizes as tensors in the state dict.
    ref.register_buffer("input_resolution", torch.tensor(IMAGE))
    ref.register_buffer("context_length", torch.tensor(16))
    ref.register_buffer("vocab_size", torch.tensor(VOCAB))
    traced = torch.jit.trace(ref, (images(), clip_tokens()), check_trace=False)
    traced.save(str(tmp_path / "ViT-jit.pt"))
    config = run_import(tmp_path / "ViT-jit.pt", tmp_path / "b.pt")
    assert config["architecture"]["activation"] == "quick_gelu"
    assert config["provenance"]["training"]["imported_from"] == "openai_jit"
    assert_matches(torch.jit.load(str(tmp_path / "b.pt")), ref, images(), clip_tokens())
    assert importer.main([str(tmp_path / "ViT-jit.pt"), "--out", str(tmp_path / "c.pt"),
                          "--activation", "gelu"]) == 1
    assert not (tmp_path / "c.pt").exists()


def test_open_clip_checkpoint_gelu(tmp_path: Path) -> None:
    torch.manual_seed(0)
    ref = randomise(OpenAICLIPRef(nn.GELU, batch_first=True), 3)
    # An open_clip training checkpoint: DDP names under "state_dict".
    torch.save({"epoch": 32, "name": "laion-run",
                "state_dict": {f"module.{k}": v for k, v in ref.state_dict().items()}},
               tmp_path / "epoch_32.pt")
    config = run_import(tmp_path / "epoch_32.pt", tmp_path / "b.pt", "--activation", "gelu")
    assert config["architecture"]["activation"] == "gelu"
    module = torch.jit.load(str(tmp_path / "b.pt"))
    assert_matches(module, ref, images(), clip_tokens())
    # The same weights built with the wrong activation differ: the choice matters.
    run_import(tmp_path / "epoch_32.pt", tmp_path / "q.pt", "--activation", "quick_gelu")
    wrong = torch.jit.load(str(tmp_path / "q.pt"))
    with torch.no_grad():
        a = F.normalize(wrong.encode_image(images()), dim=-1)
        b = F.normalize(ref.encode_image(images()), dim=-1)
    assert (a - b).abs().max() > 1e-3


def test_open_clip_safetensors_with_config(tmp_path: Path) -> None:
    """open_clip's hub layout: open_clip_model.safetensors + open_clip_config.json, whose
    model_cfg.quick_gelu and preprocess_cfg the importer reads."""
    torch.manual_seed(0)
    ref = randomise(OpenAICLIPRef(QuickGELURef, batch_first=True), 4)
    write_safetensors_ref(ref.state_dict(), tmp_path / "open_clip_model.safetensors")
    (tmp_path / "open_clip_config.json").write_text(json.dumps({
        "model_cfg": {"embed_dim": 48, "quick_gelu": True},
        "preprocess_cfg": {"mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25],
                           "interpolation": "bicubic", "resize_mode": "squash"}}))
    config = run_import(tmp_path / "open_clip_model.safetensors", tmp_path / "b.pt")
    assert config["architecture"]["activation"] == "quick_gelu"
    assert config["image"]["mean"] == [0.5] * 3 and config["image"]["std"] == [0.25] * 3
    assert config["image"]["resize"] == "squash_bicubic" and config["image"]["crop"] == "none"
    assert_matches(torch.jit.load(str(tmp_path / "b.pt")), ref, images(), clip_tokens())
    assert importer.main([str(tmp_path / "open_clip_model.safetensors"), "--out",
                          str(tmp_path / "c.pt"), "--activation", "gelu"]) == 1


@pytest.mark.parametrize("weights,act", [("safetensors", "quick_gelu"), ("bin", "gelu")])
def test_hf_clip_folder(tmp_path: Path, weights: str, act: str) -> None:
    torch.manual_seed(0)
    ref = randomise(HFCLIPRef(act), 5)
    folder = write_hf_clip(ref, tmp_path / "clip-vit-tiny", weights)
    config = run_import(folder, tmp_path / "b.pt")
    assert config["name"] == "clip-vit-tiny"
    assert config["architecture"]["activation"] == act
    assert config["architecture"]["vision_heads"] == 2
    assert config["architecture"]["transformer_heads"] == 4
    assert config["text"]["sot_id"] == SOT and config["text"]["eot_id"] == EOT
    module, _, merges = load_bundle(tmp_path / "b.pt")
    assert len(merges.split("\n")) == 1 + VOCAB - 514 + 1
    assert_matches(module, ref, images(), clip_tokens())


def test_hf_siglip_folder(tmp_path: Path, spm_model: bytes) -> None:
    spm = pytest.importorskip("sentencepiece")
    pieces = model_pieces(spm_model)
    torch.manual_seed(0)
    ref = randomise(HFSiglipRef(vocab=len(pieces) + 6), 6)
    folder = write_hf_siglip(ref, tmp_path / "siglip-tiny", spm_model)
    config = run_import(folder, tmp_path / "b.pt")
    assert config["architecture"]["kind"] == "siglip"
    assert config["image"] == {"size": IMAGE, "mean": [0.5] * 3, "std": [0.5] * 3,
                               "resize": "squash_bicubic", "crop": "none",
                               "background": [255, 255, 255]}
    assert config["text"] == {"context_length": 12, "tokenizer": "sentencepiece",
                              "spm_file": "cerebro/spm.model", "vocab_size": len(pieces),
                              "sot_id": -1, "eot_id": 1, "pad_id": 1,
                              "variable_length": False, "lowercase": True,
                              "canonicalize": True, "pooling": "last"}
    module, _, spm_bytes = load_bundle(tmp_path / "b.pt")
    assert spm_bytes == spm_model
    processor = spm.SentencePieceProcessor(model_proto=spm_bytes)
    assert processor.GetPieceSize() == len(pieces)
    assert [processor.IdToPiece(i) for i in range(len(pieces))] == pieces
    texts = ["A photo of a CAT!", "", "people, walking; in the city at night " * 4]
    tokens = encode_rows(processor, texts, config["text"])
    assert tokens.shape == (3, 12)
    assert tokens[0].tolist()[:len(processor.EncodeAsIds("a photo of a cat")) + 1] == \
        processor.EncodeAsIds("a photo of a cat") + [1]
    assert tokens[1].tolist() == [1] * 12 and tokens[2, -1].item() == 1
    assert_matches(module, ref, images(), tokens)
    # Rows shorter than the context are padded by the module itself.
    with torch.no_grad():
        full = torch.jit.load(str(tmp_path / "b.pt")).encode_text(tokens[:1])
        end = tokens[0].tolist().index(1) + 1
        assert end < 12
        short = torch.jit.load(str(tmp_path / "b.pt")).encode_text(tokens[:1, :end])
    assert torch.allclose(full, short, atol=1e-6)


# ------------------------------------------------------------------------------ errors

def test_state_dict_without_activation_lists_the_tags(tmp_path: Path, capsys) -> None:
    ref = randomise(OpenAICLIPRef(nn.GELU, batch_first=True), 9)
    torch.save(ref.state_dict(), tmp_path / "open_clip_pytorch_model.bin")
    assert importer.main([str(tmp_path / "open_clip_pytorch_model.bin"), "--out",
                          str(tmp_path / "b.pt")]) == 1
    err = capsys.readouterr().err
    assert "open_clip_pytorch_model.bin" in err and "--activation" in err
    for tag in ("openai", "-quickgelu", "laion400m_e32", "laion2b_s34b_b79k",
                "datacomp_xl_s13b_b90k"):
        assert tag in err
    assert not (tmp_path / "b.pt").exists()


def test_unknown_keys_are_named_and_nothing_written(tmp_path: Path, spm_model: bytes) -> None:
    ref = randomise(OpenAICLIPRef(nn.GELU, batch_first=True), 10)
    state = dict(ref.state_dict())
    state["visual.attn_pool.probe"] = torch.zeros(4)
    state["text.cls_emb"] = torch.zeros(4)
    torch.save(state, tmp_path / "coca.bin")
    with pytest.raises(importer.ImportError_, match=r"visual\.attn_pool\.probe") as err:
        importer.import_checkpoint(tmp_path / "coca.bin", tmp_path / "b.pt", activation="gelu")
    assert "text.cls_emb" in str(err.value)
    assert not (tmp_path / "b.pt").exists()
    # Hugging Face CLIP with a tensor that has no place, and one missing.
    hf = randomise(HFCLIPRef("gelu"), 11)
    folder = write_hf_clip(hf, tmp_path / "hf", "safetensors")
    state = read_safetensors(folder / "model.safetensors")
    state["vision_model.encoder.layers.0.self_attn.rel_pos"] = torch.zeros(2)
    write_safetensors_ref(state, folder / "model.safetensors")
    with pytest.raises(importer.ImportError_, match="rel_pos"):
        importer.import_checkpoint(folder, tmp_path / "b.pt")
    del state["vision_model.encoder.layers.0.self_attn.rel_pos"]
    del state["text_model.final_layer_norm.bias"]
    write_safetensors_ref(state, folder / "model.safetensors")
    with pytest.raises(importer.ImportError_, match="final_layer_norm.bias"):
        importer.import_checkpoint(folder, tmp_path / "b.pt")
    # SigLIP with an extra tensor.
    sig = randomise(HFSiglipRef(vocab=100), 12)
    sfolder = write_hf_siglip(sig, tmp_path / "sig", spm_model)
    state = read_safetensors(sfolder / "model.safetensors")
    state["vision_model.head.extra.weight"] = torch.zeros(3)
    write_safetensors_ref(state, sfolder / "model.safetensors")
    with pytest.raises(importer.ImportError_, match=r"vision_model\.head\.extra\.weight"):
        importer.import_checkpoint(sfolder, tmp_path / "b.pt")
    assert not (tmp_path / "b.pt").exists()


def _st(header: Dict, data: bytes = b"", length: Optional[int] = None) -> bytes:
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw) if length is None else length) + raw + data


@pytest.mark.parametrize("blob,message", [
    (b"\x01\x02", "too short"),
    (_st({}, length=1 << 40), "header length"),
    (_st({}, length=10 ** 7), "past the end"),
    (struct.pack("<Q", 3) + b"\xff\xfe{", "not UTF-8"),
    (struct.pack("<Q", 5) + b"[1,2]", "not a JSON object"),
    (struct.pack("<Q", 4) + b"{\"a\"", "not JSON"),
    (_st({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 4),
     "outside the 4-byte data buffer"),
    (_st({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, b"\0" * 8),
     "needs 12"),
    (_st({"a": {"dtype": "F8_E4M3", "shape": [1], "data_offsets": [0, 1]}}, b"\0"),
     "unsupported"),
    (_st({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
          "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, b"\0" * 12),
     "overlaps"),
    (_st({"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, b"\0" * 8),
     "belong to no tensor"),
    (_st({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 8),
     "belong to no tensor"),
    (_st({"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}, b"\0" * 4),
     "shape"),
    (_st({"a": {"dtype": "F32", "shape": [1]}}, b"\0" * 4), "exactly dtype"),
    (_st({"__metadata__": {"k": 1}}), "__metadata__"),
    (struct.pack("<Q", 19) + b'{"a":{},"a":{}}    ', "twice"),
])
def test_bad_safetensors_refused(tmp_path: Path, blob: bytes, message: str) -> None:
    path = tmp_path / "model.safetensors"
    path.write_bytes(blob)
    with pytest.raises(SafetensorsError, match=message) as err:
        read_safetensors(path)
    assert str(err.value).startswith(str(path))


def test_safetensors_dtypes_roundtrip(tmp_path: Path) -> None:
    tensors = {"f32": torch.randn(2, 3), "f16": torch.randn(4).half(),
               "bf16": torch.randn(3, 1).bfloat16(), "i64": torch.arange(5),
               "empty": torch.zeros(0, 3)}
    write_safetensors_ref({k: v for k, v in tensors.items() if k != "empty"},
                          tmp_path / "a.safetensors")
    back = read_safetensors(tmp_path / "a.safetensors")
    for name in ("f32", "f16", "bf16", "i64"):
        assert back[name].dtype == tensors[name].dtype and torch.equal(back[name], tensors[name])
    from cerebro_train.safetensors import write_safetensors
    write_safetensors(tensors, tmp_path / "b.safetensors")
    back = read_safetensors(tmp_path / "b.safetensors")
    assert all(torch.equal(back[k], v) for k, v in tensors.items())


def test_hf_folder_with_bad_safetensors(tmp_path: Path) -> None:
    folder = write_hf_clip(randomise(HFCLIPRef("gelu"), 13), tmp_path / "hf", "safetensors")
    data = bytearray((folder / "model.safetensors").read_bytes())
    data[:8] = struct.pack("<Q", len(data))
    (folder / "model.safetensors").write_bytes(bytes(data))
    assert importer.main([str(folder), "--out", str(tmp_path / "b.pt")]) == 1
    assert not (tmp_path / "b.pt").exists()


def test_command_lines(tmp_path: Path) -> None:
    """`python3 -m cerebro_train.import` and the installed launcher programs/cerebro-import."""
    ref = randomise(OpenAICLIPRef(QuickGELURef, batch_first=False), 14)
    torch.save(ref.state_dict(), tmp_path / "sd.pt")
    module_run = subprocess.run(
        [sys.executable, "-m", "cerebro_train.import", str(tmp_path / "sd.pt"), "--out",
         str(tmp_path / "a.pt"), "--activation", "quick_gelu", "--name", "cli"],
        cwd=TRAINING, capture_output=True, text=True, timeout=300)
    assert module_run.returncode == 0, module_run.stderr
    assert "wrote" in module_run.stdout and "quick_gelu" in module_run.stdout
    launcher = subprocess.run(
        [sys.executable, str(REPO / "programs" / "cerebro-import"), str(tmp_path / "sd.pt"),
         "--out", str(tmp_path / "b.pt")], capture_output=True, text=True, timeout=300)
    assert launcher.returncode == 1
    assert launcher.stderr.startswith("cerebro-import: ") and "--activation" in launcher.stderr
    assert not (tmp_path / "b.pt").exists()
