"""cerebro.Index: a durable store of embeddings with k-NN search. Searches
may run from many threads at once; adds and removes are serialised inside
the library."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
import ctypes
from ctypes import c_int, POINTER, byref, c_char_p, c_float, c_uint64
from dataclasses import dataclass, field
from typing import Any, Optional, Union

import numpy as np

from . import _lib
from ._handle import Handle, Owner
from .errors import Status, error_for, status_of
from .model import Model, PathLike, _buffer, _mode

Query = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, np.ndarray, Sequence[float]]


@dataclass(frozen=True)
class Hit:
    """One search result. timestamp: seconds into a video, None for stills;
    kind: "image" or "video-frame". relevance: how many standard deviations
    the score stands above the query's mean score over the store, adjusted for
    the store's size (cerebro_results_relevance; comparable across queries and
    stores, unlike score); math.nan when the store has fewer than 50 items, and
    for Index.get(); not compared by ==."""

    id: int
    score: float
    path: str
    width: int
    height: int
    timestamp: Optional[float]
    kind: str = "image"
    relevance: float = field(default=math.nan, compare=False)


@dataclass(frozen=True)
class Progress:
    """What cerebro_index_add() reports after each file, and while a video
    decodes (partial=True, at least twice a second; `done` does not count it yet).
    """

    done: int
    total: int
    added: int
    skipped: int
    failed: int
    path: str
    status: Status | int
    message: Optional[str]
    partial: bool = False


@dataclass(frozen=True)
class AddStats:
    added: int
    updated: int
    skipped: int
    removed: int
    failed: int
    frames: int


def _is_id(item: object) -> bool:
    """An item id (an int, not a bool); anything else is a path."""
    return isinstance(item, (int, np.integer)) and not isinstance(item, bool)


@dataclass(frozen=True)
class IndexStats:
    dim: int
    count: int
    files: int
    failed: int
    memory_bytes: int
    recall_at_10: float
    structure: str
    model_id: str


@dataclass(frozen=True)
class PendingFile:
    """A file Index.pending() found that the store does not have unchanged:
    the store's key (absolute path), size, mtime in nanoseconds, and kind
    ("image" or "video-frame", what Index.add() would make of it)."""

    path: str
    size: int
    mtime_ns: int
    kind: str = "image"


@dataclass(frozen=True)
class WalkError:
    """Something Index.pending() could not visit, as Index.add() reports it."""

    path: str
    status: Status | int
    message: str


@dataclass(frozen=True)
class Pending:
    files: list[PendingFile]
    errors: list[WalkError]
    unchanged: int


@dataclass(frozen=True)
class Embedding:
    """One precomputed item for Index.add_embeddings(): its row of `vectors`
    is the vector (ignored for a failed file: status != OK). hash: the
    SHA-256 of the file's bytes (32 bytes) or None; timestamp: seconds into
    a video for kind "video-frame", else None."""

    path: str
    size: int
    mtime_ns: int
    hash: Optional[bytes] = None
    width: int = 0
    height: int = 0
    kind: str = "image"
    timestamp: Optional[float] = None
    status: Status | int = Status.OK
    error: Optional[str] = None


ProgressCallback = Callable[[Progress], Optional[bool]]


def _text(raw: bytes | None) -> str:
    return os.fsdecode(raw) if raw is not None else ""


def ctypes_float_at(address: int) -> Any:
    """A float* to the given address (a row of a numpy array kept alive by the caller)."""
    return ctypes.cast(address, POINTER(c_float))


class Index(Owner):
    """An index directory opened with cerebro_index_open() for `model`.

    factory: FAISS factory string (None: chosen from the collection size).
    create: create the directory if missing. readonly: search only.
    recall_target: recall@10 an approximate structure is tuned to, in (0, 1]
    (0: the store's recorded target, 0.95 for a new store).
    The Index keeps its Model alive (and open) until the Index is closed;
    close() (or `with`) closes it, and committed work is durable.
    """

    def __init__(self, dir: PathLike, model: Model, factory: str | None = None, create: bool = True,
                 readonly: bool = False, memory_budget: int = 0, recall_target: float = 0.0) -> None:
        if not isinstance(model, Model):
            raise TypeError(f"model: expected cerebro.Model, got {type(model).__name__}")
        lib = _lib.lib()
        opts = _lib.IndexOptions()
        lib.cerebro_index_options_init(byref(opts))
        opts.flags = (_lib.INDEX_CREATE if create else 0) | (_lib.INDEX_READONLY if readonly else 0)
        factory_raw = factory.encode() if factory is not None else None
        opts.factory = factory_raw
        opts.memory_budget = memory_budget
        opts.recall_target = recall_target
        ptr = POINTER(_lib.IndexHandle)()
        with model._handle.use() as m:
            _lib.check(lib.cerebro_index_open(byref(ptr), _lib.fspath(dir), m, byref(opts)))
        self._lib = lib
        self.model = model
        self.dir = os.fsdecode(dir)
        self._handle = Handle(self, ptr, lib, "cerebro_index_free", "Index", holds=(model._handle,))

    def __repr__(self) -> str:
        return f"<cerebro.Index {self.dir!r}{' closed' if self.closed else ''}>"

    # ---- writing ------------------------------------------------------------

    def add(self, paths: Sequence[PathLike] | PathLike, progress: ProgressCallback | None = None,
            recurse: bool = True, hidden: bool = False, follow_symlinks: bool = False,
            video: bool = True, mode: str = "fast", batch_size: int = 0, commit_every: int = 0,
            workers: int = 0, frame_interval: float = 0, max_frames: int = 0,
            dedup_threshold: float = 0, exclude: Sequence[str] = ()) -> AddStats:
        """Adds files and folders incrementally. progress(Progress) is called
        after each file; returning True cancels (CancelledError is raised after
        what was done is committed). An exception in progress cancels too and
        is re-raised. Videos: frame_interval (seconds between kept frames,
        0 = 10), max_frames (per video, 0 = 500), dedup_threshold (drop a
        frame whose cosine to the last kept one is above it; 0 = 0.98, 1 keeps
        all). exclude: fnmatch patterns of files and folders to leave out, a
        name at any depth ("Screenshots", "*.tmp") or, with a '/', a path below
        the folder given ("2019/raw"); what an earlier run indexed there is
        removed."""
        if isinstance(paths, (str, bytes, os.PathLike)):
            paths = [paths]
        raw = [_lib.fspath(p) for p in paths]
        opts, _keep = self._walk_options(recurse, hidden, follow_symlinks, video, exclude)
        opts.mode = _mode(mode)
        opts.batch_size, opts.commit_every, opts.n_workers = batch_size, commit_every, workers
        opts.frame_interval, opts.max_frames = frame_interval, max_frames
        opts.dedup_threshold = dedup_threshold
        raised: list[BaseException] = []

        def on_progress(_user: object, p: Any) -> int:
            if progress is None or raised:
                return 1 if raised else 0
            c = p.contents
            try:
                return 1 if progress(Progress(c.done, c.total, c.added, c.skipped, c.failed,
                                              _text(c.path), status_of(c.status),
                                              _text(c.message) if c.message else None,
                                              bool(c.partial))) else 0
            except BaseException as e:  # re-raised after the C call unwinds
                raised.append(e)
                return 1

        opts.progress = _lib.PROGRESS_FN(on_progress) if progress else _lib.PROGRESS_FN()
        stats = _lib.AddStats()
        arr = (c_char_p * max(len(raw), 1))(*raw)
        with self._handle.use() as ix:
            st = self._lib.cerebro_index_add(ix, arr, len(raw), byref(opts), byref(stats))
            if raised:
                raise raised[0]
            _lib.check(st)
        return AddStats(stats.added, stats.updated, stats.skipped, stats.removed, stats.failed,
                        stats.frames)

    def _walk_options(self, recurse: bool, hidden: bool, follow_symlinks: bool, video: bool,
                      exclude: Sequence[str] | str) -> tuple[Any, Any]:
        """Add options with the walk's rules; the second value keeps the
        pattern array alive for the call."""
        opts = _lib.AddOptions()
        self._lib.cerebro_add_options_init(byref(opts))
        opts.flags = ((0 if recurse else _lib.ADD_NO_RECURSE) | (_lib.ADD_HIDDEN if hidden else 0)
                      | (_lib.ADD_FOLLOW_SYMLINKS if follow_symlinks else 0)
                      | (0 if video else _lib.ADD_NO_VIDEO))
        if isinstance(exclude, (str, bytes)):
            exclude = [exclude]
        patterns = [_lib.fspath(p) for p in exclude]
        arr = (c_char_p * max(len(patterns), 1))(*patterns)
        opts.exclude = ctypes.cast(arr, POINTER(c_char_p)) if patterns else None
        opts.n_exclude = len(patterns)
        return opts, arr

    def pending(self, paths: Sequence[PathLike] | PathLike, recurse: bool = True,
                hidden: bool = False, follow_symlinks: bool = False, video: bool = True,
                exclude: Sequence[str] | str = ()) -> Pending:
        """What add(paths) would encode now: the files found with add's rules
        (exclude as add takes it) less those the store has with the same size
        and mtime, the paths that could not be visited, and how many files were
        unchanged. Nothing is written."""
        if isinstance(paths, (str, bytes, os.PathLike)):
            paths = [paths]
        raw = [_lib.fspath(p) for p in paths]
        opts, _keep = self._walk_options(recurse, hidden, follow_symlinks, video, exclude)
        files: list[PendingFile] = []
        errors: list[WalkError] = []

        def on_file(_user: object, path: bytes, size: int, mtime_ns: int, kind: int, status: int,
                    message: bytes | None) -> int:
            if status != Status.OK:
                errors.append(WalkError(_text(path), status_of(status), _text(message)))
            else:
                files.append(PendingFile(_text(path), size, mtime_ns,
                                         "video-frame" if kind == _lib.ITEM_VIDEO_FRAME else "image"))
            return 0

        unchanged = c_uint64(0)
        arr = (c_char_p * max(len(raw), 1))(*raw)
        with self._handle.use() as ix:
            st = self._lib.cerebro_index_pending_opts(ix, arr, len(raw), byref(opts),
                                                      _lib.PENDING_FN(on_file), None, byref(unchanged))
            _lib.check(st)
        return Pending(files, errors, unchanged.value)

    def add_embeddings(self, items: Sequence[Embedding], vectors: np.ndarray,
                       model_id: str | None = None) -> AddStats:
        """Stores precomputed vectors (float32 [len(items), dim], one row per
        item) with their files' metadata in one transaction; items with the
        same path are the frames of one video; a path already stored is
        replaced. model_id: the model that made the vectors (default: this
        index's model); it and the vectors' dimension must be the store's,
        else MismatchError."""
        vecs = np.ascontiguousarray(vectors, dtype=np.float32)
        if vecs.ndim != 2 or vecs.shape[0] != len(items):
            raise error_for(Status.E_INVALID, f"vectors: expected [{len(items)}, dim], got shape "
                            f"{vecs.shape}")
        arr = (_lib.Embedding * max(len(items), 1))()
        keep: list[bytes] = []
        base = vecs.ctypes.data
        row = vecs.shape[1] * 4
        for i, it in enumerate(items):
            e = arr[i]
            e.version = _lib.EMBEDDING_VERSION
            e.kind = _lib.ITEM_VIDEO_FRAME if it.kind == "video-frame" else _lib.ITEM_IMAGE
            path = _lib.fspath(it.path)
            keep.append(path)
            e.path = path
            e.size, e.mtime_ns = it.size, it.mtime_ns
            if it.hash is not None:
                if len(it.hash) != 32:
                    raise error_for(Status.E_INVALID, f"{it.path}: hash of {len(it.hash)} bytes; "
                                    "expected a 32-byte SHA-256")
                e.hash[:] = list(it.hash)
            e.width, e.height = it.width, it.height
            e.timestamp = -1.0 if it.timestamp is None else it.timestamp
            e.status = int(it.status)
            if it.status == Status.OK:
                e.vector = ctypes_float_at(base + i * row)
            elif it.error is not None:
                msg = it.error.encode("utf-8", "replace")
                keep.append(msg)
                e.error = msg
        stats = _lib.AddStats()
        mid = (model_id if model_id is not None else self.model.id).encode()
        with self._handle.use() as ix:
            _lib.check(self._lib.cerebro_index_add_embeddings(ix, mid, vecs.shape[1], arr, len(items),
                                                              byref(stats)))
        return AddStats(stats.added, stats.updated, stats.skipped, stats.removed, stats.failed,
                        stats.frames)

    def merge(self, dirs: Sequence[PathLike] | PathLike) -> AddStats:
        """Copies the stores in `dirs` (same model, opened read-only) into this
        one; on a path in both, the newer mtime wins (this store's on a tie:
        stats.skipped). Another model's store raises MismatchError before
        anything is written."""
        if isinstance(dirs, (str, bytes, os.PathLike)):
            dirs = [dirs]
        raw = [_lib.fspath(d) for d in dirs]
        arr = (c_char_p * max(len(raw), 1))(*raw)
        stats = _lib.AddStats()
        with self._handle.use() as ix:
            _lib.check(self._lib.cerebro_index_merge(ix, arr, len(raw), byref(stats)))
        return AddStats(stats.added, stats.updated, stats.skipped, stats.removed, stats.failed,
                        stats.frames)

    def remove(self, item: int | PathLike | list[int | PathLike] | tuple[int | PathLike, ...]
               ) -> list[int | PathLike] | None:
        """Removes an item by id (int) or a file (every frame of a video) by
        path; NotFoundError when it is not in the index. A list or tuple of
        them (or a numpy array of ids) is removed in one committed step (one rewrite of the search
        structure, not one per item) and returns those that were not in the
        index ([] when all were); NotFoundError only when none was."""
        if isinstance(item, (list, tuple, np.ndarray)):
            return self._remove_many(list(item))
        with self._handle.use() as ix:
            if _is_id(item):
                _lib.check(self._lib.cerebro_index_remove_id(ix, int(item)))
            else:
                _lib.check(self._lib.cerebro_index_remove_path(ix, _lib.fspath(item)))
        return None

    def _remove_many(self, items: list[int | PathLike]) -> list[int | PathLike]:
        # the C call takes the paths, then the ids: `order` maps its statuses back
        order = ([k for k, it in enumerate(items) if not _is_id(it)] +
                 [k for k, it in enumerate(items) if _is_id(it)])
        ids = [items[k] for k in order if _is_id(items[k])]
        raw = [_lib.fspath(items[k]) for k in order if not _is_id(items[k])]
        path_arr = (c_char_p * max(len(raw), 1))(*raw)
        id_arr = (ctypes.c_int64 * max(len(ids), 1))(*[int(i) for i in ids])
        statuses = (c_int * max(len(items), 1))()
        with self._handle.use() as ix:
            _lib.check(self._lib.cerebro_index_remove_many(ix, path_arr, len(raw), id_arr, len(ids),
                                                           statuses, None))
        return [items[k] for k in sorted(k for k, st in zip(order, statuses) if st != Status.OK)]

    # ---- reading ------------------------------------------------------------

    def search(self, query: Query, k: int = 10, prefix: PathLike | None = None,
               min_relevance: float | None = None) -> list[Hit]:
        """The k best matches for a query: str is text, a pathlib.Path (any
        os.PathLike) is an image file, bytes are an encoded image (either in
        any format libcerebro reads, told by the bytes), a numpy
        array or float sequence is an embedding of the model's dim.
        min_relevance: drop hits whose Hit.relevance is below it (None: the
        library's default, cerebro.default_min_relevance(); 0 or less: keep
        every hit), so a query nothing matches returns []."""
        opts, _keep = self._search_options(k, prefix, min_relevance)
        out = POINTER(_lib.ResultsHandle)()
        with self._handle.use() as ix:
            if isinstance(query, str):
                st = self._lib.cerebro_index_search_text(ix, self._utf8(query), byref(opts), byref(out))
            elif isinstance(query, os.PathLike):
                st = self._lib.cerebro_index_search_image_file(ix, _lib.fspath(query), byref(opts),
                                                               byref(out))
            elif isinstance(query, (bytes, bytearray, memoryview)):
                ptr, n, _data = _buffer(query)
                st = self._lib.cerebro_index_search_image_memory(ix, ptr, n, byref(opts), byref(out))
            else:
                vec = np.ascontiguousarray(query, dtype=np.float32)
                if vec.shape != (self.model.dim,):
                    raise error_for(Status.E_INVALID, f"vector query: expected shape "
                                    f"({self.model.dim},), got {vec.shape}")
                st = self._lib.cerebro_index_search_vector(ix, vec.ctypes.data_as(POINTER(c_float)),
                                                           byref(opts), byref(out))
            _lib.check(st)
        return self._hits(out)

    def similar(self, id: int, k: int = 10, prefix: PathLike | None = None,
                min_relevance: float | None = None) -> list[Hit]:
        """Neighbours of an indexed item ("more like this"), itself excluded;
        min_relevance as in search()."""
        opts, _keep = self._search_options(k, prefix, min_relevance)
        out = POINTER(_lib.ResultsHandle)()
        with self._handle.use() as ix:
            _lib.check(self._lib.cerebro_index_search_id(ix, int(id), byref(opts), byref(out)))
        return self._hits(out)

    def get(self, id: int) -> Hit:
        """The item with this id (NotFoundError if absent)."""
        out = POINTER(_lib.ResultsHandle)()
        with self._handle.use() as ix:
            _lib.check(self._lib.cerebro_index_get(ix, int(id), byref(out)))
        return self._hits(out)[0]

    def vector(self, id: int) -> np.ndarray:
        """The stored embedding of an item, float32 [dim]."""
        out = np.empty(self.model.dim, dtype=np.float32)
        with self._handle.use() as ix:
            _lib.check(self._lib.cerebro_index_get_vector(ix, int(id),
                                                          out.ctypes.data_as(POINTER(c_float))))
        return out

    def stats(self) -> IndexStats:
        s = _lib.IndexStats()
        s.version = 1
        with self._handle.use() as ix:
            _lib.check(self._lib.cerebro_index_stats_get(ix, byref(s)))
        return IndexStats(s.dim, s.count, s.files, s.failed, s.memory_bytes, s.recall_at_10,
                          s.structure.decode("utf-8", "replace"), s.model_id.decode("ascii", "replace"))

    def __len__(self) -> int:
        return self.stats().count

    def refresh(self) -> bool:
        """Read-only index: take up what another handle or process committed
        (once its add() returned). True when the searched state moved."""
        changed = c_int(0)
        with self._handle.use() as ix:
            _lib.check(self._lib.cerebro_index_refresh(ix, byref(changed)))
        return bool(changed.value)

    # ---- helpers ------------------------------------------------------------

    @staticmethod
    def _utf8(text: str) -> bytes:
        raw = text.encode("utf-8")
        if b"\0" in raw:
            raise error_for(Status.E_INVALID, "query text contains a NUL character")
        return raw

    def _search_options(self, k: int, prefix: PathLike | None,
                        min_relevance: float | None) -> tuple[_lib.SearchOptions, Any]:
        opts = _lib.SearchOptions()
        self._lib.cerebro_search_options_init(byref(opts))
        if not 1 <= k <= _lib.MAX_K:
            raise error_for(Status.E_LIMIT, f"k={k}: must be 1..{_lib.MAX_K}")
        opts.k = k
        if min_relevance is not None:
            if isinstance(min_relevance, bool) or not isinstance(min_relevance, (int, float, np.number)) \
                    or math.isnan(min_relevance):
                raise error_for(Status.E_INVALID, f"min_relevance={min_relevance!r}: must be a number")
            opts.min_relevance = float(min_relevance)
        raw = _lib.fspath(prefix) if prefix is not None else None
        opts.prefix = raw
        return opts, raw

    def _hits(self, results: Any) -> list[Hit]:
        """Copies the hits out and frees the results handle."""
        try:
            hits = []
            hit = _lib.Hit()
            for i in range(self._lib.cerebro_results_count(results)):
                _lib.check(self._lib.cerebro_results_get(results, i, byref(hit)))
                hits.append(Hit(hit.id, hit.score, _text(hit.path), hit.width, hit.height,
                                None if hit.timestamp < 0 else hit.timestamp,
                                "video-frame" if hit.kind == _lib.ITEM_VIDEO_FRAME else "image",
                                self._lib.cerebro_results_relevance(results, i)))
            return hits
        finally:
            self._lib.cerebro_results_free(results)
