"""CLIP model definition: OpenAI layout, variable-length text, TorchScript, bfloat16."""

from __future__ import annotations

from typing import Dict, List

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cerebro_train.model import (CLIP, CLIPConfig, config_from_openai_state_dict,
                                 from_openai_state_dict, parameter_shapes)
from conftest import padded_tokens, randomise

OPENAI_VITB32_PARAMETERS = 151_277_313


def openai_vit_shapes(embed: int, resolution: int, vision_layers: int, vision_width: int,
                      patch: int, context: int, vocab: int, text_width: int,
                      text_layers: int) -> Dict[str, List[int]]:
    """OpenAI CLIP ViT state-dict names and shapes, written from the architecture
    description (not from cerebro_train.model)."""
    shapes: Dict[str, List[int]] = {}

    def layer_norm(prefix: str, width: int) -> None:
        shapes[f"{prefix}.weight"] = [width]
        shapes[f"{prefix}.bias"] = [width]

    def blocks(prefix: str, width: int, layers: int) -> None:
        for i in range(layers):
            b = f"{prefix}.resblocks.{i}"
            shapes[f"{b}.attn.in_proj_weight"] = [3 * width, width]
            shapes[f"{b}.attn.in_proj_bias"] = [3 * width]
            shapes[f"{b}.attn.out_proj.weight"] = [width, width]
            shapes[f"{b}.attn.out_proj.bias"] = [width]
            layer_norm(f"{b}.ln_1", width)
            shapes[f"{b}.mlp.c_fc.weight"] = [4 * width, width]
            shapes[f"{b}.mlp.c_fc.bias"] = [4 * width]
            shapes[f"{b}.mlp.c_proj.weight"] = [width, 4 * width]
            shapes[f"{b}.mlp.c_proj.bias"] = [width]
            layer_norm(f"{b}.ln_2", width)

    shapes["visual.conv1.weight"] = [vision_width, 3, patch, patch]
    shapes["visual.class_embedding"] = [vision_width]
    shapes["visual.positional_embedding"] = [(resolution // patch) ** 2 + 1, vision_width]
    layer_norm("visual.ln_pre", vision_width)
    blocks("visual.transformer", vision_width, vision_layers)
    layer_norm("visual.ln_post", vision_width)
    shapes["visual.proj"] = [vision_width, embed]
    shapes["token_embedding.weight"] = [vocab, text_width]
    shapes["positional_embedding"] = [context, text_width]
    blocks("transformer", text_width, text_layers)
    layer_norm("ln_final", text_width)
    shapes["text_projection"] = [text_width, embed]
    shapes["logit_scale"] = []
    return shapes


def numel(shape: List[int]) -> int:
    count = 1
    for dim in shape:
        count *= dim
    return count


# ---- OpenAI layout ------------------------------------------------------------------

def test_vitb32_parameter_count(vitb32_model: CLIP) -> None:
    count = sum(p.numel() for p in vitb32_model.parameters())
    print(f"ViT-B/32 parameters: {count:,}")
    assert count == OPENAI_VITB32_PARAMETERS


def test_vitb32_names_and_shapes_equal_openai(vitb32_model: CLIP) -> None:
    expected = openai_vit_shapes(embed=512, resolution=224, vision_layers=12, vision_width=768,
                                 patch=32, context=77, vocab=49408, text_width=512,
                                 text_layers=12)
    assert sum(numel(s) for s in expected.values()) == OPENAI_VITB32_PARAMETERS
    actual = parameter_shapes(vitb32_model)
    assert sorted(set(actual) ^ set(expected)) == []
    assert actual == expected
    for name, shape in {"visual.conv1.weight": [768, 3, 32, 32],
                        "visual.positional_embedding": [50, 768],
                        "token_embedding.weight": [49408, 512],
                        "text_projection": [512, 512], "visual.proj": [768, 512],
                        "positional_embedding": [77, 512]}.items():
        assert actual[name] == shape, name
    # No buffers: the state dict is exactly the parameters, as in OpenAI's.
    assert len(vitb32_model.state_dict()) == len(list(vitb32_model.parameters()))


def test_tiny_names_follow_the_same_rules(tiny_model: CLIP) -> None:
    c = tiny_model.config
    expected = openai_vit_shapes(c.embed_dim, c.image_resolution, c.vision_layers,
                                 c.vision_width, c.vision_patch_size, c.context_length,
                                 c.vocab_size, c.transformer_width, c.transformer_layers)
    assert parameter_shapes(tiny_model) == expected


def test_config_inferred_from_vitb32_state_dict(vitb32_model: CLIP) -> None:
    state = dict(vitb32_model.state_dict())
    # OpenAI's JIT archives carry these three non-parameter entries.
    state.update(input_resolution=torch.tensor(224), context_length=torch.tensor(77),
                 vocab_size=torch.tensor(49408))
    assert config_from_openai_state_dict(state) == CLIPConfig.vitb32()


def test_from_openai_state_dict_roundtrip(tiny_model: CLIP) -> None:
    state = {k: v.clone().half() for k, v in tiny_model.state_dict().items()}
    state["input_resolution"] = torch.tensor(32)
    loaded = from_openai_state_dict(state, vision_heads=4, transformer_heads=4)
    assert loaded.config == tiny_model.config
    for name, value in loaded.state_dict().items():
        assert value.dtype == torch.float32
        assert torch.equal(value, state[name].float()), name
    with pytest.raises(RuntimeError, match="Missing key"):
        del state["ln_final.bias"]
        from_openai_state_dict(state, vision_heads=4, transformer_heads=4)


def test_from_openai_state_dict_rejects_resnet_towers() -> None:
    with pytest.raises(ValueError, match="ModifiedResNet"):
        from_openai_state_dict({"visual.layer1.0.conv1.weight": torch.zeros(1)})


def test_default_heads_follow_openai_width_rule() -> None:
    config = CLIPConfig(embed_dim=8, image_resolution=16, vision_layers=1, vision_width=192,
                        vision_patch_size=8, context_length=8, vocab_size=600,
                        transformer_width=128, transformer_heads=2, transformer_layers=1)
    assert config.vision_heads == 3
    with pytest.raises(ValueError, match="multiple"):
        CLIPConfig(embed_dim=8, image_resolution=20, vision_layers=1, vision_width=64,
                   vision_patch_size=8, context_length=8, vocab_size=600,
                   transformer_width=64, transformer_heads=2, transformer_layers=1)


# ---- numerics against an independent OpenAI-style forward ---------------------------

def reference_tower(x_nld: torch.Tensor, transformer: nn.Module,
                    mask: torch.Tensor = None) -> torch.Tensor:
    """OpenAI's layout: sequence-first tensors through torch's nn.MultiheadAttention."""
    x = x_nld.permute(1, 0, 2)
    for block in transformer.resblocks:
        width = x.shape[-1]
        mha = nn.MultiheadAttention(width, block.attn.heads)
        mha.load_state_dict(block.attn.state_dict())
        mha.eval()
        ln_1 = F.layer_norm(x, (width,), block.ln_1.weight, block.ln_1.bias, 1e-5)
        x = x + mha(ln_1, ln_1, ln_1, need_weights=False, attn_mask=mask)[0]
        ln_2 = F.layer_norm(x, (width,), block.ln_2.weight, block.ln_2.bias, 1e-5)
        hidden = F.linear(ln_2, block.mlp.c_fc.weight, block.mlp.c_fc.bias)
        hidden = hidden * torch.sigmoid(1.702 * hidden)
        x = x + F.linear(hidden, block.mlp.c_proj.weight, block.mlp.c_proj.bias)
    return x.permute(1, 0, 2)


def reference_encode_text(model: CLIP, text: torch.Tensor) -> torch.Tensor:
    context = model.positional_embedding.shape[0]
    assert text.shape[1] == context
    x = model.token_embedding.weight[text] + model.positional_embedding
    mask = torch.full((context, context), float("-inf")).triu(1)
    x = reference_tower(x, model.transformer, mask)
    x = F.layer_norm(x, (x.shape[-1],), model.ln_final.weight, model.ln_final.bias, 1e-5)
    return x[torch.arange(x.shape[0]), text.argmax(dim=-1)] @ model.text_projection


def reference_encode_image(model: CLIP, image: torch.Tensor) -> torch.Tensor:
    v = model.visual
    x = F.conv2d(image, v.conv1.weight, stride=v.conv1.stride)
    x = x.reshape(x.shape[0], x.shape[1], -1).permute(0, 2, 1)
    cls = v.class_embedding + torch.zeros(x.shape[0], 1, x.shape[-1])
    x = torch.cat([cls, x], dim=1) + v.positional_embedding
    width = x.shape[-1]
    x = F.layer_norm(x, (width,), v.ln_pre.weight, v.ln_pre.bias, 1e-5)
    x = reference_tower(x, v.transformer)
    x = F.layer_norm(x[:, 0, :], (width,), v.ln_post.weight, v.ln_post.bias, 1e-5)
    return x @ v.proj


@torch.no_grad()
def test_text_matches_openai_style_forward(tiny_model: CLIP) -> None:
    text = padded_tokens([[320, 1929, 539, 320, 2368], [1125], []], 77)
    expected = reference_encode_text(tiny_model, text)
    assert torch.allclose(tiny_model.encode_text(text), expected, atol=1e-5, rtol=0)


@torch.no_grad()
def test_image_matches_openai_style_forward(tiny_model: CLIP) -> None:
    image = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    expected = reference_encode_image(tiny_model, image)
    assert torch.allclose(tiny_model.encode_image(image), expected, atol=1e-5, rtol=0)


# ---- variable-length text -----------------------------------------------------------

ROWS = [[], [320], [320, 1929, 539, 320, 2368, 530, 3155], list(range(1000, 1075))]


@torch.no_grad()
@pytest.mark.parametrize("which", ["tiny", "vitb32"])
def test_short_text_equals_padded(which: str, request: pytest.FixtureRequest) -> None:
    model = request.getfixturevalue(f"{which}_model")
    padded = padded_tokens(ROWS, 77)
    full = model.encode_text(padded)
    assert full.shape == (len(ROWS), model.config.embed_dim)
    for i, row in enumerate(ROWS):
        short = model.encode_text(padded[i:i + 1, :len(row) + 2])
        diff = (short[0] - full[i]).abs().max().item()
        assert diff <= 1e-5, (which, len(row), diff)
    # A batch padded only to its own longest row gives the same vectors as well.
    batch = padded[:3, :len(ROWS[2]) + 2]
    assert (model.encode_text(batch) - full[:3]).abs().max().item() <= 1e-5


@torch.no_grad()
def test_tokens_after_eot_do_not_change_the_output(tiny_model: CLIP) -> None:
    text = padded_tokens([[320, 1929]], 77)
    noisy = text.clone()
    noisy[0, 4:] = torch.randint(0, 49406, (73,), generator=torch.Generator().manual_seed(5))
    diff = (tiny_model.encode_text(text) - tiny_model.encode_text(noisy)).abs().max().item()
    assert diff <= 1e-5
    # ...while a token before the end does change it: the comparison can fail.
    changed = text.clone()
    changed[0, 1] = 1125
    assert (tiny_model.encode_text(text) - tiny_model.encode_text(changed)).abs().max() > 1e-3


def test_bad_shapes_are_rejected(tiny_model: CLIP) -> None:
    with pytest.raises(ValueError, match="outside 1..77"):
        tiny_model.encode_text(torch.zeros(1, 78, dtype=torch.int64))
    with pytest.raises(ValueError, match="outside 1..77"):
        tiny_model.encode_text(torch.zeros(1, 0, dtype=torch.int64))
    with pytest.raises(ValueError, match=r"\[N, 3, 32, 32\]"):
        tiny_model.encode_image(torch.zeros(1, 3, 64, 64))


# ---- TorchScript --------------------------------------------------------------------

@torch.no_grad()
def test_scripted_equals_eager(tiny_model: CLIP) -> None:
    scripted = torch.jit.script(tiny_model)
    image = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(7))
    text = padded_tokens(ROWS, 77)
    assert torch.allclose(scripted.encode_image(image), tiny_model.encode_image(image),
                          atol=1e-6, rtol=0)
    assert torch.allclose(scripted.encode_text(text), tiny_model.encode_text(text),
                          atol=1e-6, rtol=0)
    short = scripted.encode_text(text[1:2, :3])
    assert torch.allclose(short, tiny_model.encode_text(text[1:2]), atol=1e-5, rtol=0)
    with pytest.raises(torch.jit.Error, match="outside 1..77"):
        scripted.encode_text(torch.zeros(1, 78, dtype=torch.int64))


@torch.no_grad()
def test_vitb32_scripts_and_matches_eager(vitb32_model: CLIP) -> None:
    scripted = torch.jit.script(vitb32_model)
    text = padded_tokens(ROWS[:3], 77)[:, :9]
    assert torch.allclose(scripted.encode_text(text), vitb32_model.encode_text(text),
                          atol=1e-5, rtol=0)
    image = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(8))
    out = scripted.encode_image(image)
    assert out.shape == (1, 512) and out.dtype == torch.float32
    assert torch.allclose(out, vitb32_model.encode_image(image), atol=1e-5, rtol=0)


