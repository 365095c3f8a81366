"""CLIP dual encoder (ViT image tower, causal transformer text tower).

Parameter names and shapes are OpenAI CLIP's ViT models, so an OpenAI state dict
loads with `from_openai_state_dict` and our checkpoints load in OpenAI's code.
Two things differ from OpenAI's modules, neither visible in the state dict:

- `encode_text` takes int64[N, L] for any 1 <= L <= context_length. The positional
  embedding and the causal mask are sliced to L, so the real tokens alone
  (start, words, end) give the vector the 77-padded input gives: the text tower
  is causal and pools the end-of-text position, so padding after it cannot
  change the output. The C library's search-as-you-type relies on this.
- Both encoders return float32 embeddings that are *not* L2-normalised; the
  C library (and the training loss) normalise.

LayerNorm always computes in float32 and casts back, so bfloat16 works both
under CPU autocast (training) and with a module cast to bfloat16 (inference).
The model is TorchScript-scriptable; `encode_image` and `encode_text` are
exported methods of the scripted module.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

# OpenAI CLIP's head width: its configs only give widths, heads = width // 64.
CLIP_HEAD_WIDTH = 64

# Entries OpenAI's JIT archives keep in their state dict that are not parameters.
_OPENAI_NON_PARAMETER_KEYS = ("input_resolution", "context_length", "vocab_size")

# CLIPConfig.activation values.
ACTIVATIONS = ("quick_gelu", "gelu")


class ConfigDict:
    """to_dict/from_dict for the model config dataclasses (CLIPConfig, SiglipConfig):
    a plain dict of the fields, and back with unknown fields refused."""

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]):
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown {cls.__name__} fields: {sorted(unknown)}")
        return cls(**values)


@dataclass
class CLIPConfig(ConfigDict):
    """Sizes of a CLIP model. Field names follow OpenAI's `build_model`."""

    embed_dim: int
    image_resolution: int
    vision_layers: int
    vision_width: int
    vision_patch_size: int
    context_length: int
    vocab_size: int
    transformer_width: int
    transformer_heads: int
    transformer_layers: int
    # None: vision_width // 64, OpenAI's rule.
    vision_heads: Optional[int] = None
    # The MLP nonlinearity both towers were trained with: "quick_gelu" (OpenAI's
    # x * sigmoid(1.702 x), and this project's models) or "gelu" (nn.GELU, exact erf:
    # open_clip's LAION/DataComp models and Hugging Face configs with hidden_act "gelu").
    activation: str = "quick_gelu"

    def __post_init__(self) -> None:
        if self.vision_heads is None:
            self.vision_heads = max(1, self.vision_width // CLIP_HEAD_WIDTH)
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"CLIPConfig.activation must be one of {', '.join(ACTIVATIONS)}, "
                             f"got {self.activation!r}")
        for field in dataclasses.fields(self):
            if field.name == "activation":
                continue
            value = getattr(self, field.name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"CLIPConfig.{field.name} must be a positive int, got {value!r}")
        if self.image_resolution % self.vision_patch_size:
            raise ValueError(
                f"image_resolution {self.image_resolution} is not a multiple of "
                f"vision_patch_size {self.vision_patch_size}")
        if self.vision_width % self.vision_heads:
            raise ValueError(f"vision_width {self.vision_width} not divisible by "
                             f"vision_heads {self.vision_heads}")
        if self.transformer_width % self.transformer_heads:
            raise ValueError(f"transformer_width {self.transformer_width} not divisible by "
                             f"transformer_heads {self.transformer_heads}")

    @property
    def grid_size(self) -> int:
        return self.image_resolution // self.vision_patch_size


    @classmethod
    def vitb32(cls) -> "CLIPConfig":
        """OpenAI's ViT-B/32."""
        return cls(embed_dim=512, image_resolution=224, vision_layers=12, vision_width=768,
                   vision_patch_size=32, context_length=77, vocab_size=49408,
                   transformer_width=512, transformer_heads=8, transformer_layers=12)

    @classmethod
    def tiny(cls) -> "CLIPConfig":
        """A few-hundred-kB model for tests; CLIP's real vocabulary and context."""
        return cls(embed_dim=64, image_resolution=32, vision_layers=2, vision_width=64,
                   vision_patch_size=8, context_length=77, vocab_size=49408,
                   transformer_width=64, transformer_heads=4, transformer_layers=2,
                   vision_heads=4)


