"""Ownership of one library handle: freed exactly once, by close() or by a
finalizer when its owner is collected, and never while a call is using it."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from .errors import Status, error_for

_O = TypeVar("_O", bound="Owner")


class Handle:
    """Holds `ptr` for `owner`. `free` is looked up by name on the library
    at free time. `holds` are other Handles this one keeps alive (an index
    keeps its model): each is acquired here and released after `ptr` is freed.
    """

    def __init__(self, owner: object, ptr: Any, lib: Any, free: str, what: str,
                 holds: tuple[Handle, ...] = ()) -> None:
        self._ptr = ptr
        self._lib = lib
        self._free = free
        self._what = what
        self._lock = threading.Lock()
        self._users = 0
        self._closing = False
        self._holds: tuple[Handle, ...] = ()
        for h in holds:
            h._acquire()
            self._holds += (h,)
        # The finalizer refers to this Handle, never to `owner`.
        self._finalizer = weakref.finalize(owner, self._release)

    @property
    def closed(self) -> bool:
        return self._closing

    def _acquire(self) -> Any:
        with self._lock:
            if self._closing:
                raise error_for(Status.E_INVALID, f"{self._what} is closed")
            self._users += 1
            return self._ptr

    def _drop(self) -> None:
        with self._lock:
            self._users -= 1
            last = self._closing and self._users == 0
        if last:
            self._destroy()

    @contextmanager
    def use(self) -> Iterator[Any]:
        """The pointer, guaranteed alive until the block ends."""
        ptr = self._acquire()
        try:
            yield ptr
        finally:
            self._drop()

    def close(self) -> None:
        """Frees now, or when the last call in flight returns. Idempotent."""
        self._finalizer()

    def _release(self) -> None:
        with self._lock:
            if self._closing:
                return
            self._closing = True
            idle = self._users == 0
        if idle:
            self._destroy()

    def _destroy(self) -> None:
        with self._lock:
            ptr, self._ptr = self._ptr, None
            holds, self._holds = self._holds, ()
        if ptr:
            free: Callable[[Any], None] = getattr(self._lib, self._free)
            free(ptr)
        for h in holds:
            h._drop()


class Owner:
    """close(), closed and `with` for a class whose library handle is self._handle."""

    _handle: Handle

    def close(self) -> None:
        """Frees the handle now, or when the last call using it returns. Idempotent."""
        self._handle.close()

    @property
    def closed(self) -> bool:
        return self._handle.closed

    def __enter__(self: _O) -> _O:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
