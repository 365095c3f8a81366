"""`cerebro_train relevance` measures the relevance libcerebro computes: the same standard
score, the same store-size term, the same constants as lib/index/relevance.c."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from cerebro_train import relevance as rel
from cerebro_train.bundle import load_bundle, set_relevance
from cerebro_train.binding import import_cerebro
from conftest import REPO


@pytest.mark.parametrize("items", [60, 700])
def test_relevance_equals_the_library(tmp_path: Path, items: int) -> None:
    cerebro = import_cerebro()
    model = cerebro.Model(REPO / "models" / "default.pt")
    rng = np.random.default_rng(items)
    vecs = rng.standard_normal((items, model.dim)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    embeddings = [cerebro.Embedding(str(tmp_path / f"v{i}.jpg"), 1, 1) for i in range(items)]
    with cerebro.Index(tmp_path / "store", model, create=True) as ix:
        assert ix.add_embeddings(embeddings, vecs).added == items
        query = vecs[1] + 0.4 * vecs[2]
        query /= np.linalg.norm(query)
        scores = (vecs @ query)[None, :]
        # The bundled model carries its own calibration (slope and threshold); a bundle
        # without one gets the library's fallback slope.
        record = load_bundle(REPO / "models" / "default.pt")[1].get("relevance")
        want = (rel.library_relevance(scores, record) if record else rel.relevance(scores))[0]
        hits = ix.search(query, k=items, min_relevance=0)
        got = {int(Path(h.path).stem[1:]): h.relevance for h in hits}
        assert len(got) == items
        np.testing.assert_allclose([got[i] for i in range(items)], want, atol=2e-3)
        # The default cutoff the measurement chose is the library's.
        kept = ix.search(query, k=items)
        assert [h.relevance for h in kept] == [h.relevance for h in hits
                                                if h.relevance >= cerebro.default_min_relevance()]
    assert rel.size_offset(rel.SIZE_REF) == 0
    assert rel.size_offset(50) < 0 < rel.size_offset(100_000)
    assert rel.LIBRARY_DEFAULT == pytest.approx(cerebro.default_min_relevance())


def test_a_calibrated_bundle_moves_relevance_to_its_threshold(tmp_path: Path) -> None:
    """A bundle carrying a "relevance" record (`relevance --write-bundle`): the library uses
    its slope, and moves every relevance so that the default cutoff is its threshold. The
    module is untouched: same embeddings, new content hash (model id)."""
    cerebro = import_cerebro()
    source = REPO / "models" / "default.pt"
    calibrated = tmp_path / "calibrated.pt"
    shutil.copyfile(source, calibrated)
    record = set_relevance(calibrated, 0.61, 2.9, "test")["relevance"]
    assert record == {"size_slope": 0.61, "threshold": 2.9, "measured": "test"}
    with pytest.raises(ValueError, match="relevance.threshold"):
        set_relevance(tmp_path / "calibrated.pt", 0.61, 0.0, "test")
    plain, model = cerebro.Model(source), cerebro.Model(calibrated)
    assert model.id != plain.id
    np.testing.assert_array_equal(model.encode_text(["a strawberry"]),
                                  plain.encode_text(["a strawberry"]))
    items = 300
    rng = np.random.default_rng(7)
    vecs = rng.standard_normal((items, model.dim)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    embeddings = [cerebro.Embedding(str(tmp_path / f"v{i}.jpg"), 1, 1) for i in range(items)]
    with cerebro.Index(tmp_path / "store", model, create=True) as ix:
        ix.add_embeddings(embeddings, vecs)
        query = vecs[3] + 0.3 * vecs[4]
        query /= np.linalg.norm(query)
        scores = (vecs @ query)[None, :]
        want = rel.library_relevance(scores, record)[0]
        # 2.9 < 3.35 and a slope above 0.38 in a store below 2,000 items: both raise it
        assert np.all(want > rel.relevance(scores)[0] + 0.45)
        hits = ix.search(query, k=items, min_relevance=0)
        got = {int(Path(h.path).stem[1:]): h.relevance for h in hits}
        np.testing.assert_allclose([got[i] for i in range(items)], want, atol=2e-3)
        kept = ix.search(query, k=items)
        assert 0 < len(kept) < items
        assert [h.relevance for h in kept] == [h.relevance for h in hits
                                                if h.relevance >= cerebro.default_min_relevance()]


def test_size_study_fits_the_growth_of_the_best_of_n() -> None:
    """Unit-variance noise: the fitted slope is about a normal maximum's (~0.9 for the 95th
    percentile), and the size-adjusted best of nonsense stays level across sizes."""
    rng = np.random.default_rng(0)
    dim = 256
    unit = lambda a: a / np.linalg.norm(a, axis=1, keepdims=True)  # noqa: E731
    emoji = unit(rng.standard_normal((1000, dim)))
    texts = unit(emoji + 0.6 * rng.standard_normal((1000, dim)))
    icons = unit(rng.standard_normal((7500, dim)))
    nonsense = unit(rng.standard_normal((100, dim)))
    study = rel.size_study(texts, emoji, icons, nonsense)
    assert [s["items"] for s in study["sizes"]] == rel.SUBSET_SIZES + [1000] + rel.MIXED_SIZES + [8500]
    assert 0.6 < study["fitted_slope"] < 1.2, study["fitted_slope"]
    slope = study["fitted_slope"]
    bare = [s["nonsense_best_p95"] for s in study["sizes"]]
    adjusted = [s["nonsense_best_p95"] - rel.size_offset(s["items"], slope) for s in study["sizes"]]
    assert max(bare) - min(bare) > 0.8, bare
    assert max(adjusted) - min(adjusted) < 0.25, adjusted
    table = rel.size_table(study, slope)
    row = next(r for r in table if r["threshold"] == round(float(np.median(adjusted)), 1))
    assert set(row["real_kept"]) == {50, 100, 200, 500, 1000}
    assert all(0 < rate < 0.5 for rate in row["nonsense_with_hits"].values()), row


def test_measure_with_photos_and_without_cifar(tmp_path: Path) -> None:
    """`relevance --with-photos` adds the CIFAR validation photos to the store and their
    prompts to the queries; data built without CIFAR-10 still calibrates (no photo report)."""
    from cerebro_train import synthetic
    data = tmp_path / "data"
    synthetic.make(data)
    bundle = REPO / "models" / "default.pt"
    with_photos = rel.measure(bundle, data, threads=1, with_photos=True)
    val = len((data / "manifests" / "cifar-val.jsonl").read_text().splitlines())
    emoji = len((data / "manifests" / "twitter-emoji.jsonl").read_text().splitlines())
    assert with_photos["store"] == emoji + val
    assert with_photos["queries"]["cifar"] == 60  # six animals x ten templates
    assert with_photos["photo_store"]["items"] == val
    # The card's tables: one row per store size, the default threshold in bold, the photo line.
    md = rel.markdown(with_photos)
    assert md.count("| twitter emoji |") == len([s for s in with_photos["sizes"]
                                                  if s["kind"] == "twitter emoji"])
    assert f"| **{with_photos['default']:g}** |" in md and "Photo store (" in md
    (data / "manifests" / "cifar-val.jsonl").unlink()
    plain = rel.measure(bundle, data, threads=1)
    assert plain["store"] == emoji and plain["photo_store"] is None
    assert plain["queries"]["cifar"] == 0 and plain["default"] > 0
    assert "Photo store (" not in rel.markdown(plain)
