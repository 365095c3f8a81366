"""cerebro.distributed: index a collection on a Dask cluster.

The client walks the paths with the store's own rules (Index.pending: the
files `cerebro index` would encode, less those the store has unchanged) and
submits batches of a few hundred paths as Dask tasks. Each worker opens the
model once (a worker plugin) and encodes its batches with
Model.encode_images; the client commits each result as it arrives with
Index.add_embeddings, so an interrupted run resumes where it stopped.
Scheduling, data transfer and retries are Dask's: a worker that dies
mid-task has its task rerun elsewhere, and a result is committed once per
batch whoever computed it. Photos must be readable at the same path by
every worker (shared storage); the store lives with the client.

The client ends with the incremental pass `cerebro index` makes
(Index.add over the same paths): it encodes the videos (their frames are
sampled in order by one decoder) and files that appeared meanwhile, and
removes the files gone from under the given folders, so a rerun after
deleting or moving photos leaves no stale entry. When Dask gave up on some
tasks, that pass covers the videos only: the lost files are not encoded on
the client instead (run again to retry them on the cluster).

    python3 -m cerebro.distributed index --local 2 --db photos.cerebro \\
        --model models/default.pt photos/
    python3 -m cerebro.distributed index --scheduler tcp://head:8786 ...
    python3 -m cerebro.distributed merge --db all.cerebro shard1 shard2
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np
from distributed import WorkerPlugin

from .errors import Error, Status
from .index import AddStats, Embedding, Index, PendingFile
from .model import Model

#: Paths per task: large enough that a task outweighs its scheduling cost
#: (a few ms), small enough that a lost worker loses little.
DEFAULT_BATCH = 256

# The models a worker process has open, by (path, threads, precision): the
# plugin opens one when the worker starts, and every task of that worker
# uses it.
_MODELS: dict[tuple[str, int, str], Model] = {}


def _model_key(path: str, threads: int, precision: str) -> tuple[str, int, str]:
    return (os.path.abspath(path), int(threads), precision)


def _open_model(key: tuple[str, int, str]) -> Model:
    model = _MODELS.get(key)
    if model is None:
        model = _MODELS[key] = Model(key[0], threads=key[1] or None, precision=key[2])
    return model


class ModelPlugin(WorkerPlugin):
    """Dask worker plugin: opens the model once per worker process (again
    in a worker that restarts) and closes it when the worker stops."""

    def __init__(self, model: str, threads: int = 0, precision: str = "auto") -> None:
        self.key = _model_key(model, threads, precision)
        self.name = "cerebro-model-" + "-".join(str(k) for k in self.key)

    def setup(self, worker: Any = None) -> None:
        _open_model(self.key)

    def teardown(self, worker: Any = None) -> None:
        model = _MODELS.pop(self.key, None)
        if model is not None:
            model.close()


@dataclass
class BatchResult:
    """What a task sends back: the vectors of its paths with each file's
    size in pixels and content hash, and the files that failed."""

    paths: list[str]
    vectors: np.ndarray   # float32 [n, dim]
    sizes: np.ndarray     # uint32 [n, 2]
    hashes: np.ndarray    # uint8 [n, 32]
    errors: dict[int, tuple[int, str]]  # index -> (status, message)
    model_id: str
    worker_pid: int


def encode_batch(key: tuple[str, int, str], paths: list[str], mode: str = "fast",
                 batch_size: int = 0) -> BatchResult:
    """The task: encodes one batch of image files on a worker."""
    model = _open_model(key)
    sizes = np.zeros((len(paths), 2), dtype=np.uint32)
    hashes = np.zeros((len(paths), 32), dtype=np.uint8)
    vectors, errors = model.encode_images(paths, mode=mode, batch_size=batch_size,
                                          workers=key[1], sizes=sizes, hashes=hashes)
    return BatchResult(paths, vectors, sizes, hashes,
                       {e.index: (int(e.status), e.message) for e in errors}, model.id, os.getpid())


@dataclass
class Report:
    """Totals of a run so far (passed to the progress callback after each
    commit, and returned)."""

    total: int = 0          # files found that needed encoding
    unchanged: int = 0      # files the store had unchanged
    done: int = 0           # files committed (or given up on) so far
    added: int = 0
    updated: int = 0
    removed: int = 0        # files gone from under the given folders, dropped from the store
    failed: int = 0
    frames: int = 0
    encoded: int = 0        # images sent back by workers and committed
    batches: int = 0        # tasks committed
    failures: list[tuple[str, str]] = field(default_factory=list)  # (path, message)
    lost: list[str] = field(default_factory=list)  # paths of tasks Dask gave up on
    cancelled: bool = False
    seconds: float = 0.0


ProgressCallback = Callable[[Report], Optional[bool]]


def _items(result: BatchResult, files: dict[str, PendingFile]) -> list[Embedding]:
    items = []
    for i, path in enumerate(result.paths):
        f = files[path]
        digest = bytes(result.hashes[i])
        status, message = result.errors.get(i, (Status.OK, None))
        items.append(Embedding(path, f.size, f.mtime_ns, digest if any(digest) else None,
                               int(result.sizes[i, 0]), int(result.sizes[i, 1]),
                               status=status, error=message))
    return items


def _count(report: Report, stats: AddStats) -> None:
    report.added += stats.added
    report.updated += stats.updated
    report.removed += stats.removed
    report.failed += stats.failed
    report.frames += stats.frames


def index(client: Any, db: str, model: str, paths: Sequence[str], *, batch: int = DEFAULT_BATCH,
          mode: str = "fast", threads: int = 1, precision: str = "auto", recurse: bool = True,
          hidden: bool = False, follow_symlinks: bool = False, video: bool = True,
          exclude: Sequence[str] = (), window: int = 0,
          progress: ProgressCallback | None = None) -> Report:
    """Indexes `paths` into the store `db` on the cluster of a
    distributed.Client. threads: intra-op and decode threads of each
    worker's model (the worker's share of the cores). exclude: patterns of
    files and folders to leave out, as Index.add takes them. window: tasks in
    flight at once (0: four per worker thread). progress(report) runs after
    each commit; returning True stops the run (what was committed stays,
    report.cancelled is set); an exception in it cancels the tasks and is
    raised."""
    from distributed import as_completed

    if batch < 1:
        raise ValueError(f"batch {batch}: must be >= 1")
    start = time.monotonic()
    report = Report()
    key = _model_key(model, threads, precision)
    with Model(model, threads=threads, precision=precision) as local, Index(db, local) as ix:
        pending = ix.pending(paths, recurse=recurse, hidden=hidden, follow_symlinks=follow_symlinks,
                             video=video, exclude=exclude)
        report.unchanged = pending.unchanged
        report.total = len(pending.files) + len(pending.errors)
        for e in pending.errors:
            report.failures.append((e.path, e.message))
            report.done += 1
        files = {f.path: f for f in pending.files}
        images = [f.path for f in pending.files if f.kind == "image"]
        videos = [f.path for f in pending.files if f.kind != "image"]
        batches = [images[i:i + batch] for i in range(0, len(images), batch)]
        if batches:
            client.register_worker_plugin(ModelPlugin(model, threads, precision))
            if window <= 0:
                window = 4 * max(1, sum(client.nthreads().values()))
            _run_batches(client, as_completed, ix, key, batches, files, mode, window, report,
                         progress)
        if not report.cancelled:
            final = videos if report.lost else list(paths)
            if final:
                known = {path for path, _ in report.failures}
                stats = ix.add(final, mode=mode, workers=threads, recurse=recurse, hidden=hidden,
                               follow_symlinks=follow_symlinks, video=video, exclude=exclude,
                               progress=lambda p: _final_progress(p, report, known))
                _count(report, stats)
            report.done = max(report.done, report.total)
    report.seconds = time.monotonic() - start
    return report


def _final_progress(p: Any, report: Report, known: set[str]) -> None:
    """A failure of the client's own pass, unless the walk already reported it."""
    if p.path and p.status != Status.OK and not p.partial and p.path not in known:
        report.failures.append((p.path, p.message or "failed"))
        known.add(p.path)


