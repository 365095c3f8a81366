"""SigLIP dual encoder (Zhai et al. 2023), as Hugging Face's SiglipModel lays it out.

Parameter names are SiglipModel's (vision_model.*, text_model.*, logit_scale,
logit_bias), so a Hugging Face state dict loads with `load_state_dict(strict=True)`
once its `position_ids` buffers are dropped.

- Image tower: a ViT without class token. A patch convolution (with bias) plus learned
  position embeddings, pre-norm encoder layers, a final LayerNorm, then a multihead
  attention pooling head: one learned probe query attends over the tokens
  (nn.MultiheadAttention's parameter names), followed by a LayerNorm + MLP residual;
  the pooled vector is the image embedding (no separate projection).
- Text tower: token + position embeddings, the same encoder layers without a causal
  mask (every position sees every other, padding included, as SigLIP was trained),
  a final LayerNorm, and the last position's vector through a linear head.

`encode_image` takes float32[N, 3, S, S]; `encode_text` takes int64[N, L] rows
padded to `context_length` (shorter rows are padded here with `pad_id`), and both
return unnormalised float32[N, embed_dim]. LayerNorm computes in float32 whatever
the weights' dtype (model.LayerNorm), so a bfloat16 copy works. TorchScript-scriptable.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .model import ConfigDict, LayerNorm, QuickGELU

KIND_SIGLIP = "siglip"

# SiglipConfig.activation values, Hugging Face's hidden_act names.
SIGLIP_ACTIVATIONS = ("gelu_pytorch_tanh", "gelu", "quick_gelu")


@dataclass
class SiglipConfig(ConfigDict):
    embed_dim: int
    image_size: int
    patch_size: int
    vision_width: int
    vision_layers: int
    vision_heads: int
    vision_mlp: int
    context_length: int
    vocab_size: int
    text_width: int
    text_layers: int
    text_heads: int
    text_mlp: int
    pad_id: int = 1
    layer_norm_eps: float = 1e-6
    activation: str = "gelu_pytorch_tanh"

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.name == "activation":
                if value not in SIGLIP_ACTIVATIONS:
                    raise ValueError(f"SiglipConfig.activation must be one of "
                                     f"{', '.join(SIGLIP_ACTIVATIONS)}, got {value!r}")
            elif field.name == "layer_norm_eps":
                if not isinstance(value, (int, float)) or isinstance(value, bool) \
                        or not value > 0:
                    raise ValueError(f"SiglipConfig.layer_norm_eps must be > 0, got {value!r}")
            elif field.name == "pad_id":
                if not isinstance(value, int) or not 0 <= value < self.vocab_size:
                    raise ValueError(f"SiglipConfig.pad_id {value!r} outside the vocabulary")
            elif not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"SiglipConfig.{field.name} must be a positive int, "
                                 f"got {value!r}")
        if self.image_size % self.patch_size:
            raise ValueError(f"image_size {self.image_size} is not a multiple of "
                             f"patch_size {self.patch_size}")
        for tower, width, heads in (("vision", self.vision_width, self.vision_heads),
                                    ("text", self.text_width, self.text_heads)):
            if width % heads:
                raise ValueError(f"{tower} width {width} not divisible by {heads} heads")
        if self.vision_width != self.embed_dim:
            raise ValueError(f"the image embedding is the pooled vision width "
                             f"{self.vision_width}; embed_dim is {self.embed_dim}")

    @property
    def num_patches(self) -> int:
        return (self.image_size // self.patch_size) ** 2



def _activation(name: str) -> nn.Module:
    if name == "gelu_pytorch_tanh":
        return nn.GELU(approximate="tanh")
    if name == "gelu":
        return nn.GELU()
    if name == "quick_gelu":
        return QuickGELU()
    raise ValueError(f"unknown activation {name!r}")


class SiglipMLP(nn.Module):
    def __init__(self, width: int, hidden: int, activation: str) -> None:
        super().__init__()
        self.fc1 = nn.Linear(width, hidden)
        self.act = _activation(activation)
        self.fc2 = nn.Linear(hidden, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class SiglipAttention(nn.Module):
    """Unmasked multi-head self-attention with separate q/k/v projections."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.head_width = width // heads
        self.q_proj = nn.Linear(width, width)
        self.k_proj = nn.Linear(width, width)
        self.v_proj = nn.Linear(width, width)
        self.out_proj = nn.Linear(width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, length, width = x.size(0), x.size(1), x.size(2)
        q = self.q_proj(x).reshape(n, length, self.heads, self.head_width).transpose(1, 2)
        k = self.k_proj(x).reshape(n, length, self.heads, self.head_width).transpose(1, 2)
        v = self.v_proj(x).reshape(n, length, self.heads, self.head_width).transpose(1, 2)
        scores = torch.matmul(q * (self.head_width ** -0.5), k.transpose(-2, -1))
        weights = scores.float().softmax(dim=-1).to(v.dtype)
        out = torch.matmul(weights, v).transpose(1, 2).reshape(n, length, width)
        return self.out_proj(out)


class SiglipEncoderLayer(nn.Module):
    def __init__(self, width: int, heads: int, mlp: int, eps: float, activation: str) -> None:
        super().__init__()
        self.layer_norm1 = LayerNorm(width, eps=eps)
        self.self_attn = SiglipAttention(width, heads)
        self.layer_norm2 = LayerNorm(width, eps=eps)
        self.mlp = SiglipMLP(width, mlp, activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.self_attn(self.layer_norm1(x))
        return x + self.mlp(self.layer_norm2(x))


class SiglipEncoder(nn.Module):
    def __init__(self, width: int, layers: int, heads: int, mlp: int, eps: float,
                 activation: str) -> None:
        super().__init__()
        self.layers = nn.ModuleList([SiglipEncoderLayer(width, heads, mlp, eps, activation)
                                     for _ in range(layers)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return x


class SiglipVisionEmbeddings(nn.Module):
    def __init__(self, config: SiglipConfig) -> None:
        super().__init__()
        self.patch_embedding = nn.Conv2d(3, config.vision_width, kernel_size=config.patch_size,
                                         stride=config.patch_size)
        self.position_embedding = nn.Embedding(config.num_patches, config.vision_width)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        x = self.patch_embedding(image.to(self.patch_embedding.weight.dtype))
        x = x.flatten(2).transpose(1, 2)
        return x + self.position_embedding.weight.to(x.dtype)


class PoolingAttention(nn.Module):
    """nn.MultiheadAttention's parameters (in_proj_weight = q, k, v stacked), one query."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.head_width = width // heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * width, width))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * width))
        self.out_proj = nn.Linear(width, width)

    def forward(self, query: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        n, length, width = x.size(0), x.size(1), x.size(2)
        w_q, w_k, w_v = self.in_proj_weight.chunk(3, dim=0)
        b_q, b_k, b_v = self.in_proj_bias.chunk(3, dim=0)
        q = F.linear(query, w_q, b_q).reshape(n, query.size(1), self.heads, self.head_width)
        k = F.linear(x, w_k, b_k).reshape(n, length, self.heads, self.head_width)
        v = F.linear(x, w_v, b_v).reshape(n, length, self.heads, self.head_width)
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
        scores = torch.matmul(q * (self.head_width ** -0.5), k.transpose(-2, -1))
        weights = scores.float().softmax(dim=-1).to(v.dtype)
        out = torch.matmul(weights, v).transpose(1, 2).reshape(n, query.size(1), width)
        return self.out_proj(out)


class SiglipPoolingHead(nn.Module):
    def __init__(self, config: SiglipConfig) -> None:
        super().__init__()
        width = config.vision_width
        self.probe = nn.Parameter(torch.empty(1, 1, width))
        self.attention = PoolingAttention(width, config.vision_heads)
        self.layernorm = LayerNorm(width, eps=config.layer_norm_eps)
        self.mlp = SiglipMLP(width, config.vision_mlp, config.activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        probe = self.probe.to(x.dtype).expand(x.size(0), 1, x.size(2))
        pooled = self.attention(probe, x)
        pooled = pooled + self.mlp(self.layernorm(pooled))
        return pooled[:, 0]


class SiglipVisionTransformer(nn.Module):
    def __init__(self, config: SiglipConfig) -> None:
        super().__init__()
        self.image_size = config.image_size
        self.embeddings = SiglipVisionEmbeddings(config)
        self.encoder = SiglipEncoder(config.vision_width, config.vision_layers,
                                     config.vision_heads, config.vision_mlp,
                                     config.layer_norm_eps, config.activation)
        self.post_layernorm = LayerNorm(config.vision_width, eps=config.layer_norm_eps)
        self.head = SiglipPoolingHead(config)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        if image.dim() != 4 or image.size(1) != 3 or image.size(2) != self.image_size \
                or image.size(3) != self.image_size:
            raise ValueError("encode_image expects [N, 3, {0}, {0}], got {1}".format(
                self.image_size, image.shape))
        x = self.post_layernorm(self.encoder(self.embeddings(image)))
        return self.head(x)


class SiglipTextEmbeddings(nn.Module):
    def __init__(self, config: SiglipConfig) -> None:
        super().__init__()
        self.token_embedding = nn.Embedding(config.vocab_size, config.text_width)
        self.position_embedding = nn.Embedding(config.context_length, config.text_width)

    def forward(self, text: torch.Tensor) -> torch.Tensor:
        x = self.token_embedding(text)
        return x + self.position_embedding.weight[:text.size(1)].to(x.dtype)


class SiglipTextTransformer(nn.Module):
    def __init__(self, config: SiglipConfig) -> None:
        super().__init__()
        self.context_length = config.context_length
        self.pad_id = config.pad_id
        self.embeddings = SiglipTextEmbeddings(config)
        self.encoder = SiglipEncoder(config.text_width, config.text_layers, config.text_heads,
                                     config.text_mlp, config.layer_norm_eps, config.activation)
        self.final_layer_norm = LayerNorm(config.text_width, eps=config.layer_norm_eps)
        self.head = nn.Linear(config.text_width, config.embed_dim)

    def forward(self, text: torch.Tensor) -> torch.Tensor:
        if text.dim() != 2:
            raise ValueError("encode_text expects [N, L] token ids, got {}".format(text.shape))
        length = text.size(1)
        if length < 1 or length > self.context_length:
            raise ValueError("encode_text: length {} outside 1..{}".format(
                length, self.context_length))
        if length < self.context_length:
            # The tower attends to padding too: rows must be padded as in training.
            pad = torch.full((text.size(0), self.context_length - length), self.pad_id,
                             dtype=text.dtype, device=text.device)
            text = torch.cat([text, pad], dim=1)
        x = self.final_layer_norm(self.encoder(self.embeddings(text)))
        return self.head(x[:, -1])


class SigLIP(nn.Module):
    """`forward(image, text)` returns (image embeddings, text embeddings), unnormalised.
    Scores are sigmoid(logit_scale.exp() * cos + logit_bias) in SigLIP; search only
    needs the cosine."""

    __jit_ignored_attributes__ = ["config"]

    def __init__(self, config: SiglipConfig) -> None:
        super().__init__()
        self.config = config
        self.context_length = config.context_length
        self.embed_dim = config.embed_dim
        self.vision_model = SiglipVisionTransformer(config)
        self.text_model = SiglipTextTransformer(config)
        # Shape [1], as Hugging Face's SiglipModel has them.
        self.logit_scale = nn.Parameter(torch.tensor([math.log(10.0)]))
        self.logit_bias = nn.Parameter(torch.tensor([-10.0]))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Small random weights (for tests and benchmarks; SigLIP is only imported)."""
        for name, param in self.named_parameters():
            if name in ("logit_scale", "logit_bias"):
                continue
            if "norm" in name:
                nn.init.ones_(param) if name.endswith("weight") else nn.init.zeros_(param)
            elif name.endswith("bias"):
                nn.init.zeros_(param)
            else:
                nn.init.normal_(param, std=0.02)

    @torch.jit.export
    def encode_image(self, image: torch.Tensor) -> torch.Tensor:
        """float32[N, 3, S, S] normalised pixels -> float32[N, embed_dim]."""
        return self.vision_model(image).float()

    @torch.jit.export
    def encode_text(self, text: torch.Tensor) -> torch.Tensor:
        """int64[N, L] ids padded with pad_id to context_length -> float32[N, embed_dim]."""
        return self.text_model(text).float()

    def forward(self, image: torch.Tensor, text: torch.Tensor):
        return self.encode_image(image), self.encode_text(text)
