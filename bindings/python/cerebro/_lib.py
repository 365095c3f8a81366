"""Finds and loads libcerebro, checks its version, and declares every C
function and struct of include/cerebro/cerebro.h for ctypes.

The structs mirror the header field for field; tests/bindings checks their
sizes and offsets against the C compiler's. Options structs are filled by
the library's own *_options_init() before fields are set, so fields this
module does not know about keep the library's defaults.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading
from ctypes import (CFUNCTYPE, POINTER, Structure, c_char, c_char_p, c_double, c_float, c_int,
                    c_int32, c_int64, c_size_t, c_uint, c_uint8, c_uint32, c_uint64, c_void_p)
from pathlib import Path

from .errors import LibraryError, Status, error_for

#: The header version these declarations were written for.
VERSION_MAJOR, VERSION_MINOR, VERSION_PATCH = 0, 1, 0
VERSION_NUMBER = VERSION_MAJOR * 10000 + VERSION_MINOR * 100 + VERSION_PATCH

# ---- opaque handles ----------------------------------------------------------


class ModelHandle(Structure):
    """struct cerebro_model (opaque)."""


class ImageHandle(Structure):
    """struct cerebro_image (opaque)."""


class TokenizerHandle(Structure):
    """struct cerebro_tokenizer (opaque)."""


class IndexHandle(Structure):
    """struct cerebro_index (opaque)."""


class ResultsHandle(Structure):
    """struct cerebro_results (opaque)."""


# ---- structs -----------------------------------------------------------------


class ImageOptions(Structure):
    _fields_ = [("version", c_uint32), ("size", c_uint32), ("mean", c_float * 3),
                ("std", c_float * 3), ("mode", c_uint32), ("resize", c_uint32),
                ("flags", c_uint32), ("background", c_uint8 * 4), ("max_pixels", c_uint64),
                ("max_file_bytes", c_uint64)]


class ModelOptions(Structure):
    _fields_ = [("version", c_uint32), ("n_threads", c_uint32), ("precision", c_uint32),
                ("reserved", c_uint32), ("vocab_path", c_char_p)]


ITEM_ERROR_FN = CFUNCTYPE(None, c_void_p, c_size_t, c_int, c_char_p)


class EncodeOptions(Structure):
    _fields_ = [("version", c_uint32), ("mode", c_uint32), ("batch_size", c_uint32),
                ("n_workers", c_uint32), ("on_error", ITEM_ERROR_FN), ("user", c_void_p),
                ("sizes", POINTER(c_uint32)), ("hashes", POINTER(c_uint8))]


class IndexOptions(Structure):
    _fields_ = [("version", c_uint32), ("flags", c_uint32), ("factory", c_char_p),
                ("memory_budget", c_uint64), ("recall_target", c_double)]


class Progress(Structure):
    _fields_ = [("version", c_uint32), ("partial", c_uint32), ("done", c_uint64),
                ("total", c_uint64), ("added", c_uint64), ("skipped", c_uint64),
                ("failed", c_uint64), ("path", c_char_p), ("status", c_int),
                ("message", c_char_p)]


PROGRESS_FN = CFUNCTYPE(c_int, c_void_p, POINTER(Progress))


class AddOptions(Structure):
    _fields_ = [("version", c_uint32), ("flags", c_uint32), ("mode", c_uint32),
                ("batch_size", c_uint32), ("commit_every", c_uint32), ("n_workers", c_uint32),
                ("progress", PROGRESS_FN), ("user", c_void_p), ("frame_interval", c_double),
                ("max_frames", c_uint32), ("scene_threshold", c_float),
                ("dedup_threshold", c_float), ("file_time_limit", c_double),
                ("exclude", POINTER(c_char_p)), ("n_exclude", c_size_t)]


class AddStats(Structure):
    _fields_ = [("version", c_uint32), ("reserved", c_uint32), ("added", c_uint64),
                ("updated", c_uint64), ("skipped", c_uint64), ("removed", c_uint64),
                ("failed", c_uint64), ("frames", c_uint64)]


class SearchOptions(Structure):
    _fields_ = [("version", c_uint32), ("k", c_uint32), ("prefix", c_char_p),
                ("min_relevance", c_float)]


class Hit(Structure):
    _fields_ = [("id", c_int64), ("score", c_float), ("width", c_uint32), ("height", c_uint32),
                ("kind", c_uint32), ("timestamp", c_double), ("path", c_char_p)]


class IndexStats(Structure):
    _fields_ = [("version", c_uint32), ("dim", c_uint32), ("count", c_uint64),
                ("files", c_uint64), ("failed", c_uint64), ("memory_bytes", c_uint64),
                ("recall_at_10", c_double), ("structure", c_char * 64), ("model_id", c_char * 72)]


class Embedding(Structure):
    _fields_ = [("version", c_uint32), ("kind", c_uint32), ("path", c_char_p),
                ("vector", POINTER(c_float)), ("size", c_int64), ("mtime_ns", c_int64),
                ("hash", c_uint8 * 32), ("width", c_uint32), ("height", c_uint32),
                ("timestamp", c_double), ("status", c_int32), ("reserved", c_uint32),
                ("error", c_char_p)]


EMBEDDING_VERSION = 1

PENDING_FN = CFUNCTYPE(c_int, c_void_p, c_char_p, c_int64, c_int64, c_uint32, c_int, c_char_p)

#: Every struct by its C name, for the layout test.
STRUCTS: dict[str, type[Structure]] = {
    "cerebro_image_options": ImageOptions, "cerebro_model_options": ModelOptions,
    "cerebro_encode_options": EncodeOptions, "cerebro_index_options": IndexOptions,
    "cerebro_progress": Progress, "cerebro_add_options": AddOptions,
    "cerebro_add_stats": AddStats, "cerebro_search_options": SearchOptions,
    "cerebro_hit": Hit, "cerebro_index_stats": IndexStats, "cerebro_embedding": Embedding,
}

# Flags and enums (values fixed by the header).
PREPROCESS_MODES = {"exact": 0, "fast": 1}
PRECISIONS = {"auto": 0, "fp32": 1, "bf16": 2}
INDEX_CREATE, INDEX_READONLY = 0x1, 0x2
ADD_NO_RECURSE, ADD_HIDDEN, ADD_FOLLOW_SYMLINKS, ADD_NO_VIDEO = 0x1, 0x2, 0x4, 0x8
ITEM_IMAGE, ITEM_VIDEO_FRAME = 0, 1
MAX_K = 10000

# ---- prototypes --------------------------------------------------------------

_P = POINTER
_status = c_int
_PROTOTYPES: dict[str, tuple[object, list[object]]] = {
    "cerebro_version_number": (c_uint, []),
    "cerebro_version_string": (c_char_p, []),
    "cerebro_status_string": (c_char_p, [c_int]),
    "cerebro_last_error": (c_char_p, []),
    "cerebro_free": (None, [c_void_p]),
    "cerebro_image_options_init": (None, [_P(ImageOptions)]),
    "cerebro_image_load_file": (_status, [_P(_P(ImageHandle)), c_char_p, _P(ImageOptions)]),
    "cerebro_video_frame_load": (_status, [_P(_P(ImageHandle)), c_char_p, c_double, _P(ImageOptions)]),
    "cerebro_image_load_memory": (_status, [_P(_P(ImageHandle)), c_void_p, c_size_t, c_char_p,
                                            _P(ImageOptions)]),
    "cerebro_image_from_rgb": (_status, [_P(_P(ImageHandle)), _P(c_uint8), c_uint32, c_uint32,
                                         c_size_t, _P(ImageOptions)]),
    "cerebro_image_free": (None, [_P(ImageHandle)]),
    "cerebro_image_width": (c_uint32, [_P(ImageHandle)]),
    "cerebro_image_height": (c_uint32, [_P(ImageHandle)]),
    "cerebro_image_pixels": (_P(c_uint8), [_P(ImageHandle)]),
    "cerebro_image_resize": (_status, [_P(_P(ImageHandle)), _P(ImageHandle), c_uint32, c_uint32]),
    "cerebro_image_encode_jpeg": (_status, [_P(ImageHandle), c_int, _P(c_void_p), _P(c_size_t)]),
    "cerebro_image_tensor_size": (c_size_t, [_P(ImageOptions)]),
    "cerebro_image_preprocess_file": (_status, [c_char_p, _P(ImageOptions), _P(c_float)]),
    "cerebro_image_preprocess_memory": (_status, [c_void_p, c_size_t, c_char_p, _P(ImageOptions),
                                                  _P(c_float)]),
    "cerebro_image_preprocess": (_status, [_P(ImageHandle), _P(ImageOptions), _P(c_float)]),
    "cerebro_tokenizer_open": (_status, [_P(_P(TokenizerHandle)), c_char_p]),
    "cerebro_tokenizer_free": (None, [_P(TokenizerHandle)]),
    "cerebro_tokenizer_vocab_size": (c_uint32, [_P(TokenizerHandle)]),
    "cerebro_tokenizer_encode": (_status, [_P(TokenizerHandle), c_char_p, c_size_t, c_uint32,
                                           _P(c_int32), c_size_t, _P(c_size_t)]),
    "cerebro_model_options_init": (None, [_P(ModelOptions)]),
    "cerebro_model_open": (_status, [_P(_P(ModelHandle)), c_char_p, _P(ModelOptions)]),
    "cerebro_model_free": (None, [_P(ModelHandle)]),
    "cerebro_model_dim": (c_uint32, [_P(ModelHandle)]),
    "cerebro_model_id": (c_char_p, [_P(ModelHandle)]),
    "cerebro_model_name": (c_char_p, [_P(ModelHandle)]),
    "cerebro_model_context_length": (c_uint32, [_P(ModelHandle)]),
    "cerebro_model_precision": (c_int, [_P(ModelHandle)]),
    "cerebro_model_config_json": (c_char_p, [_P(ModelHandle)]),
    "cerebro_model_image_options": (_status, [_P(ModelHandle), _P(ImageOptions)]),
    "cerebro_model_tokenizer": (_P(TokenizerHandle), [_P(ModelHandle)]),
    "cerebro_model_encode_text": (_status, [_P(ModelHandle), _P(c_char_p), c_size_t, _P(c_float)]),
    "cerebro_model_encode_tokens": (_status, [_P(ModelHandle), _P(c_int32), c_size_t, c_size_t,
                                              _P(c_float)]),
    "cerebro_model_encode_preprocessed": (_status, [_P(ModelHandle), _P(c_float), c_size_t,
                                                    _P(c_float)]),
    "cerebro_encode_options_init": (None, [_P(EncodeOptions)]),
    "cerebro_model_encode_image_files": (_status, [_P(ModelHandle), _P(c_char_p), c_size_t,
                                                   _P(EncodeOptions), _P(c_float), _P(c_int)]),
    "cerebro_model_encode_image_memory": (_status, [_P(ModelHandle), c_void_p, c_size_t,
                                                    _P(EncodeOptions), _P(c_float)]),
    "cerebro_model_encode_image": (_status, [_P(ModelHandle), _P(ImageHandle), _P(c_float)]),
    "cerebro_index_options_init": (None, [_P(IndexOptions)]),
    "cerebro_index_open": (_status, [_P(_P(IndexHandle)), c_char_p, _P(ModelHandle),
                                     _P(IndexOptions)]),
    "cerebro_index_free": (None, [_P(IndexHandle)]),
    "cerebro_add_options_init": (None, [_P(AddOptions)]),
    "cerebro_index_add": (_status, [_P(IndexHandle), _P(c_char_p), c_size_t, _P(AddOptions),
                                    _P(AddStats)]),
    "cerebro_index_remove_path": (_status, [_P(IndexHandle), c_char_p]),
    "cerebro_index_remove_id": (_status, [_P(IndexHandle), c_int64]),
    "cerebro_index_remove_many": (_status, [_P(IndexHandle), _P(c_char_p), c_size_t, _P(c_int64),
                                            c_size_t, _P(c_int), _P(c_size_t)]),
    "cerebro_search_options_init": (None, [_P(SearchOptions)]),
    "cerebro_index_search_text": (_status, [_P(IndexHandle), c_char_p, _P(SearchOptions),
                                            _P(_P(ResultsHandle))]),
    "cerebro_index_search_image_file": (_status, [_P(IndexHandle), c_char_p, _P(SearchOptions),
                                                  _P(_P(ResultsHandle))]),
    "cerebro_index_search_image_memory": (_status, [_P(IndexHandle), c_void_p, c_size_t,
                                                    _P(SearchOptions), _P(_P(ResultsHandle))]),
    "cerebro_index_search_vector": (_status, [_P(IndexHandle), _P(c_float), _P(SearchOptions),
                                              _P(_P(ResultsHandle))]),
    "cerebro_index_search_id": (_status, [_P(IndexHandle), c_int64, _P(SearchOptions),
                                          _P(_P(ResultsHandle))]),
    "cerebro_index_get": (_status, [_P(IndexHandle), c_int64, _P(_P(ResultsHandle))]),
    "cerebro_index_get_vector": (_status, [_P(IndexHandle), c_int64, _P(c_float)]),
    "cerebro_results_count": (c_size_t, [_P(ResultsHandle)]),
    "cerebro_results_get": (_status, [_P(ResultsHandle), c_size_t, _P(Hit)]),
    "cerebro_results_relevance": (c_float, [_P(ResultsHandle), c_size_t]),
    "cerebro_results_free": (None, [_P(ResultsHandle)]),
    "cerebro_index_stats_get": (_status, [_P(IndexHandle), _P(IndexStats)]),
    "cerebro_index_refresh": (_status, [_P(IndexHandle), _P(c_int)]),
    "cerebro_index_pending": (_status, [_P(IndexHandle), _P(c_char_p), c_size_t, c_uint32,
                                        PENDING_FN, c_void_p, _P(c_uint64)]),
    "cerebro_index_pending_opts": (_status, [_P(IndexHandle), _P(c_char_p), c_size_t,
                                             _P(AddOptions), PENDING_FN, c_void_p, _P(c_uint64)]),
    "cerebro_index_add_embeddings": (_status, [_P(IndexHandle), c_char_p, c_uint32, _P(Embedding),
                                               c_size_t, _P(AddStats)]),
    "cerebro_index_merge": (_status, [_P(IndexHandle), _P(c_char_p), c_size_t, _P(AddStats)]),
}

# ---- loading -----------------------------------------------------------------

_lock = threading.Lock()
_lib: ctypes.CDLL | None = None


def _candidates() -> list[tuple[str, str]]:
    """(where it came from, what to dlopen), in the documented order."""
    env = os.environ.get("CEREBRO_LIBRARY")
    if env:
        return [("CEREBRO_LIBRARY", env)]  # an explicit choice is never second-guessed
    here = Path(__file__).resolve().parent
    found = [("package directory", str(here / name))
             for name in ("libcerebro.so", "libcerebro.so.0") if (here / name).exists()]
    system = ctypes.util.find_library("cerebro")
    if system:
        found.append(("ctypes.util.find_library", system))
    found.append(("system loader", f"libcerebro.so.{VERSION_MAJOR}"))
    return found


def _open() -> ctypes.CDLL:
    tried = []
    for origin, name in _candidates():
        try:
            lib = ctypes.CDLL(name)
        except OSError as e:
            tried.append(f"{origin}: {e}")
            continue
        _check_version(lib, name)
        _declare(lib)
        return lib
    raise LibraryError("libcerebro not found; set CEREBRO_LIBRARY to the path of libcerebro.so "
                       "(tried " + "; ".join(tried) + ")")


def _check_version(lib: ctypes.CDLL, name: str) -> None:
    try:
        fn = lib.cerebro_version_number
    except AttributeError:
        raise LibraryError(f"{name} is not libcerebro (no cerebro_version_number)") from None
    fn.restype, fn.argtypes = c_uint, []
    found = int(fn())
    major, minor = found // 10000, found // 100 % 100
    if major != VERSION_MAJOR:
        raise LibraryError(
            f"{name} is libcerebro {major}.{minor}.{found % 100}, but these bindings were written "
            f"for major version {VERSION_MAJOR} ({VERSION_MAJOR}.{VERSION_MINOR}."
            f"{VERSION_PATCH}); install bindings matching the library")


def _declare(lib: ctypes.CDLL) -> None:
    for name, (restype, argtypes) in _PROTOTYPES.items():
        try:
            fn = getattr(lib, name)
        except AttributeError:
            raise LibraryError(f"libcerebro lacks {name}: the library is older than the "
                               f"{VERSION_MAJOR}.{VERSION_MINOR} header these bindings mirror") from None
        fn.restype, fn.argtypes = restype, argtypes


def lib() -> ctypes.CDLL:
    """The loaded library (loaded and checked on first use)."""
    global _lib
    if _lib is None:
        with _lock:
            if _lib is None:
                _lib = _open()
    return _lib


def check(status: int) -> None:
    """Raises the Error for a failed call. Must run on the thread that made
    the call, before any other libcerebro call there: the detail is
    thread-local."""
    if status != Status.OK:
        raise error_for(status, lib().cerebro_last_error().decode("utf-8", "replace"))


def fspath(path: str | os.PathLike[str] | bytes) -> bytes:
    """A path as the NUL-terminated bytes the C API takes."""
    raw = os.fsencode(path)
    if b"\0" in raw:
        raise error_for(Status.E_INVALID, f"path {path!r} contains a NUL byte")
    return raw