def _run_batches(client: Any, as_completed: Any, ix: Index, key: tuple[str, int, str],
                 batches: list[list[str]], files: dict[str, PendingFile], mode: str, window: int,
                 report: Report, progress: ProgressCallback | None) -> None:
    todo = iter(batches)
    live: dict[Any, list[str]] = {}

    def submit_next(queue: Any) -> None:
        paths = next(todo, None)
        if paths is not None:
            fut = client.submit(encode_batch, key, paths, mode, pure=False)
            live[fut] = paths
            queue.add(fut)

    queue = as_completed()
    try:
        for _ in range(window):
            submit_next(queue)
        for fut in queue:
            paths = live.pop(fut)
            try:
                result = fut.result()
            except Error:
                raise
            except Exception as e:  # Dask gave up (a task whose workers kept dying)
                report.lost.extend(paths)
                report.failures.extend((p, f"not indexed: {type(e).__name__}: {e}") for p in paths)
                report.done += len(paths)
                submit_next(queue)
                continue
            submit_next(queue)  # keep the cluster busy while this one commits
            stats = ix.add_embeddings(_items(result, files), result.vectors, result.model_id)
            _count(report, stats)
            report.encoded += len(paths)
            report.batches += 1
            report.done += len(paths)
            report.failures.extend((result.paths[i], m) for i, (_, m) in sorted(result.errors.items()))
            if progress is not None and progress(report):
                report.cancelled = True
                break
    finally:
        if live:
            client.cancel(list(live))


