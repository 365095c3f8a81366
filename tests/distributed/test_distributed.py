"""cerebro.distributed on a Dask LocalCluster of 2 worker processes with 1
thread each: the store it builds equals a single-process `cerebro index` of
the same folder; a worker killed mid-run loses and duplicates nothing; an
interrupted client resumes with only the rest; a rerun drops deleted and
moved files' old paths as `cerebro index` does; 3 stores merge into the
store of their union; other models and dimensions are refused.

CTest sets CEREBRO_LIBRARY, CEREBRO_MODEL_FIXTURES (tests/model's
fixtures), CEREBRO_CLI (the cerebro program) and PYTHONPATH (the binding,
which the worker processes import too)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
# The worker processes import the binding and the test's kill plugin.
os.environ["PYTHONPATH"] = os.pathsep.join(
    [str(ROOT / "bindings" / "python"), str(Path(__file__).resolve().parent)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])
sys.path.insert(0, str(ROOT / "bindings" / "python"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import cerebro  # noqa: E402
from cerebro import distributed  # noqa: E402

FIXTURES = Path(os.environ.get("CEREBRO_MODEL_FIXTURES", ROOT / "build" / "tests" / "model" / "fixtures"))
TINY = FIXTURES / "tiny.pt"
OTHER = FIXTURES / "tiny224.pt"
CLI = os.environ.get("CEREBRO_CLI", str(ROOT / "build" / "programs" / "cerebro"))
#: Cosine between bf16 encodes of the same image (tests/model: >= 0.999 to fp32).
BF16_COSINE = 0.999
QUERIES = [f"a photo of {w}" for w in (
    "a dog", "a red car", "snow", "a mountain lake", "a bird in a tree", "a city at night", "a cat",
    "a beach", "green grass", "a forest", "people walking", "a bridge", "a flower", "the sea",
    "a leopard on rocks", "an old house", "a horse", "fog", "a boat", "a desert")]


def make_photos(folder: Path, n: int, seed: int) -> None:
    from PIL import Image
    rng = np.random.default_rng(seed)
    for i in range(n):
        sub = folder / f"part{i % 3}"
        sub.mkdir(parents=True, exist_ok=True)
        h, w = int(rng.integers(40, 90)), int(rng.integers(40, 90))
        base = rng.integers(0, 255, size=3)
        ramp = np.linspace(0, 120, w)[None, :, None] * rng.random(3)
        img = np.clip(base + ramp + rng.normal(0, 30, (h, w, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(img).save(sub / f"img{i:03d}.jpg", quality=90)


@pytest.fixture(scope="session")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("photos")
    make_photos(folder, 72, 1)
    (folder / "part0" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a JPEG")
    (folder / "notes.txt").write_text("not an image")
    return folder


@pytest.fixture(scope="session")
def reference(photos: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The single-process index of the same folder, by the cerebro program."""
    db = tmp_path_factory.mktemp("ref") / "store"
    r = subprocess.run([CLI, "--db", str(db), "--model", str(TINY), "index", str(photos)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert "indexed 72, updated 0, unchanged 0, removed 0, failed 1" in r.stdout, r.stdout
    return db


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    c = Client(cluster)
    yield c
    c.close()
    cluster.close()


def rows(db: Path) -> list[tuple]:
    """Every file row as the store holds it (ids and times of indexing aside)."""
    with sqlite3.connect(db / "cerebro.db") as con:
        return con.execute("SELECT path, size, mtime_ns, hash, kind, width, height, status, error "
                           "FROM files ORDER BY path").fetchall()


def vectors(db: Path) -> dict[str, np.ndarray]:
    with sqlite3.connect(db / "cerebro.db") as con:
        out = {}
        for path, blob in con.execute("SELECT f.path, i.vector FROM items i JOIN files f "
                                      "ON f.id = i.file_id"):
            assert path not in out, f"{path} has two items"
            out[path] = np.frombuffer(blob, dtype=np.float32)
        return out


def assert_same_store(got: Path, want: Path) -> None:
    assert rows(got) == rows(want)
    a, b = vectors(got), vectors(want)
    assert a.keys() == b.keys()
    worst = min(float(np.dot(a[p], b[p])) for p in a)
    assert worst >= BF16_COSINE, f"cosine {worst:.6f} below the bf16 bound"
    # The top 10 of 20 queries: the same files in the same order, except
    # where two files' scores lie within what the bf16 difference can move
    # a score (|q.a - q.b| <= |a - b| for a unit query q).
    tie = 2 * max(float(np.linalg.norm(a[p] - b[p])) for p in a) + 1e-6
    with cerebro.Model(TINY) as m, cerebro.Index(got, m, readonly=True) as gi, \
            cerebro.Index(want, m, readonly=True) as wi:
        for q in QUERIES:
            text = m.encode_text([q])[0]
            g, w = gi.search(q, k=10, min_relevance=0), wi.search(q, k=10, min_relevance=0)
            score = {p: float(np.dot(text, v)) for p, v in b.items()}
            assert len(g) == len(w) == 10, q
            for i, (hg, hw) in enumerate(zip(g, w)):
                assert hg.path == hw.path or abs(score[hg.path] - score[hw.path]) <= tie, \
                    f"{q!r} rank {i}: {hg.path} ({score[hg.path]:.5f}) for {hw.path} ({score[hw.path]:.5f})"
                if hg.path == hw.path:
                    assert abs(hg.score - hw.score) <= tie / 2 + 1e-5, q


def run(client, db: Path, paths: list[Path], **kw) -> distributed.Report:
    return distributed.index(client, str(db), str(TINY), [str(p) for p in paths], **kw)


def test_equals_single_process_index(client, photos: Path, reference: Path, tmp_path: Path) -> None:
    db = tmp_path / "store"
    report = run(client, db, [photos], batch=8)
    assert (report.added, report.failed, report.unchanged, report.encoded) == (72, 1, 0, 73)
    assert len(report.failures) == 1 and report.failures[0][0].endswith("broken.jpg")
    assert "broken.jpg" in report.failures[0][1]
    assert_same_store(db, reference)
    # Nothing left to do: a rerun encodes nothing.
    again = run(client, db, [photos], batch=8)
    assert (again.encoded, again.unchanged, again.total) == (0, 73, 0)


def test_command_line(photos: Path, reference: Path, tmp_path: Path) -> None:
    db = tmp_path / "store"
    r = subprocess.run([sys.executable, "-m", "cerebro.distributed", "index", "--local", "2",
                        "--db", str(db), "--model", str(TINY), "--batch", "16", str(photos)],
                       capture_output=True, text=True, timeout=600, cwd=photos)
    assert r.returncode == 0, r.stderr
    # The summary and the failed file as `cerebro index` prints them, no bar off a terminal.
    assert r.stdout.startswith("indexed 72, updated 0, unchanged 0, removed 0, failed 1 in "), r.stdout
    assert "failed:\n  part0/broken.jpg: " in r.stdout, r.stdout
    assert "\r" not in r.stderr
    assert_same_store(db, reference)
    bad = subprocess.run([sys.executable, "-m", "cerebro.distributed", "index", "--db", str(db),
                          "--model", str(TINY), str(photos)], capture_output=True, text=True)
    assert bad.returncode == 2 and "--scheduler" in bad.stderr


def test_interrupted_client_resumes(client, photos: Path, reference: Path, tmp_path: Path) -> None:
    db = tmp_path / "store"
    # Stop after the second commit, as a client killed there would: what
    # was committed stays, the tasks in flight are dropped.
    first = run(client, db, [photos], batch=8, window=2, progress=lambda r: r.batches >= 2)
    assert first.cancelled
    committed = len(rows(db))
    assert committed == first.encoded == 16
    second = run(client, db, [photos], batch=8)
    assert not second.cancelled
    assert second.unchanged == committed
    assert second.encoded == 73 - committed  # only the rest was encoded
    assert_same_store(db, reference)


def test_rerun_drops_deleted_and_moved_files(client, photos: Path, tmp_path: Path) -> None:
    """A rerun after photos were deleted and moved leaves the store as `cerebro index`
    would: the deleted file gone, the moved one under its new path only."""
    import shutil
    folder = tmp_path / "photos"
    shutil.copytree(photos, folder)
    db = tmp_path / "store"
    first = run(client, db, [folder], batch=8)
    assert (first.added, first.removed) == (72, 0)
    (folder / "part1" / "img001.jpg").unlink()
    (folder / "part2" / "img002.jpg").rename(folder / "part0" / "moved.jpg")
    again = run(client, db, [folder], batch=8)
    assert (again.encoded, again.added, again.removed) == (1, 1, 2), again
    on_disk = {str(p) for p in folder.rglob("*.jpg")}
    assert {r[0] for r in rows(db)} == on_disk
    assert len(vectors(db)) == 71
    r = subprocess.run([CLI, "--db", str(db), "--model", str(TINY), "index", str(folder)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0 and "indexed 0, updated 0, unchanged 72, removed 0" in r.stdout, r.stdout


def test_exclude_leaves_files_and_folders_out(client, photos: Path, tmp_path: Path) -> None:
    """exclude= as `cerebro index --exclude`: the workers never get the excluded files, and a
    rerun that excludes an indexed folder drops it from the store."""
    db = tmp_path / "store"
    first = run(client, db, [photos], batch=8, exclude=["part1", "broken.jpg"])
    assert (first.encoded, first.added, first.failed) == (48, 48, 0), first
    assert not any("/part1/" in r[0] for r in rows(db))
    again = run(client, db, [photos], batch=8, exclude=["part2/", "broken.jpg"])
    assert (again.encoded, again.added, again.removed) == (24, 24, 24), again
    assert {Path(r[0]).parent.name for r in rows(db)} == {"part0", "part1"}


def test_merge_of_three_equals_union(client, photos: Path, reference: Path, tmp_path: Path) -> None:
    shards = []
    for i in range(3):
        shards.append(tmp_path / f"shard{i}")
        run(client, shards[-1], [photos / f"part{i}"], batch=8)
    merged = tmp_path / "merged"
    with cerebro.Model(TINY) as m, cerebro.Index(merged, m) as ix:
        stats = ix.merge(shards)
    assert (stats.added, stats.failed, stats.updated, stats.skipped) == (72, 1, 0, 0)
    assert_same_store(merged, reference)


def test_other_models_and_dimensions_refused(reference: Path, tmp_path: Path) -> None:
    with cerebro.Model(OTHER) as other, cerebro.Index(tmp_path / "other", other) as ix:
        with pytest.raises(cerebro.MismatchError, match="only stores of the same model"):
            ix.merge([reference])
        assert len(ix) == 0
    with cerebro.Model(TINY) as m, cerebro.Model(OTHER) as other, cerebro.Index(tmp_path / "s", m) as ix:
        item = cerebro.Embedding("/data/a.jpg", 10, 1)
        with pytest.raises(cerebro.MismatchError, match="dimensional"):
            ix.add_embeddings([item], np.ones((1, m.dim + 1), np.float32))
        with pytest.raises(cerebro.MismatchError, match="model id"):
            ix.add_embeddings([item], np.ones((1, m.dim), np.float32), model_id=other.id)
        assert len(ix) == 0
        ix.add_embeddings([item], np.ones((1, m.dim), np.float32))
        assert len(ix) == 1


def test_worker_killed_mid_run(client, tmp_path: Path) -> None:
    """A worker process kills itself (SIGKILL) in the middle of the task
    holding one given file; Dask reruns that task on a worker started in
    its place. Runs last in this module: the cluster loses a worker."""
    from kill_plugin import KillOnce

    photos = tmp_path / "many"
    make_photos(photos, 150, 2)
    marker = tmp_path / "killed"
    client.register_worker_plugin(KillOnce(str(photos / "part1" / "img076.jpg"), str(marker)))
    db = tmp_path / "store"
    report = run(client, db, [photos], batch=4)
    assert marker.exists(), "no worker was killed"
    killed = int(marker.read_text())
    assert not report.lost and not report.failures
    assert report.encoded == report.added == 150
    # Every file exactly once, as one process indexes it.
    single = tmp_path / "single"
    r = subprocess.run([CLI, "--db", str(single), "--model", str(TINY), "index", str(photos)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert len(vectors(db)) == len(rows(db)) == 150
    assert_same_store(db, single)
    client.wait_for_workers(2, timeout=60)
    assert killed not in client.run(os.getpid).values()
