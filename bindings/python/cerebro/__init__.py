"""Python bindings for libcerebro (ctypes; no compiled extension).

The library is found through $CEREBRO_LIBRARY, then this package's
directory, then the system loader; it must have the major version these
bindings were written for.

    import cerebro
    with cerebro.Model("models/default.pt") as model:
        vecs = model.encode_text(["a snow leopard on rocks"])
"""

from __future__ import annotations

import ctypes

from . import _lib
from .errors import (CancelledError, CorruptError, Error, FormatError, InternalError,
                     InvalidError, IoError, LibraryError, LimitError, MismatchError, ModelError,
                     NoMemoryError, NotFoundError, Status, StoreError, UnsupportedError)
from .index import (AddStats, Embedding, Hit, Index, IndexStats, Pending, PendingFile, Progress,
                    WalkError)
from .model import ImageError, Model

__version__ = f"{_lib.VERSION_MAJOR}.{_lib.VERSION_MINOR}.{_lib.VERSION_PATCH}"

__all__ = [
    "AddStats", "CancelledError", "CorruptError", "Embedding", "Error", "FormatError", "Hit",
    "ImageError", "Index", "IndexStats", "InternalError", "InvalidError", "IoError",
    "LibraryError", "LimitError", "MismatchError", "Model", "ModelError", "NoMemoryError",
    "NotFoundError", "Pending", "PendingFile", "Progress", "Status", "StoreError",
    "UnsupportedError", "WalkError", "default_min_relevance", "library_path", "library_version",
]


def library_version() -> str:
    """Version string of the loaded libcerebro, e.g. "0.1.0"."""
    return _lib.lib().cerebro_version_string().decode()


def default_min_relevance() -> float:
    """The loaded library's default cutoff (CEREBRO_MIN_RELEVANCE_DEFAULT):
    what Index.search() applies when min_relevance is None."""
    lib = _lib.lib()
    opts = _lib.SearchOptions()
    lib.cerebro_search_options_init(ctypes.byref(opts))
    return float(opts.min_relevance)


def library_path() -> str:
    """Path the loaded libcerebro was opened from."""
    return str(_lib.lib()._name)
