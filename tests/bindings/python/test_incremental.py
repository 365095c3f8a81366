"""Re-indexing and search-by-id bugs a user would see, through the Python
binding (scripts/mutants.txt holds the mutants these tests must kill):
a photo rewritten in place to the same byte size is updated whether its
mtime moved to a later second or only within the same second, and
similar() under a prefix that excludes the item returns exactly k hits."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

import cerebro


def padded_jpeg(data: bytes, size: int) -> bytes:
    """The JPEG with comment segments after SOI that make it `size` bytes."""
    pad, segments = size - len(data), b""
    assert pad >= 4, f"cannot pad {len(data)} bytes to {size}"
    while pad:
        n = min(pad, 65537)  # a segment is 4 to 65537 bytes
        n -= 4 if 0 < pad - n < 4 else 0
        segments += b"\xff\xfe" + (n - 2).to_bytes(2, "big") + b"p" * (n - 4)
        pad -= n
    return data[:2] + segments + data[2:]


def set_mtime_ns(path: Path, ns: int) -> None:
    os.utime(path, ns=(ns, ns))
    assert path.stat().st_mtime_ns == ns, "the file system drops the nanoseconds"


@pytest.mark.parametrize("first_ns, second_ns", [
    (1_600_000_000_000_000_000, 1_600_000_007_000_000_000),  # a later second
    (1_600_000_000_100_000_000, 1_600_000_000_700_000_000),  # the same second
], ids=["later-second", "same-second"])
def test_same_size_rewrite_is_updated(model: cerebro.Model, photos: list[Path], tmp_path: Path,
                                      first_ns: int, second_ns: int) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    photo = folder / "edited.jpg"
    a, b = photos[0].read_bytes(), photos[1].read_bytes()
    size = max(len(a), len(b)) + 16
    photo.write_bytes(padded_jpeg(a, size))
    set_mtime_ns(photo, first_ns)
    with cerebro.Index(tmp_path / "index", model) as ix:
        assert ix.add([folder]).added == 1
        before = ix.search("x", k=1)[0]
        again = ix.add([folder])
        assert (again.added, again.updated, again.skipped) == (0, 0, 1)

        photo.write_bytes(padded_jpeg(b, size))
        set_mtime_ns(photo, second_ns)
        assert photo.stat().st_size == size
        stats = ix.add([folder])
        assert (stats.added, stats.updated, stats.skipped, stats.removed, stats.failed) == (0, 1, 0, 0, 0)

        after = ix.search("x", k=1)[0]
        want = model.encode_images([photo])[0][0]
        assert float(np.dot(ix.vector(after.id), want)) > 0.9999
        assert float(np.dot(ix.vector(after.id), ix.vector(after.id))) == pytest.approx(1, abs=1e-5)
        assert before.path == after.path


def test_similar_under_a_prefix_without_the_item_gives_k(model: cerebro.Model, photos: list[Path],
                                                         tmp_path: Path) -> None:
    root = tmp_path / "photos"
    (root / "a").mkdir(parents=True)
    (root / "b").mkdir()
    shutil.copy(photos[0], root / "a" / "item.jpg")
    for p in photos[1:4]:
        shutil.copy(p, root / "b" / p.name)
    with cerebro.Index(tmp_path / "index", model) as ix:
        assert ix.add([root]).added == 4
        item = next(h for h in ix.search("x", k=10) if h.path.endswith("/a/item.jpg"))
        b_hits = ix.search(np.asarray(ix.vector(item.id)), k=10, prefix=root / "b")
        assert len(b_hits) == 3
        for k in [1, 2, 3, 5]:
            hits = ix.similar(item.id, k=k, prefix=root / "b")
            assert len(hits) == min(k, 3), f"similar(k={k}, prefix=b/) gave {len(hits)} hits"
            assert all(Path(h.path).parent == root / "b" for h in hits)
            assert [h.id for h in hits] == [h.id for h in b_hits[:k]]
