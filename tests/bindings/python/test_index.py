"""cerebro.Index end to end on the tiny model."""

from __future__ import annotations

import math
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

import cerebro

SIZES = {"photo0.jpg": (1600, 1200), "photo1.jpg": (1024, 768), "photo2.jpg": (1200, 1600),
         "photo3.jpg": (2000, 1125)}


@pytest.fixture
def folder(photos: list[Path], tmp_path: Path) -> Path:
    """photos/a/photo0-1.jpg, photos/b/photo2-3.jpg."""
    root = tmp_path / "photos"
    for i, p in enumerate(photos[:4]):
        sub = root / ("a" if i < 2 else "b")
        sub.mkdir(parents=True, exist_ok=True)
        shutil.copy(p, sub / p.name)
    return root


@pytest.fixture
def index_dir(tmp_path: Path) -> Path:
    return tmp_path / "index"


def names(hits: list[cerebro.Hit]) -> list[str]:
    return [Path(h.path).name for h in hits]


def test_add_reports_progress_and_stats(model: cerebro.Model, folder: Path, index_dir: Path) -> None:
    seen: list[cerebro.Progress] = []
    with cerebro.Index(index_dir, model) as ix:
        stats = ix.add([folder], progress=lambda p: seen.append(p))
        assert (stats.added, stats.failed) == (4, 0)
        assert sorted(Path(p.path).name for p in seen if p.path) == sorted(SIZES)
        assert seen[-1].done == seen[-1].total == 4
        s = ix.stats()
        assert (s.dim, s.count, s.files, s.failed) == (model.dim, 4, 4, 0)
        assert s.model_id == model.id and s.structure
        again = ix.add([folder])
        assert (again.added, again.skipped) == (0, 4)


def test_search_ranks_like_brute_force(model: cerebro.Model, folder: Path, index_dir: Path) -> None:
    files = sorted(folder.rglob("*.jpg"))
    vecs, _ = model.encode_images(files)
    with cerebro.Index(index_dir, model, factory="Flat") as ix:
        ix.add([folder])
        for query in ["a snow leopard", "a red square"]:
            scores = vecs @ model.encode_text([query])[0]
            order = np.argsort(-scores)[:3]
            hits = ix.search(query, k=3)
            assert names(hits) == [files[i].name for i in order]
            np.testing.assert_allclose([h.score for h in hits], scores[order], atol=1e-4)
        assert len(ix.search("anything", k=2)) == 2


def test_search_by_image_path_bytes_and_vector(model: cerebro.Model, folder: Path,
                                               index_dir: Path) -> None:
    photo = folder / "a" / "photo0.jpg"
    with cerebro.Index(index_dir, model) as ix:
        ix.add([folder])
        for query in (photo, photo.read_bytes(), model.encode_image(photo),
                      list(map(float, model.encode_image(photo)))):
            hits = ix.search(query, k=4)
            assert names(hits)[0] == "photo0.jpg" and hits[0].score > 0.99, type(query)
            assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
        with pytest.raises(cerebro.InvalidError, match="shape"):
            ix.search(np.zeros(model.dim + 1, dtype=np.float32))


def test_hits_similar_get_and_vector(model: cerebro.Model, folder: Path, index_dir: Path) -> None:
    with cerebro.Index(index_dir, model) as ix:
        ix.add([folder])
        top = ix.search(folder / "b" / "photo2.jpg", k=1)[0]
        assert (top.width, top.height) == SIZES["photo2.jpg"] and top.timestamp is None
        assert ix.get(top.id) == cerebro.Hit(top.id, pytest.approx(1.0), top.path, top.width,
                                             top.height, None)
        similar = ix.similar(top.id, k=10)
        assert len(similar) == 3 and top.id not in [h.id for h in similar]
        np.testing.assert_allclose(ix.vector(top.id), model.encode_image(folder / "b" / "photo2.jpg"),
                                   atol=1e-5)
        with pytest.raises(cerebro.NotFoundError):
            ix.get(10 ** 12)


def test_prefix_limits_results(model: cerebro.Model, folder: Path, index_dir: Path) -> None:
    with cerebro.Index(index_dir, model) as ix:
        ix.add([folder])
        hits = ix.search("a photo", k=10, prefix=folder / "b")
        assert sorted(names(hits)) == ["photo2.jpg", "photo3.jpg"]


def test_remove_by_path_and_id(model: cerebro.Model, folder: Path, index_dir: Path) -> None:
    with cerebro.Index(index_dir, model) as ix:
        ix.add([folder])
        ix.remove(folder / "a" / "photo0.jpg")
        assert "photo0.jpg" not in names(ix.search("a photo", k=10))
        victim = ix.search("a photo", k=1)[0]
        ix.remove(victim.id)
        assert ix.stats().count == 2
        with pytest.raises(cerebro.NotFoundError, match="photo0.jpg"):
            ix.remove(folder / "a" / "photo0.jpg")
        with pytest.raises(cerebro.NotFoundError):
            ix.remove(victim.id)