# ---- bfloat16 -----------------------------------------------------------------------

def cosine(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return F.cosine_similarity(a.float(), b.float(), dim=-1)


def test_bf16_autocast_forward_and_backward(tiny_model: CLIP) -> None:
    image = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(9))
    text = padded_tokens(ROWS, 77)
    with torch.no_grad():
        image_ref, text_ref = tiny_model(image, text)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        image_out, text_out = tiny_model(image, text)
    assert image_out.dtype == torch.float32 and text_out.dtype == torch.float32
    assert cosine(image_out, image_ref).min().item() >= 0.99
    assert cosine(text_out, text_ref).min().item() >= 0.99
    # Training runs the backward pass under autocast too.
    loss = (F.normalize(image_out, dim=-1) @ F.normalize(text_out[:4], dim=-1).T).sum()
    loss.backward()
    grads = [p.grad for p in tiny_model.parameters() if p.grad is not None]
    assert len(grads) == len(list(tiny_model.parameters())) - 1  # logit_scale unused here
    assert all(torch.isfinite(g).all() for g in grads)
    tiny_model.zero_grad(set_to_none=True)


def test_layer_norm_computes_in_float32() -> None:
    from cerebro_train.model import LayerNorm
    norm = LayerNorm(16)
    x = (torch.randn(3, 16) * 50 + 1000).bfloat16()
    out = norm.bfloat16()(x)
    assert out.dtype == torch.bfloat16
    expected = F.layer_norm(x.float(), (16,))
    assert (out.float() - expected).abs().max().item() < 0.02