# ---- command line ----------------------------------------------------------------


class _Bar:
    """A progress bar on stderr when it is a terminal; nothing otherwise."""

    WIDTH = 30

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.t0 = time.monotonic()
        self.shown = False

    def __call__(self, r: Report) -> None:
        if not self.tty or r.total == 0:
            return
        elapsed = time.monotonic() - self.t0
        rate = r.encoded / elapsed if elapsed > 0.5 else 0.0
        left = r.total - r.done
        eta = f"{int(left / rate) // 60}:{int(left / rate) % 60:02d}" if rate > 0 else "--:--"
        fill = self.WIDTH * r.done // r.total
        sys.stderr.write(f"\r\033[Kindexing [{'#' * fill}{'.' * (self.WIDTH - fill)}] "
                         f"{r.done}/{r.total}  {rate:.1f} files/s  ETA {eta}")
        sys.stderr.flush()
        self.shown = True

    def clear(self) -> None:
        if self.shown:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()


def _display(path: str) -> str:
    """A stored (absolute) path, relative to the current folder when under it."""
    cwd = os.getcwd()
    if cwd != "/" and path.startswith(cwd + "/"):
        return path[len(cwd) + 1:]
    return path


def _print_summary(r: Report) -> None:
    """The summary `cerebro index` prints, and every failed file with its reason."""
    line = (f"indexed {r.added}, updated {r.updated}, unchanged {r.unchanged}, removed {r.removed}, "
            f"failed {len(r.failures)} in {r.seconds:.1f} s")
    if r.frames:
        line += f" ({r.frames} video frames)"
    print(line)
    if r.failures:
        print("failed:")
    for path, message in r.failures:
        detail = message[len(path) + 1:].lstrip() if message.startswith(path + ":") else message
        print(f"  {_display(path)}: {detail}")


def _cluster(args: argparse.Namespace) -> tuple[Any, Any]:
    from distributed import Client, LocalCluster

    if args.scheduler:
        return Client(args.scheduler), None
    cluster = LocalCluster(n_workers=args.local, threads_per_worker=args.threads, processes=True,
                           dashboard_address=None)
    return Client(cluster), cluster


