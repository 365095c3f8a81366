"""A tiny synthetic data folder with the layout `data` writes, for tests and dry runs
(no network, no downloads): coloured shapes with captions, and six "animal" classes
told apart by colour and shape, split into seed / validation / unlabelled pool.

    python3 -c "from cerebro_train.synthetic import make; make('/tmp/synth')"
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Dict, List, Tuple

from PIL import Image, ImageDraw

from .data import ANIMALS, class_captions
from .manifest import Record, write_json, write_manifest

COLOURS = {"red": (220, 40, 40), "green": (40, 170, 60), "blue": (40, 70, 220),
           "yellow": (230, 200, 30), "purple": (140, 50, 170), "orange": (240, 130, 20)}
SHAPES = ("circle", "square", "triangle")
# Each class a colour and a shape, so a model can learn them from a handful of images.
CLASS_LOOK = dict(zip(ANIMALS, [("red", "circle"), ("green", "square"), ("blue", "triangle"),
                                ("yellow", "circle"), ("purple", "square"), ("orange", "triangle")]))


def draw(colour: str, shape: str, rng: random.Random, size: int = 48, alpha: bool = False
         ) -> Image.Image:
    """One shape on a noisy background (or transparent, to exercise compositing)."""
    if alpha:
        image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    else:
        grey = rng.randint(90, 200)
        image = Image.new("RGB", (size, size), (grey, grey, grey))
    pen = ImageDraw.Draw(image)
    extent = rng.randint(size // 2, size - 6)
    x, y = rng.randint(2, size - extent - 2), rng.randint(2, size - extent - 2)
    box = (x, y, x + extent, y + extent)
    fill = COLOURS[colour] + ((255,) if alpha else ())
    if shape == "circle":
        pen.ellipse(box, fill=fill)
    elif shape == "square":
        pen.rectangle(box, fill=fill)
    else:
        pen.polygon([(x, y + extent), (x + extent, y + extent), (x + extent // 2, y)], fill=fill)
    return image


def make(root, per_class: Tuple[int, int, int] = (4, 4, 8), shapes_per_name: int = 2,
         seed: int = 0) -> Dict[str, int]:
    """Write images and manifests under root (root/manifests/*.jsonl as `data` does).
    per_class: (seed, validation, pool) images per animal class."""
    root = Path(root)
    images = root / "images"
    images.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    counts: Dict[str, int] = {}

    def save(image: Image.Image, name: str) -> str:
        path = images / f"{name}.png"
        image.save(path)
        return str(path)

    shapes: List[Record] = []
    emoji: List[Record] = []
    for colour in COLOURS:
        for shape in SHAPES:
            name = f"{colour} {shape}"
            for i in range(shapes_per_name):
                shapes.append({"image": save(draw(colour, shape, rng, alpha=i % 2 == 1),
                                             f"shape-{colour}-{shape}-{i}"),
                               "captions": [name, f"a {name}", f"{name} icon"],
                               "source": "synthetic", "licence": "CC0-1.0"})
            emoji.append({"image": save(draw(colour, shape, rng, alpha=True),
                                        f"eval-{colour}-{shape}"),
                          "captions": [name], "heldout": shape == "triangle",
                          "source": "synthetic", "licence": "CC0-1.0", "id": name})
    seed_rows, val_rows, pool_rows, pool_labels = [], [], [], []
    n_seed, n_val, n_pool = per_class
    for label, (colour, shape) in CLASS_LOOK.items():
        for i in range(n_seed + n_val + n_pool):
            path = save(draw(colour, shape, rng), f"{label}-{i}")
            if i < n_seed:
                seed_rows.append({"image": path, "captions": class_captions(label),
                                  "group": f"cifar:{label}", "source": "synthetic",
                                  "licence": "CC0-1.0"})
            elif i < n_seed + n_val:
                val_rows.append({"image": path, "label": label, "source": "synthetic",
                                 "licence": "CC0-1.0"})
            else:
                pool_rows.append({"image": path, "source": "synthetic", "licence": "CC0-1.0"})
                pool_labels.append(label)
    order = list(range(len(pool_rows)))
    rng.shuffle(order)
    manifests = root / "manifests"
    counts["synthetic-shapes"] = write_manifest(manifests / "synthetic-shapes.jsonl", shapes)
    counts["twitter-emoji"] = write_manifest(manifests / "twitter-emoji.jsonl", emoji)
    counts["cifar-seed"] = write_manifest(manifests / "cifar-seed.jsonl", seed_rows)
    counts["cifar-val"] = write_manifest(manifests / "cifar-val.jsonl", val_rows)
    counts["cifar-pool"] = write_manifest(manifests / "cifar-pool.jsonl",
                                          [pool_rows[i] for i in order])
    write_json(manifests / "cifar-pool-labels.json", [pool_labels[i] for i in order])
    write_json(manifests / "vocabulary.json", {"classes": list(ANIMALS),
                                               "distractors": ["tiger", "whale"]})
    write_json(manifests / "counts.json", counts)
    return counts