@torch.no_grad()
def test_bf16_module_cast_matches_fp32(tiny_model: CLIP) -> None:
    """What the C library does for speed: module.to(bfloat16), float32 inputs."""
    image = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(10))
    text = padded_tokens(ROWS, 77)
    scripted = torch.jit.script(CLIP(tiny_model.config).eval())
    scripted.load_state_dict(tiny_model.state_dict())
    image_ref, text_ref = scripted.encode_image(image), scripted.encode_text(text)
    scripted = scripted.to(torch.bfloat16)
    image_out, text_out = scripted.encode_image(image), scripted.encode_text(text)
    assert image_out.dtype == torch.float32 and text_out.dtype == torch.float32
    assert cosine(image_out, image_ref).min().item() >= 0.99
    assert cosine(text_out, text_ref).min().item() >= 0.99
    short_out = scripted.encode_text(text[:3, :9])
    assert cosine(short_out, text_ref[:3]).min().item() >= 0.99


@torch.no_grad()
def test_vitb32_bf16_autocast_text_close(vitb32_model: CLIP) -> None:
    text = padded_tokens(ROWS[:3], 77)
    reference = vitb32_model.encode_text(text)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = vitb32_model.encode_text(text[:, :9])
    assert cosine(out, reference).min().item() >= 0.99


def test_randomise_helper_changes_every_tensor(tiny_model: CLIP) -> None:
    fresh = CLIP(tiny_model.config)
    before = {k: v.clone() for k, v in fresh.state_dict().items()}
    randomise(fresh, 2)
    unchanged = [k for k, v in fresh.state_dict().items()
                 if torch.equal(v, before[k]) and k != "logit_scale"]
    assert unchanged == []