class LayerNorm(nn.LayerNorm):
    """LayerNorm in float32 whatever the input dtype; returns the input dtype."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.layer_norm(x.float(), self.normalized_shape, self.weight.float(),
                         self.bias.float(), self.eps)
        return y.to(x.dtype)


class QuickGELU(nn.Module):
    """CLIP's GELU approximation x * sigmoid(1.702 x); the weights were trained with it."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(1.702 * x)


class SelfAttention(nn.Module):
    """Multi-head self-attention on batch-first [N, L, D] with nn.MultiheadAttention's
    parameter names (in_proj_weight holds q, k, v stacked in that order)."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.head_width = width // heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * width, width))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * width))
        self.out_proj = nn.Linear(width, width)

    def forward(self, x: torch.Tensor, mask: Optional[torch.Tensor]) -> torch.Tensor:
        n, length, width = x.size(0), x.size(1), x.size(2)
        qkv = F.linear(x, self.in_proj_weight, self.in_proj_bias)
        qkv = qkv.reshape(n, length, 3, self.heads, self.head_width).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        scores = torch.matmul(q * (self.head_width ** -0.5), k.transpose(-2, -1))
        if mask is not None:
            scores = scores + mask
        out = torch.matmul(scores.softmax(dim=-1), v)
        out = out.transpose(1, 2).reshape(n, length, width)
        return self.out_proj(out)


def activation_module(name: str) -> nn.Module:
    """The module for a CLIPConfig.activation value (no parameters, so state dicts of
    either kind have the same names)."""
    if name == "quick_gelu":
        return QuickGELU()
    if name == "gelu":
        return nn.GELU()
    raise ValueError(f"unknown activation {name!r}; known: {', '.join(ACTIVATIONS)}")


class MLP(nn.Module):
    def __init__(self, width: int, activation: str = "quick_gelu") -> None:
        super().__init__()
        self.c_fc = nn.Linear(width, 4 * width)
        self.gelu = activation_module(activation)
        self.c_proj = nn.Linear(4 * width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.c_proj(self.gelu(self.c_fc(x)))


class ResidualAttentionBlock(nn.Module):
    """Pre-norm transformer block."""

    def __init__(self, width: int, heads: int, activation: str = "quick_gelu") -> None:
        super().__init__()
        self.ln_1 = LayerNorm(width)
        self.attn = SelfAttention(width, heads)
        self.ln_2 = LayerNorm(width)
        self.mlp = MLP(width, activation)

    def forward(self, x: torch.Tensor, mask: Optional[torch.Tensor]) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x), mask)
        return x + self.mlp(self.ln_2(x))


class Transformer(nn.Module):
    def __init__(self, width: int, layers: int, heads: int,
                 activation: str = "quick_gelu") -> None:
        super().__init__()
        self.width = width
        self.layers = layers
        self.resblocks = nn.ModuleList([ResidualAttentionBlock(width, heads, activation)
                                        for _ in range(layers)])

    def forward(self, x: torch.Tensor, mask: Optional[torch.Tensor]) -> torch.Tensor:
        for block in self.resblocks:
            x = block(x, mask)
        return x

    def reset_parameters(self) -> None:
        """CLIP's scheme: residual-branch outputs shrink with depth."""
        attn_std = self.width ** -0.5
        proj_std = attn_std * (2 * self.layers) ** -0.5
        fc_std = (2 * self.width) ** -0.5
        for block in self.resblocks:
            nn.init.normal_(block.attn.in_proj_weight, std=attn_std)
            nn.init.zeros_(block.attn.in_proj_bias)
            nn.init.normal_(block.attn.out_proj.weight, std=proj_std)
            nn.init.zeros_(block.attn.out_proj.bias)
            nn.init.normal_(block.mlp.c_fc.weight, std=fc_std)
            nn.init.zeros_(block.mlp.c_fc.bias)
            nn.init.normal_(block.mlp.c_proj.weight, std=proj_std)
            nn.init.zeros_(block.mlp.c_proj.bias)


