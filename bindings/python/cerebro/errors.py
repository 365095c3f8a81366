"""Statuses and the exceptions they become: one Error subclass per
cerebro_status, each carrying .status and the library's message."""

from __future__ import annotations

import enum


class Status(enum.IntEnum):
    """cerebro_status: values are fixed by the C header forever."""

    OK = 0
    E_INVALID = -1
    E_NOMEM = -2
    E_IO = -3
    E_FORMAT = -4
    E_CORRUPT = -5
    E_LIMIT = -6
    E_UNSUPPORTED = -7
    E_MISMATCH = -8
    E_NOT_FOUND = -9
    E_CANCELLED = -10
    E_MODEL = -11
    E_STORE = -12
    E_INTERNAL = -13

    @property
    def code(self) -> str:
        """The C constant's name, e.g. "CEREBRO_E_NOT_FOUND"."""
        return "CEREBRO_" + self.name


def status_of(value: int) -> Status | int:
    """A Status where the value is known, else the plain int (newer library)."""
    try:
        return Status(value)
    except ValueError:
        return value


class LibraryError(ImportError):
    """libcerebro could not be found, or is a version these bindings refuse."""


class Error(Exception):
    """A libcerebro call failed. `status` is the cerebro_status, `message`
    the library's detail (cerebro_last_error()), e.g. "a.jpg: truncated JPEG data"."""

    status: Status | int = Status.E_INTERNAL

    def __init__(self, message: str, status: Status | int | None = None) -> None:
        if status is not None:
            self.status = status_of(status)
        self.message = message
        super().__init__(message or self.code)

    @property
    def code(self) -> str:
        s = self.status
        return s.code if isinstance(s, Status) else f"CEREBRO_STATUS_{int(s)}"


class InvalidError(Error, ValueError):
    status = Status.E_INVALID


class NoMemoryError(Error, MemoryError):
    status = Status.E_NOMEM


class IoError(Error, OSError):
    status = Status.E_IO


class FormatError(Error):
    status = Status.E_FORMAT


class CorruptError(Error):
    status = Status.E_CORRUPT


class LimitError(Error):
    status = Status.E_LIMIT


class UnsupportedError(Error):
    status = Status.E_UNSUPPORTED


class MismatchError(Error):
    status = Status.E_MISMATCH


class NotFoundError(Error, LookupError):
    status = Status.E_NOT_FOUND


class CancelledError(Error):
    status = Status.E_CANCELLED


class ModelError(Error):
    status = Status.E_MODEL


class StoreError(Error):
    status = Status.E_STORE


class InternalError(Error):
    status = Status.E_INTERNAL


_BY_STATUS: dict[int, type[Error]] = {
    cls.status: cls for cls in (InvalidError, NoMemoryError, IoError, FormatError, CorruptError,
                                LimitError, UnsupportedError, MismatchError, NotFoundError,
                                CancelledError, ModelError, StoreError, InternalError)}


def error_for(status: int, message: str) -> Error:
    """The exception for a failed status; an unknown (newer) status gives a plain Error."""
    cls = _BY_STATUS.get(status, Error)
    return cls(message, status)