def _cmd_index(args: argparse.Namespace) -> int:
    client, cluster = _cluster(args)
    bar = _Bar()
    try:
        report = index(client, args.db, args.model, args.paths, batch=args.batch, mode=args.mode,
                       threads=args.threads, precision=args.precision,
                       recurse=not args.no_recurse, hidden=args.hidden,
                       follow_symlinks=args.follow_symlinks, video=not args.no_video,
                       exclude=args.exclude, progress=bar)
    except KeyboardInterrupt:
        bar.clear()
        print("interrupted: run again to resume (committed batches are kept)", file=sys.stderr)
        return 130
    except Error as e:
        bar.clear()
        print(f"cerebro.distributed: {e}", file=sys.stderr)
        return 1
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    bar.clear()
    _print_summary(report)
    if report.lost:
        print(f"cerebro.distributed: {len(report.lost)} files were not indexed (their tasks "
              "failed on every worker): run again to retry them", file=sys.stderr)
        return 1
    if report.total and report.added + report.updated + report.unchanged == 0:
        print("cerebro.distributed: no file could be indexed", file=sys.stderr)
        return 1
    return 0


def _cmd_merge(args: argparse.Namespace) -> int:
    t0 = time.monotonic()
    try:
        with Model(args.model, threads=1) as model, Index(args.db, model) as ix:
            s = ix.merge(args.stores)
    except Error as e:
        print(f"cerebro.distributed: {e}", file=sys.stderr)
        return 1
    print(f"merged {len(args.stores)} stores: added {s.added}, updated {s.updated}, "
          f"kept {s.skipped} newer, failed files {s.failed} in {time.monotonic() - t0:.1f} s")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python3 -m cerebro.distributed",
                                 description="Index images on a Dask cluster into one store.")
    sub = ap.add_subparsers(dest="command", required=True)
    ix = sub.add_parser("index", help="encode PATHS on the cluster, commit into --db")
    where = ix.add_mutually_exclusive_group(required=True)
    where.add_argument("--scheduler", metavar="ADDRESS", help="a running Dask scheduler")
    where.add_argument("--local", metavar="N", type=int, help="start a local cluster of N workers")
    ix.add_argument("--db", required=True, metavar="DIR", help="the index directory")
    ix.add_argument("--model", required=True, metavar="PATH",
                    help="model bundle, at the same path on every worker")
    ix.add_argument("--threads", type=int, default=1,
                    help="threads per worker (model and decoding; default 1)")
    ix.add_argument("--batch", type=int, default=DEFAULT_BATCH,
                    help=f"paths per task (default {DEFAULT_BATCH})")
    ix.add_argument("--mode", choices=("fast", "exact"), default="fast")
    ix.add_argument("--precision", choices=("auto", "fp32", "bf16"), default="auto")
    ix.add_argument("--hidden", action="store_true", help="include hidden files and folders")
    ix.add_argument("--no-recurse", action="store_true")
    ix.add_argument("--follow-symlinks", action="store_true")
    ix.add_argument("--no-video", action="store_true")
    ix.add_argument("--exclude", action="append", default=[], metavar="PATTERN",
                    help="leave out files and folders matching PATTERN (repeatable), as "
                    "cerebro index --exclude")
    ix.add_argument("paths", nargs="+", metavar="PATHS")
    mg = sub.add_parser("merge", help="merge stores of the same model into --db")
    mg.add_argument("--db", required=True, metavar="DIR")
    mg.add_argument("--model", required=True, metavar="PATH")
    mg.add_argument("stores", nargs="+", metavar="STORE")
    args = ap.parse_args(argv)
    if args.command == "index":
        if args.local is not None and args.local < 1:
            ap.error("--local: at least 1 worker")
        if args.threads < 1 or args.batch < 1:
            ap.error("--threads and --batch must be >= 1")
        return _cmd_index(args)
    return _cmd_merge(args)


if __name__ == "__main__":
    sys.exit(main())