class VisionTransformer(nn.Module):
    def __init__(self, config: CLIPConfig) -> None:
        super().__init__()
        width = config.vision_width
        self.input_resolution = config.image_resolution
        self.conv1 = nn.Conv2d(3, width, kernel_size=config.vision_patch_size,
                               stride=config.vision_patch_size, bias=False)
        self.class_embedding = nn.Parameter(torch.empty(width))
        self.positional_embedding = nn.Parameter(torch.empty(config.grid_size ** 2 + 1, width))
        self.ln_pre = LayerNorm(width)
        self.transformer = Transformer(width, config.vision_layers, config.vision_heads,
                                       config.activation)
        self.ln_post = LayerNorm(width)
        self.proj = nn.Parameter(torch.empty(width, config.embed_dim))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        if image.dim() != 4 or image.size(1) != 3 or image.size(2) != self.input_resolution \
                or image.size(3) != self.input_resolution:
            raise ValueError("encode_image expects [N, 3, {0}, {0}], got {1}".format(
                self.input_resolution, image.shape))
        # The input dtype follows the weights, so float32 pixels feed a bfloat16 module.
        x = self.conv1(image.to(self.conv1.weight.dtype))
        x = x.flatten(2).transpose(1, 2)
        cls = self.class_embedding.to(x.dtype).expand(x.size(0), 1, x.size(2))
        x = torch.cat([cls, x], dim=1) + self.positional_embedding.to(x.dtype)
        x = self.transformer(self.ln_pre(x), None)
        return torch.matmul(self.ln_post(x[:, 0, :]), self.proj)

    def reset_parameters(self) -> None:
        scale = self.conv1.weight.size(0) ** -0.5
        nn.init.normal_(self.conv1.weight, std=(3 * self.conv1.weight[0, 0].numel()) ** -0.5)
        nn.init.normal_(self.class_embedding, std=scale)
        nn.init.normal_(self.positional_embedding, std=scale)
        nn.init.normal_(self.proj, std=scale)
        self.transformer.reset_parameters()


