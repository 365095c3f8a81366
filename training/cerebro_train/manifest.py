"""Manifests: JSON lines, one image per line.

    {"image": "../extract/.../1f600.png", "captions": ["grinning face", ...],
     "source": "google-emoji", "licence": "Apache-2.0", "id": "1F600", "group": "..."}

`image` is relative to the manifest's folder (absolute paths are kept as they are).
`group` (optional) names a set of samples that share one caption meaning (e.g. all
CIFAR cats): the contrastive loss treats two samples of one group as a positive pair,
not as negatives. Evaluation manifests may add `label` (CIFAR validation) or
`heldout` (emoji kept out of training). The unlabelled pool's labels are not in its
manifest; they sit in a separate file read only to report pseudo-label accuracy.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Dict, Iterable, List, Union

Record = Dict[str, Any]
PathLike = Union[str, os.PathLike]


def write_manifest(path: PathLike, records: Iterable[Record]) -> int:
    """Write records (their `image` made relative to the manifest) atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    count = 0
    with open(tmp, "w", encoding="utf-8") as f:
        for record in records:
            record = dict(record)
            image = Path(record["image"])
            if image.is_absolute():
                record["image"] = os.path.relpath(image, path.parent)
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
    os.replace(tmp, path)
    return count


def read_manifest(path: PathLike) -> List[Record]:
    """Records with `image` resolved to an absolute path."""
    path = Path(path)
    records = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            record = json.loads(line)
            if "image" not in record:
                raise ValueError(f"{path}:{number}: record has no 'image'")
            record["image"] = str((path.parent / record["image"]).resolve())
            records.append(record)
    return records


def write_json(path: PathLike, value: Any) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(value, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def read_json(path: PathLike) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))
