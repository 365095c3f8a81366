"""Model presets and the convolutional-stem variant of the CLIP ViT.

An architecture is described by a JSON-able dict (stored in checkpoints and in the
bundle's `architecture` record):

- `{"kind": "clip_vit", **CLIPConfig}`: OpenAI's ViT CLIP (`model.CLIP`).
- `{"kind": "clip_vit_convstem", "stem_channels": [c1, ..., ck], **CLIPConfig}`: the same
  model whose patch embedding is a stack of k stride-2 3x3 convolutions (GroupNorm, GELU)
  followed by `visual.conv1` as a 1x1 projection to the transformer width ("Early
  convolutions help transformers see better", Xiao et al. 2021). 2**k must equal
  `vision_patch_size`, so the token grid is the same as the plain ViT's. Every other
  parameter keeps OpenAI's name and shape; the stem lives under `visual.stem.*`.

Both are TorchScript-scriptable and export to a bundle with `encode_image` /
`encode_text`; the C library does not care which one a bundle holds.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .model import CLIP, CLIPConfig, VisionTransformer

KIND_VIT = "clip_vit"
KIND_CONVSTEM = "clip_vit_convstem"


class GroupNorm32(nn.GroupNorm):
    """GroupNorm computed in float32 whatever the input dtype (bf16 autocast safe);
    batch-independent, so data-parallel runs match one-process runs."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.group_norm(x.float(), self.num_groups, self.weight.float(), self.bias.float(),
                         self.eps)
        return y.to(x.dtype)


class ConvStemVisionTransformer(VisionTransformer):
    """VisionTransformer whose patch embedding is a convolutional stem."""

    def __init__(self, config: CLIPConfig, stem_channels: Sequence[int]) -> None:
        super().__init__(config)
        if 2 ** len(stem_channels) != config.vision_patch_size:
            raise ValueError(f"{len(stem_channels)} stride-2 stem convolutions give stride "
                             f"{2 ** len(stem_channels)}, not vision_patch_size "
                             f"{config.vision_patch_size}")
        layers: List[nn.Module] = []
        previous = 3
        for channels in stem_channels:
            layers += [nn.Conv2d(previous, channels, 3, stride=2, padding=1, bias=False),
                       GroupNorm32(_groups(channels), channels), nn.GELU()]
            previous = channels
        self.stem = nn.Sequential(*layers)
        self.conv1 = nn.Conv2d(previous, config.vision_width, kernel_size=1, bias=False)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        if image.dim() != 4 or image.size(1) != 3 or image.size(2) != self.input_resolution \
                or image.size(3) != self.input_resolution:
            raise ValueError("encode_image expects [N, 3, {0}, {0}], got {1}".format(
                self.input_resolution, image.shape))
        x = self.stem(image.to(self.conv1.weight.dtype))
        x = self.conv1(x)
        x = x.flatten(2).transpose(1, 2)
        cls = self.class_embedding.to(x.dtype).expand(x.size(0), 1, x.size(2))
        x = torch.cat([cls, x], dim=1) + self.positional_embedding.to(x.dtype)
        x = self.transformer(self.ln_pre(x), None)
        return torch.matmul(self.ln_post(x[:, 0, :]), self.proj)

    def reset_parameters(self) -> None:
        super().reset_parameters()
        for module in self.stem.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
        nn.init.normal_(self.conv1.weight, std=self.conv1.weight.size(1) ** -0.5)


def _groups(channels: int) -> int:
    for groups in (8, 4, 2):
        if channels % groups == 0:
            return groups
    return 1


class ConvStemCLIP(CLIP):
    """CLIP with a convolutional-stem image tower."""

    def __init__(self, config: CLIPConfig, stem_channels: Sequence[int]) -> None:
        super().__init__(config)
        self.stem_channels = list(stem_channels)
        self.visual = ConvStemVisionTransformer(config, stem_channels)
        self.visual.reset_parameters()