def test_add_excludes_patterns(model: cerebro.Model, folder: Path, index_dir: Path) -> None:
    with cerebro.Index(index_dir, model) as ix:
        assert ix.add([folder], exclude=["b"]).added == 2
        assert sorted(names(ix.search("a photo", k=10))) == ["photo0.jpg", "photo1.jpg"]
        stats = ix.add(folder, exclude="a/photo0.jpg")  # one pattern; a path below the folder
        assert (stats.added, stats.removed) == (2, 1)
        assert "photo0.jpg" not in names(ix.search("a photo", k=10))
        assert ix.add([folder]).added == 1
        with pytest.raises(cerebro.InvalidError):
            ix.add([folder], exclude=[""])


def test_remove_many_in_one_step(model: cerebro.Model, folder: Path, index_dir: Path) -> None:
    """A list is removed in one committed step (one new search-structure file, whatever its
    length); the items not in the index come back in the order given."""
    with cerebro.Index(index_dir, model) as ix:
        ix.add([folder])
        victim = next(h for h in ix.search("a photo", k=4) if Path(h.path).parent.name == "b")
        before = sorted(index_dir.glob("ann-*.faiss"))
        missing = ix.remove([folder / "a" / "photo0.jpg", folder / "nowhere.jpg", victim.id,
                             str(folder / "a" / "photo1.jpg"), -5, folder / "a" / "photo0.jpg"])
        assert missing == [folder / "nowhere.jpg", -5, folder / "a" / "photo0.jpg"]
        after = sorted(index_dir.glob("ann-*.faiss"))
        assert len(before) == len(after) == 1
        gen = lambda p: int(p.stem.split("-")[1])  # noqa: E731
        assert gen(after[0]) == gen(before[0]) + 1
        assert ix.stats().count == 1
        assert ix.remove([]) == []
        with pytest.raises(cerebro.NotFoundError, match="none of the 2"):
            ix.remove((victim.id, folder / "nowhere.jpg"))
        assert ix.stats().count == 1
        last = ix.search("a photo", k=1)[0].id
        assert ix.remove(np.array([-7, last])) == [-7]  # ids as numpy gives them
        assert ix.stats().count == 0


def test_bad_files_are_reported_not_raised(model: cerebro.Model, folder: Path,
                                           index_dir: Path) -> None:
    (folder / "a" / "broken.jpg").write_bytes((folder / "a" / "photo0.jpg").read_bytes()[:3000])
    failed: list[cerebro.Progress] = []
    with cerebro.Index(index_dir, model) as ix:
        stats = ix.add([folder], progress=lambda p: failed.append(p) if p.status else None)
        assert stats.failed == 1 and stats.added == 4
        assert [Path(p.path).name for p in failed] == ["broken.jpg"]
        assert "broken.jpg" in (failed[0].message or "") and failed[0].status == cerebro.Status.E_CORRUPT


def test_progress_can_cancel(model: cerebro.Model, folder: Path, index_dir: Path) -> None:
    with cerebro.Index(index_dir, model) as ix:
        # The first report comes before any file is encoded (done 0 of 4):
        # cancelling there commits nothing.
        seen: list[cerebro.Progress] = []
        with pytest.raises(cerebro.CancelledError, match="cancelled by the progress callback after 0 files"):
            ix.add([folder], progress=lambda p: seen.append(p) or True, batch_size=1, commit_every=1)
        assert [(p.done, p.total) for p in seen] == [(0, 4)]
        assert (ix.stats().count, ix.stats().files) == (0, 0)

        def boom(p: cerebro.Progress) -> None:
            raise KeyError("from the callback")

        with pytest.raises(KeyError, match="from the callback"):
            ix.add([folder], progress=boom)


def test_index_keeps_its_model_alive(tiny: Path, folder: Path, index_dir: Path) -> None:
    model = cerebro.Model(tiny, precision="fp32")
    ix = cerebro.Index(index_dir, model)
    ix.add([folder])
    model.close()
    assert model.closed and model._handle._ptr  # freed only after the index
    assert len(ix.search("a photo", k=2)) == 2
    ix.close()
    ix.close()
    assert not model._handle._ptr
    with pytest.raises(cerebro.InvalidError, match="closed"):
        ix.search("a photo")


def test_another_model_is_refused(model: cerebro.Model, fixtures: Path, folder: Path,
                                  index_dir: Path) -> None:
    with cerebro.Index(index_dir, model) as ix:
        ix.add([folder])
    with cerebro.Model(fixtures / "tiny224.pt") as other:
        with pytest.raises(cerebro.MismatchError) as info:
            cerebro.Index(index_dir, other)
        assert f"was indexed with model '{model.name}'" in info.value.message, info.value.message
        assert "the model given is 'tiny224'" in info.value.message, info.value.message