class CLIP(nn.Module):
    """`forward(image, text)` returns (image embeddings, text embeddings), unnormalised.
    `logit_scale` is the learned log temperature, as in CLIP."""

    __jit_ignored_attributes__ = ["config"]

    def __init__(self, config: CLIPConfig) -> None:
        super().__init__()
        self.config = config
        self.context_length = config.context_length
        self.embed_dim = config.embed_dim
        self.visual = VisionTransformer(config)
        self.token_embedding = nn.Embedding(config.vocab_size, config.transformer_width)
        self.positional_embedding = nn.Parameter(
            torch.empty(config.context_length, config.transformer_width))
        self.transformer = Transformer(config.transformer_width, config.transformer_layers,
                                       config.transformer_heads, config.activation)
        self.ln_final = LayerNorm(config.transformer_width)
        self.text_projection = nn.Parameter(
            torch.empty(config.transformer_width, config.embed_dim))
        self.logit_scale = nn.Parameter(torch.ones([]) * math.log(1 / 0.07))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.normal_(self.token_embedding.weight, std=0.02)
        nn.init.normal_(self.positional_embedding, std=0.01)
        self.visual.reset_parameters()
        self.transformer.reset_parameters()
        nn.init.normal_(self.text_projection, std=self.config.transformer_width ** -0.5)
        with torch.no_grad():
            self.logit_scale.fill_(math.log(1 / 0.07))

    @torch.jit.export
    def encode_image(self, image: torch.Tensor) -> torch.Tensor:
        """float32[N, 3, S, S] normalised pixels -> float32[N, embed_dim]."""
        return self.visual(image).float()

    @torch.jit.export
    def encode_text(self, text: torch.Tensor) -> torch.Tensor:
        """int64[N, L] token ids, 1 <= L <= context_length, each row holding one
        end-of-text token (the largest id) -> float32[N, embed_dim]. Rows may be padded
        after the end-of-text token with any smaller id; the output does not change."""
        if text.dim() != 2:
            raise ValueError("encode_text expects [N, L] token ids, got {}".format(text.shape))
        length = text.size(1)
        if length < 1 or length > self.context_length:
            raise ValueError("encode_text: length {} outside 1..{}".format(
                length, self.context_length))
        x = self.token_embedding(text)
        x = x + self.positional_embedding[:length].to(x.dtype)
        mask = torch.full((length, length), float("-inf"), dtype=x.dtype,
                          device=x.device).triu(1)
        x = self.ln_final(self.transformer(x, mask))
        eot = text.argmax(dim=-1)
        pooled = x[torch.arange(x.size(0), device=x.device), eot]
        return torch.matmul(pooled, self.text_projection.to(pooled.dtype)).float()

    def forward(self, image: torch.Tensor, text: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        return self.encode_image(image), self.encode_text(text)


def _count_blocks(state_dict: Mapping[str, torch.Tensor], prefix: str) -> int:
    pattern = re.compile(re.escape(prefix) + r"(\d+)\.")
    indices = {int(m.group(1)) for key in state_dict for m in [pattern.match(key)] if m}
    if indices != set(range(len(indices))):
        raise ValueError(f"{prefix}*: block indices not contiguous from 0: {sorted(indices)}")
    return len(indices)


def config_from_openai_state_dict(state_dict: Mapping[str, torch.Tensor],
                                  vision_heads: Optional[int] = None,
                                  transformer_heads: Optional[int] = None,
                                  activation: str = "quick_gelu") -> CLIPConfig:
    """Infer a CLIPConfig from tensor shapes. Head counts are not stored in a state
    dict; they default to width // 64 (every OpenAI and open_clip ViT follows this)."""
    if "visual.conv1.weight" not in state_dict or "visual.proj" not in state_dict:
        raise ValueError("not a ViT CLIP state dict (no visual.conv1.weight / visual.proj); "
                         "ModifiedResNet image towers are not supported")
    conv = state_dict["visual.conv1.weight"]
    vision_width, patch = conv.shape[0], conv.shape[-1]
    positions = state_dict["visual.positional_embedding"].shape[0] - 1
    grid = int(round(math.sqrt(positions)))
    if grid * grid != positions:
        raise ValueError(f"visual.positional_embedding has {positions} patch rows, not a square")
    transformer_width = state_dict["ln_final.weight"].shape[0]
    return CLIPConfig(
        embed_dim=state_dict["text_projection"].shape[1],
        image_resolution=grid * patch,
        vision_layers=_count_blocks(state_dict, "visual.transformer.resblocks."),
        vision_width=vision_width,
        vision_patch_size=patch,
        context_length=state_dict["positional_embedding"].shape[0],
        vocab_size=state_dict["token_embedding.weight"].shape[0],
        transformer_width=transformer_width,
        transformer_heads=transformer_heads or max(1, transformer_width // CLIP_HEAD_WIDTH),
        transformer_layers=_count_blocks(state_dict, "transformer.resblocks."),
        vision_heads=vision_heads or max(1, vision_width // CLIP_HEAD_WIDTH),
        activation=activation,
    )


def from_openai_state_dict(state_dict: Mapping[str, torch.Tensor],
                           vision_heads: Optional[int] = None,
                           transformer_heads: Optional[int] = None,
                           activation: str = "quick_gelu") -> CLIP:
    """Build a float32 CLIP from an OpenAI-format state dict (strict load). The state
    dict cannot tell the activation: OpenAI's weights are "quick_gelu", most open_clip
    ones "gelu"."""
    tensors = {k: v for k, v in state_dict.items() if k not in _OPENAI_NON_PARAMETER_KEYS}
    config = config_from_openai_state_dict(tensors, vision_heads, transformer_heads, activation)
    model = CLIP(config)
    model.load_state_dict({k: v.float() for k, v in tensors.items()}, strict=True)
    return model.eval()


def parameter_shapes(model: nn.Module) -> Dict[str, List[int]]:
    return {name: list(p.shape) for name, p in model.state_dict().items()}
