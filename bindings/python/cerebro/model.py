"""cerebro.Model: a loaded model bundle (tokenize, encode text and images,
preprocess). One Model may be shared by any number of threads; ctypes
releases the GIL during each call, so encodes run in parallel."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from ctypes import POINTER, byref, c_char_p, c_float, c_int, c_int32, c_size_t
from functools import cached_property
from typing import Any, NamedTuple, Union

import numpy as np

from . import _lib
from ._handle import Handle, Owner
from .errors import Status, error_for, status_of

PathLike = Union[str, bytes, "os.PathLike[str]"]
ImageSource = Union[PathLike, bytearray, memoryview]


class ImageError(NamedTuple):
    """One file of a batch that could not be encoded."""

    index: int
    path: str
    status: Status | int
    message: str


def _mode(mode: str) -> int:
    try:
        return _lib.PREPROCESS_MODES[mode]
    except KeyError:
        raise error_for(Status.E_INVALID, f"mode {mode!r}: expected one of "
                        f"{sorted(_lib.PREPROCESS_MODES)}") from None


def _floats(a: np.ndarray) -> Any:
    return a.ctypes.data_as(POINTER(c_float))


def _buffer(data: bytes | bytearray | memoryview) -> tuple[Any, int, Any]:
    """(pointer, size, keep-alive) for read-only bytes-like data without a copy
    where numpy can view it."""
    view = np.frombuffer(data, dtype=np.uint8)
    return view.ctypes.data, view.nbytes, view


class Model(Owner):
    """A model bundle opened with cerebro_model_open().

    threads: intra-op threads (None: all online CPUs). vocab: BPE merges for
    OpenAI JIT checkpoints that carry none. precision: "auto", "fp32", "bf16".
    close() (or `with`) frees it, after any Index using it is closed.
    """

    def __init__(self, path: PathLike, threads: int | None = None, vocab: PathLike | None = None,
                 precision: str = "auto") -> None:
        lib = _lib.lib()
        opts = _lib.ModelOptions()
        lib.cerebro_model_options_init(byref(opts))
        opts.n_threads = int(threads or 0)
        try:
            opts.precision = _lib.PRECISIONS[precision]
        except KeyError:
            raise error_for(Status.E_INVALID, f"precision {precision!r}: expected one of "
                            f"{sorted(_lib.PRECISIONS)}") from None
        vocab_raw = _lib.fspath(vocab) if vocab is not None else None
        opts.vocab_path = vocab_raw
        ptr = POINTER(_lib.ModelHandle)()
        _lib.check(lib.cerebro_model_open(byref(ptr), _lib.fspath(path), byref(opts)))
        self._lib = lib
        self._handle = Handle(self, ptr, lib, "cerebro_model_free", "Model")
        self.path = os.fsdecode(path)

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"dim={self.dim}"
        return f"<cerebro.Model {self.path!r} {state}>"

    # ---- properties ---------------------------------------------------------

    @cached_property
    def dim(self) -> int:
        """Embedding dimension."""
        with self._handle.use() as m:
            return int(self._lib.cerebro_model_dim(m))

    @cached_property
    def id(self) -> str:
        """Content hash of the bundle file."""
        with self._handle.use() as m:
            return self._lib.cerebro_model_id(m).decode()

    @cached_property
    def name(self) -> str:
        with self._handle.use() as m:
            return self._lib.cerebro_model_name(m).decode("utf-8", "replace")

    @cached_property
    def precision(self) -> str:
        """The precision the model runs in, "fp32" or "bf16" (what "auto" chose)."""
        with self._handle.use() as m:
            value = int(self._lib.cerebro_model_precision(m))
        return next(name for name, v in _lib.PRECISIONS.items() if v == value)

    @cached_property
    def context_length(self) -> int:
        with self._handle.use() as m:
            return int(self._lib.cerebro_model_context_length(m))

    @cached_property
    def config(self) -> dict[str, Any]:
        """The bundle's cerebro/config.json, parsed."""
        with self._handle.use() as m:
            return json.loads(self._lib.cerebro_model_config_json(m).decode("utf-8"))

    def image_options(self, mode: str = "fast") -> _lib.ImageOptions:
        """The model's preprocessing options (a ctypes struct) in `mode`."""
        opts = _lib.ImageOptions()
        with self._handle.use() as m:
            _lib.check(self._lib.cerebro_model_image_options(m, byref(opts)))
        opts.mode = _mode(mode)
        return opts

    @property
    def image_size(self) -> int:
        """Side S of the model's square input."""
        return int(self.image_options().size)

    # ---- text ---------------------------------------------------------------

    def tokenize(self, text: str | bytes, truncate: bool = True) -> list[int]:
        """CLIP token ids, start and end tokens included. With truncate, cut to
        the model's context length keeping the end token, as encode_text does.
        bytes are passed through as UTF-8 (invalid UTF-8 raises InvalidError)."""
        raw = text.encode("utf-8") if isinstance(text, str) else bytes(text)
        ctx = self.context_length if truncate else 0
        cap = min(ctx, len(raw) + 2) if ctx else len(raw) + 2
        with self._handle.use() as m:
            tok = self._lib.cerebro_model_tokenizer(m)
            while True:
                buf = (c_int32 * max(cap, 1))()
                n = c_size_t()
                st = self._lib.cerebro_tokenizer_encode(tok, raw, len(raw), ctx, buf, cap, byref(n))
                if st == Status.E_LIMIT and n.value > cap:
                    cap = n.value  # sized by the first call; cannot happen with len + 2
                    continue
                _lib.check(st)
                return list(buf[:min(n.value, cap)])

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised embeddings, float32 [len(texts), dim]."""
        if isinstance(texts, (str, bytes)):
            raise TypeError("encode_text takes a sequence of texts; wrap one text in a list")
        raw = [t.encode("utf-8") for t in texts]
        for i, r in enumerate(raw):
            if b"\0" in r:
                raise error_for(Status.E_INVALID, f"texts[{i}] contains a NUL character")
        out = np.empty((len(raw), self.dim), dtype=np.float32)
        if not raw:
            return out
        arr = (c_char_p * len(raw))(*raw)
        with self._handle.use() as m:
            _lib.check(self._lib.cerebro_model_encode_text(m, arr, len(raw), _floats(out)))
        return out

    def encode_tokens(self, tokens: Sequence[Sequence[int]] | np.ndarray) -> np.ndarray:
        """Embeddings of token rows (all the same length), float32 [n, dim]."""
        ids = np.ascontiguousarray(tokens, dtype=np.int32)
        if ids.ndim != 2:
            raise error_for(Status.E_INVALID, f"tokens: expected [n, length], got shape {ids.shape}")
        out = np.empty((ids.shape[0], self.dim), dtype=np.float32)
        with self._handle.use() as m:
            _lib.check(self._lib.cerebro_model_encode_tokens(
                m, ids.ctypes.data_as(POINTER(c_int32)), ids.shape[0], ids.shape[1], _floats(out)))
        return out

    # ---- images -------------------------------------------------------------

    def preprocess(self, image: ImageSource, mode: str = "fast") -> np.ndarray:
        """The model's input tensor for one image file (str/path) or encoded
        image (bytes), in any format libcerebro reads (JPEG, PNG, WebP, GIF,
        TIFF, BMP, HEIC/AVIF, JPEG XL, camera RAW; told by the bytes, not the
        name): float32 [3, S, S], normalised."""
        opts = self.image_options(mode)
        size = int(opts.size)
        out = np.empty((3, size, size), dtype=np.float32)
        if isinstance(image, (bytes, bytearray, memoryview)):
            ptr, n, _keep = _buffer(image)
            _lib.check(self._lib.cerebro_image_preprocess_memory(ptr, n, b"image buffer",
                                                                  byref(opts), _floats(out)))
        else:
            _lib.check(self._lib.cerebro_image_preprocess_file(_lib.fspath(image), byref(opts),
                                                                _floats(out)))
        return out

    def encode_preprocessed(self, tensors: np.ndarray) -> np.ndarray:
        """Embeddings of preprocessed tensors float32 [n, 3, S, S] (or one [3, S, S])."""
        px = np.ascontiguousarray(tensors, dtype=np.float32)
        if px.ndim == 3:
            px = px[None]
        s = self.image_size
        if px.shape[1:] != (3, s, s):
            raise error_for(Status.E_INVALID, f"tensors: expected [n, 3, {s}, {s}], got {px.shape}")
        out = np.empty((px.shape[0], self.dim), dtype=np.float32)
        with self._handle.use() as m:
            _lib.check(self._lib.cerebro_model_encode_preprocessed(m, _floats(px), px.shape[0],
                                                                    _floats(out)))
        return out

    def encode_images(self, images: Sequence[PathLike], mode: str = "fast", batch_size: int = 0,
                      workers: int = 0, sizes: np.ndarray | None = None,
                      hashes: np.ndarray | None = None) -> tuple[np.ndarray, list[ImageError]]:
        """Embeddings of image files in any format libcerebro reads, float32
        [n, dim], and the files that failed (their rows are zero; the batch
        goes on). sizes (uint32 [n, 2]) and hashes (uint8 [n, 32]), when
        given, receive each file's width and height (orientation applied,
        full size) and the SHA-256 of its bytes, as Index.add() stores them."""
        if isinstance(images, (str, bytes, os.PathLike)):
            raise TypeError("encode_images takes a sequence of paths; wrap one path in a list")
        raw = [_lib.fspath(p) for p in images]
        out = np.zeros((len(raw), self.dim), dtype=np.float32)
        if not raw:
            return out, []
        messages: dict[int, str] = {}

        def on_error(_user: object, index: int, _status: int, message: bytes | None) -> None:
            messages[index] = (message or b"").decode("utf-8", "replace")

        opts = self._encode_options(mode, batch_size, workers, _lib.ITEM_ERROR_FN(on_error))
        for name, out_arr, dtype, width in (("sizes", sizes, np.uint32, 2),
                                            ("hashes", hashes, np.uint8, 32)):
            if out_arr is None:
                continue
            if (out_arr.dtype != dtype or out_arr.shape != (len(raw), width)
                    or not out_arr.flags.c_contiguous or not out_arr.flags.writeable):
                raise error_for(Status.E_INVALID, f"{name}: expected a writable C-contiguous "
                                f"{np.dtype(dtype).name} array of shape ({len(raw)}, {width})")
            setattr(opts, name, out_arr.ctypes.data_as(POINTER(_lib.c_uint32 if width == 2
                                                               else _lib.c_uint8)))
        statuses = np.zeros(len(raw), dtype=np.intc)
        arr = (c_char_p * len(raw))(*raw)
        with self._handle.use() as m:
            _lib.check(self._lib.cerebro_model_encode_image_files(
                m, arr, len(raw), byref(opts), _floats(out), statuses.ctypes.data_as(POINTER(c_int))))
        errors = [ImageError(i, os.fsdecode(raw[i]), status_of(int(st)), messages.get(i, ""))
                  for i, st in enumerate(statuses) if st != Status.OK]
        return out, errors

    def encode_image(self, image: ImageSource, mode: str = "fast") -> np.ndarray:
        """Embedding of one image file (str/path) or encoded image (bytes) in
        any format libcerebro reads, float32 [dim]; a bad image raises."""
        if not isinstance(image, (bytes, bytearray, memoryview)):
            vecs, errors = self.encode_images([image], mode)
            if errors:
                raise error_for(errors[0].status, errors[0].message)
            return vecs[0]
        out = np.empty(self.dim, dtype=np.float32)
        opts = self._encode_options(mode, 0, 0, _lib.ITEM_ERROR_FN())
        ptr, n, _keep = _buffer(image)
        with self._handle.use() as m:
            _lib.check(self._lib.cerebro_model_encode_image_memory(m, ptr, n, byref(opts), _floats(out)))
        return out

    def _encode_options(self, mode: str, batch_size: int, workers: int,
                        on_error: Callable[..., None]) -> _lib.EncodeOptions:
        opts = _lib.EncodeOptions()
        self._lib.cerebro_encode_options_init(byref(opts))
        opts.mode = _mode(mode)
        opts.batch_size = batch_size
        opts.n_workers = workers
        opts.on_error = on_error
        return opts
