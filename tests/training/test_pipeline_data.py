"""Data builders and the training-time image loader (no network: fake packages here)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cerebro_train import data as builders
from cerebro_train.images import load_pixels, normalise
from cerebro_train.manifest import read_manifest, write_manifest
from cerebro_train.pseudolabel import balanced, select


def test_pixels_match_torchvision_resize_and_centre_crop(tmp_path: Path) -> None:
    transforms = pytest.importorskip("torchvision.transforms",
                                     reason="python3-torchvision is the reference")
    rng = np.random.default_rng(0)
    for index, (w, h) in enumerate([(97, 61), (40, 130), (64, 64), (33, 32)]):
        path = tmp_path / f"{index}.png"
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(path)
        reference = transforms.Compose([
            transforms.Resize(64, interpolation=transforms.InterpolationMode.BICUBIC),
            transforms.CenterCrop(64)])(Image.open(path).convert("RGB"))
        assert np.array_equal(load_pixels(str(path), 64), np.asarray(reference)), (w, h)


def test_alpha_is_composited_on_white(tmp_path: Path) -> None:
    rgba = np.zeros((8, 8, 4), dtype=np.uint8)
    rgba[..., 0] = 200
    rgba[:4, :, 3] = 255          # top half opaque red-ish, bottom half transparent
    rgba[4:, :, 3] = 0
    path = tmp_path / "a.png"
    Image.fromarray(rgba, "RGBA").save(path)
    pixels = load_pixels(str(path), 8)
    assert pixels[0, 0].tolist() == [200, 0, 0]
    assert pixels[7, 7].tolist() == [255, 255, 255]
    x = normalise(__import__("torch").from_numpy(pixels[None].copy()))
    assert tuple(x.shape) == (1, 3, 8, 8)
    assert abs(float(x[0, 0, 7, 7]) - (1 - 0.48145466) / 0.26862954) < 1e-5


def fake_emoji_package(root: Path, style: str, entries: list) -> Path:
    images = root / "package" / "img" / style / "64"
    images.mkdir(parents=True)
    for entry in entries:
        Image.new("RGBA", (64, 64), (255, 0, 0, 255)).save(images / entry["image"])
        for variant in (entry.get("skin_variations") or {}).values():
            Image.new("RGBA", (64, 64), (0, 255, 0, 255)).save(images / variant["image"])
    (root / "package" / "emoji.json").write_text(json.dumps(entries))
    return root


def emoji_entry(name: str, code: str, order: int, **extra) -> dict:
    return {"name": name.upper(), "unified": code, "image": f"{code.lower()}.png",
            "short_name": name.replace(" ", "_"), "short_names": [name.replace(" ", "_")],
            "category": "Animals & Nature", "subcategory": "animal-mammal",
            "sort_order": order, "has_img_google": True, "has_img_twitter": True, **extra}


def test_emoji_manifests_keep_held_out_emoji_out_of_training(tmp_path: Path) -> None:
    entries = [emoji_entry("cat face", "1F431", 1),
               emoji_entry("waving hand", "1F44B", 2, skin_variations={
                   "1F3FB": {"unified": "1F44B-1F3FB", "image": "1f44b-1f3fb.png"}}),
               emoji_entry("tiger", "1F405", 3)]
    package = fake_emoji_package(tmp_path / "google", "google", entries)
    heldout = {"1F405"}
    train = builders.emoji_records(package, "google", heldout, training=True)
    assert [r["id"] for r in train] == ["1F431", "1F44B", "1F44B-1F3FB"]
    assert train[0]["captions"][0] == "cat face" and train[0]["licence"] == "Apache-2.0"
    assert train[2]["captions"][0] == "waving hand: light skin tone"
    twitter = fake_emoji_package(tmp_path / "twitter", "twitter", entries)
    evaluation = builders.emoji_records(twitter, "twitter", heldout, training=False)
    assert [(r["id"], r["heldout"], r["captions"]) for r in evaluation] == [
        ("1F431", False, ["cat face"]), ("1F44B", False, ["waving hand"]),
        ("1F405", True, ["tiger"])]
    assert builders.normal_code("1f1ea-FE0F-1f1ec") == "1F1EA-1F1EC"


def test_heldout_selection_is_fixed_and_about_a_tenth() -> None:
    entries = [{"unified": f"{0x1F300 + i:X}"} for i in range(2000)]
    first = builders.heldout_codes(entries)
    assert first == builders.heldout_codes(list(reversed(entries)))
    assert 150 < len(first) < 250


def test_cifar_splits_are_disjoint_and_hide_pool_labels(tmp_path: Path) -> None:
    files = {name: [tmp_path / name / f"{i}.jpg" for i in range(30)]
             for name in builders.ANIMALS + builders.VEHICLES}
    splits = builders.cifar_splits(files, seed_per_class=3, val_per_class=5,
                                   vehicles_per_class=4)
    assert len(splits["vehicles"]) == 16 and len(splits["seed"]) == 18
    assert len(splits["val"]) == 30 and len(splits["pool"]) == 6 * 22
    images = [r["image"] for s in ("seed", "val", "pool") for r in splits[s]]
    assert len(set(images)) == len(images)
    assert all("label" not in r and "captions" not in r for r in splits["pool"])
    assert len(splits["pool_labels"]) == len(splits["pool"])
    assert splits["seed"][0]["captions"][0].startswith("a photo of a")
    planes = [r for r in splits["vehicles"] if r["group"] == "cifar:airplane"]
    assert len(planes) == 4 and "a photo of an airplane." in planes[0]["captions"]


def test_vocabulary_distractors_exclude_the_classes_and_their_kinds(tmp_path: Path) -> None:
    entries = [emoji_entry(n, f"1F{400 + i}", i, subcategory=s) for i, (n, s) in enumerate([
        ("dog face", "animal-mammal"), ("poodle", "animal-mammal"), ("tiger", "animal-mammal"),
        ("eagle", "animal-bird"), ("whale", "animal-marine"), ("cat", "animal-mammal")])]
    package = fake_emoji_package(tmp_path / "google", "google", entries)
    vocabulary = builders.animal_vocabulary(package)
    assert vocabulary["classes"] == builders.ANIMALS
    assert vocabulary["distractors"] == ["tiger", "whale"]


def test_selection_keeps_the_most_confident_per_class_and_balances() -> None:
    probs = np.array([[0.9, 0.05, 0.05], [0.6, 0.3, 0.1], [0.5, 0.4, 0.1],
                      [0.2, 0.7, 0.1], [0.1, 0.1, 0.8], [0.45, 0.1, 0.45]])
    kept = select(probs, classes=2, fraction=0.5, threshold=0.0, margin=0.0)
    # Quota: ceil(0.5 * 6 / 2) = 2 per class; row 4 is a distractor (class 2).
    assert kept[0].tolist() == [0, 1] and kept[1].tolist() == [3]
    assert select(probs, 2, 1.0, 0.0, 0.2)[0].tolist() == [0, 1]
    assert balanced(kept, max_repeat=3) == {0: [0, 1], 1: [3, 3]}


def test_manifest_paths_are_relative_to_the_manifest(tmp_path: Path) -> None:
    image = tmp_path / "images" / "a.png"
    image.parent.mkdir()
    image.write_bytes(b"x")
    write_manifest(tmp_path / "manifests" / "m.jsonl", [{"image": str(image), "captions": ["a"]}])
    line = json.loads((tmp_path / "manifests" / "m.jsonl").read_text())
    assert line["image"] == "../images/a.png"
    assert read_manifest(tmp_path / "manifests" / "m.jsonl")[0]["image"] == str(image)


def fake_iconify_package(root: Path, icons: dict, chars: dict = None) -> Path:
    """An Iconify JSON set: 16x16 by default; bodies are SVG fragments."""
    (root / "package").mkdir(parents=True)
    (root / "package" / "icons.json").write_text(json.dumps(
        {"prefix": root.name, "width": 16, "height": 16, "icons": icons}))
    if chars is not None:
        (root / "package" / "chars.json").write_text(json.dumps(chars))
    return root


def test_iconify_styles_are_named_by_code_point_and_keep_held_out_emoji_out(tmp_path: Path
                                                                            ) -> None:
    entries = [emoji_entry("cat face", "1F431", 1), emoji_entry("tiger", "1F405", 2),
               emoji_entry("dog", "1F415", 3)]
    red = {"body": '<rect width="16" height="16" fill="#f00"/>'}
    fluent = fake_iconify_package(tmp_path / "fluent", {"cat-face": red, "tiger": red},
                                  chars={"1f431": "cat-face", "1f405": "tiger"})
    codes = builders.iconify_codes(fluent, entries)
    # chars.json first, then the Google names slugged ("dog" is only there)
    assert codes["cat-face"] == "1F431" and codes["dog"] == "1F415"
    other = fake_iconify_package(tmp_path / "other", {
        "cat-face": {"body": '<rect width="32" height="8" fill="#00f"/>', "width": 32,
                     "height": 8},
        "tiger": red, "dog": red, "unknown-thing": red})
    records = builders.iconify_records(other, "emojione", tmp_path / "png", codes, entries,
                                       heldout={"1F405"})
    assert [(r["id"], r["captions"][0], r["group"], r["licence"]) for r in records] == [
        ("1F431", "cat face", "emoji:1F431", "CC-BY-4.0"),
        ("1F415", "dog", "emoji:1F415", "CC-BY-4.0")]
    assert records[0]["captions"] == builders.emoji_captions(entries[0])
    cat = Image.open(records[0]["image"])
    assert cat.size == (128, 128)  # rasterised at 128 px, the icon's own 32x8 box scaled
    assert cat.convert("RGBA").getpixel((64, 64))[:3] == (0, 0, 255)
    assert Image.open(records[1]["image"]).convert("RGBA").getpixel((5, 5))[:3] == (255, 0, 0)


def test_emoji_records_are_grouped_by_code_point(tmp_path: Path) -> None:
    entries = [emoji_entry("cat face", "1F431", 1),
               emoji_entry("waving hand", "1F44B", 2, skin_variations={
                   "1F3FB": {"unified": "1F44B-1F3FB", "image": "1f44b-1f3fb.png"}})]
    package = fake_emoji_package(tmp_path / "google", "google", entries)
    train = builders.emoji_records(package, "google", set(), training=True)
    assert [r["group"] for r in train] == ["emoji:1F431", "emoji:1F44B", "emoji:1F44B-1F3FB"]


def test_typed_captions_are_what_people_type() -> None:
    from cerebro_train.captions import plain_name, typed_captions
    assert typed_captions("cat face") == ["a cat", "a photo of a cat", "a picture of a cat"]
    assert typed_captions("Owl, 2") == ["an owl", "a photo of an owl", "a picture of an owl"]
    assert plain_name("face") == "face" and typed_captions("123") == []


def test_wordnet_captions_pick_the_concrete_sense(tmp_path: Path) -> None:
    # Debian's wordnet-base (scripts/setup.sh installs it); nltk reads it through the
    # folder of links + generated lexnames that wordnet_reader builds.
    from cerebro_train.captions import WordNetCaptions, enrich, wordnet_reader
    reader = wordnet_reader(tmp_path)
    assert reader is not None, "wordnet-base is not installed (scripts/setup.sh)"
    assert (tmp_path / "wordnet" / "lexnames").read_text().count("\n") == 45
    words = WordNetCaptions(reader)
    assert words("automobile")[:1] == ["a car"]
    assert words("tiger") == ["a big cat"]          # the animal, not "a fierce person"
    assert words("cat face")[-1] == "a feline"      # head noun after dropping "face"
    assert words("pilot") == []                     # a person first: no guess
    assert words("grinning face") == []
    records = enrich([{"captions": ["tabby cat"]}], lambda r: r["captions"][0], words)
    assert records[0]["typed"][0] == "a tabby cat" and "a domestic cat" in records[0]["wordnet"]


def test_training_streams_take_extra_captions_and_drop_groups(tmp_path: Path) -> None:
    from cerebro_train.train import UNGROUPED, group_id
    table: dict = {}
    record = {"group": "emoji:1F431"}
    assert group_id(record, table, 7) == 0
    assert group_id(record, table, 8, ungroup=("emoji:",)) == UNGROUPED + 8
    assert group_id({"group": "cifar:cat"}, table, 9, ungroup=("emoji:",)) == 1