def _small(**overrides: Any) -> Dict[str, Any]:
    """The default model's sizes: 64 px, 8x8 tokens, width 192 x 6 layers; text width
    128 x 4 layers over a 12,288-token vocabulary (11,774 CLIP merges), 32 tokens."""
    arch = dict(kind=KIND_VIT, embed_dim=192, image_resolution=64, vision_layers=6,
                vision_width=192, vision_patch_size=8, context_length=32, vocab_size=12288,
                transformer_width=128, transformer_heads=2, transformer_layers=4,
                vision_heads=3)
    arch.update(overrides)
    return arch


def _lite(**overrides: Any) -> Dict[str, Any]:
    """The default model, sized for a shared 2-core CPU: 64 px through a 4-layer conv stem
    (24, 48, 96, 128 channels, stride 16) to 4x4 tokens, width 128 x 4 layers; text width
    128 x 3 layers over a 12,288-token vocabulary, 32 tokens; 128-d embeddings. 3.2M
    parameters, a 13 MB bundle; about 2x `lite-s8`'s and 5x `small-vit`'s training
    throughput per CPU-second."""
    arch = dict(kind=KIND_CONVSTEM, stem_channels=[24, 48, 96, 128], embed_dim=128,
                image_resolution=64, vision_layers=4, vision_width=128, vision_patch_size=16,
                context_length=32, vocab_size=12288, transformer_width=128,
                transformer_heads=2, transformer_layers=3, vision_heads=2)
    arch.update(overrides)
    return arch


def _lite_s8() -> Dict[str, Any]:
    """`lite` with a 3-layer stem (32, 64, 128; stride 8): 8x8 tokens, half the speed."""
    return _lite(stem_channels=[32, 64, 128], vision_patch_size=8)


PRESETS: Dict[str, Callable[[], Dict[str, Any]]] = {
    "tiny": lambda: dict(kind=KIND_CONVSTEM, stem_channels=[16, 32], embed_dim=32,
                         image_resolution=32, vision_layers=1, vision_width=32,
                         vision_patch_size=4, context_length=16, vocab_size=1024,
                         transformer_width=32, transformer_heads=1, transformer_layers=1,
                         vision_heads=1),
    "lite": _lite,
    "lite-s8": _lite_s8,
    "small-vit": _small,
    "small": lambda: _small(kind=KIND_CONVSTEM, stem_channels=[48, 96, 192]),
    "base-64": lambda: dict(kind=KIND_CONVSTEM, stem_channels=[64, 128, 256], embed_dim=256,
                            image_resolution=64, vision_layers=8, vision_width=384,
                            vision_patch_size=8, context_length=32, vocab_size=16384,
                            transformer_width=256, transformer_heads=4, transformer_layers=6,
                            vision_heads=6),
    "vitb32": lambda: dict(kind=KIND_VIT, **CLIPConfig.vitb32().to_dict()),
}
DEFAULT_PRESET = "lite"


def preset(name: str) -> Dict[str, Any]:
    if name not in PRESETS:
        raise ValueError(f"unknown model preset {name!r}; known: {', '.join(PRESETS)}")
    return PRESETS[name]()


def split_arch(arch: Mapping[str, Any]) -> tuple:
    """(kind, CLIPConfig, extra fields) of an architecture dict."""
    fields = dict(arch)
    kind = fields.pop("kind", KIND_VIT)
    stem = fields.pop("stem_channels", None)
    return kind, CLIPConfig.from_dict(fields), stem


def build_model(arch: Mapping[str, Any]) -> CLIP:
    """A randomly initialised model of `arch` (call torch.manual_seed first)."""
    kind, config, stem = split_arch(arch)
    if kind == KIND_VIT:
        return CLIP(config)
    if kind == KIND_CONVSTEM:
        return ConvStemCLIP(config, stem)
    raise ValueError(f"unknown architecture kind {kind!r}")


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