def test_k_is_checked(model: cerebro.Model, folder: Path, index_dir: Path) -> None:
    with cerebro.Index(index_dir, model) as ix:
        for k in (0, 10001):
            with pytest.raises(cerebro.LimitError, match="k="):
                ix.search("x", k=k)


def test_concurrent_searches_agree(model: cerebro.Model, folder: Path, index_dir: Path) -> None:
    with cerebro.Index(index_dir, model) as ix:
        ix.add([folder])
        queries = ["a photo", "a dog", folder / "a" / "photo1.jpg"]
        want = [ix.search(q, k=4) for q in queries]
        got: list[list[list[cerebro.Hit]]] = []

        def worker() -> None:
            got.append([ix.search(q, k=4) for q in queries for _ in range(1)])

        threads = [threading.Thread(target=worker) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(got) == 4
        for g in got:
            assert [[h.id for h in hits] for hits in g] == [[h.id for h in hits] for hits in want]


def test_index_wants_a_model(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="cerebro.Model"):
        cerebro.Index(tmp_path / "ix", "tiny.pt")  # type: ignore[arg-type]


# ---- relevance --------------------------------------------------------------

def random_store(model: cerebro.Model, path: Path, n: int = 200) -> np.ndarray:
    """A store of n random unit vectors (files v<i>.jpg that need not exist)."""
    rng = np.random.default_rng(7)
    vecs = rng.standard_normal((n, model.dim)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    items = [cerebro.Embedding(str(path / f"v{i}.jpg"), 1, 1) for i in range(n)]
    with cerebro.Index(path, model) as ix:
        assert ix.add_embeddings(items, vecs).added == n
    return vecs


def size_term(items: int) -> float:
    """What relevance subtracts for a store of `items` (cerebro.h, cerebro_results_relevance)."""
    return 0.38 * (math.sqrt(2 * math.log(items)) - math.sqrt(2 * math.log(2000)))


def test_relevance_is_the_standard_score(model: cerebro.Model, index_dir: Path) -> None:
    vecs = random_store(model, index_dir)
    query = vecs[3] + 0.5 * vecs[4]
    scores = vecs @ (query / np.linalg.norm(query))
    with cerebro.Index(index_dir, model) as ix:
        hits = ix.search(query, k=len(vecs), min_relevance=0)
        assert len(hits) == len(vecs) and Path(hits[0].path).name == "v3.jpg"
        want = (scores - scores.mean()) / scores.std() - size_term(len(vecs))
        got = {Path(h.path).name: h.relevance for h in hits}
        np.testing.assert_allclose([got[f"v{i}.jpg"] for i in range(len(vecs))], want, atol=1e-3)
        assert hits[0].relevance > 5 > hits[-1].relevance
        # similar() has relevance too, against the item's own vector.
        near = ix.similar(hits[0].id, k=3, min_relevance=0)
        assert len(near) == 3 and all(h.relevance == h.relevance for h in near)


def test_min_relevance_cuts_hits(model: cerebro.Model, index_dir: Path) -> None:
    vecs = random_store(model, index_dir)
    default = cerebro.default_min_relevance()
    assert default > 0
    with cerebro.Index(index_dir, model) as ix:
        for query in (vecs[0], vecs[1] + vecs[2], np.ones(model.dim, dtype=np.float32)):
            every = ix.search(query, k=20, min_relevance=0)
            assert len(every) == 20  # 0 keeps k
            rels = [h.relevance for h in every]
            assert rels == sorted(rels, reverse=True)
            for cut in (default, (rels[0] + rels[1]) / 2, rels[5]):
                kept = ix.search(query, k=20, min_relevance=cut)
                assert [h.id for h in kept] == [h.id for h in every if h.relevance >= cut], cut
            assert [h.id for h in ix.search(query, k=20)] == \
                [h.id for h in ix.search(query, k=20, min_relevance=default)]
            assert ix.search(query, k=20, min_relevance=1000) == []
            assert len(ix.search(query, k=20, min_relevance=-1)) == 20
        # A vector of the store stands far out; the default keeps it.
        assert Path(ix.search(vecs[9], k=5)[0].path).name == "v9.jpg"
        assert ix.similar(ix.search(vecs[9], k=1)[0].id, k=5, min_relevance=1000) == []
        with pytest.raises(cerebro.InvalidError, match="min_relevance"):
            ix.search(vecs[0], min_relevance=float("nan"))
        with pytest.raises(cerebro.InvalidError, match="min_relevance"):
            ix.search(vecs[0], min_relevance="4")  # type: ignore[arg-type]


def test_small_store_has_no_relevance(model: cerebro.Model, folder: Path, index_dir: Path) -> None:
    with cerebro.Index(index_dir, model) as ix:
        ix.add([folder])
        hits = ix.search("zxqv blorp", k=4, min_relevance=1000)
        assert len(hits) == 4 and all(np.isnan(h.relevance) for h in hits)
        assert np.isnan(ix.get(hits[0].id).relevance)
