"""The exceptions semsearch raises, as one tree under :class:`SemsearchError`.

Every message names the bad value and says what to do, so the CLI can print it
as one line and a library caller can show it to a user unchanged. Conversion to
exit codes (or HTTP statuses) happens only at the edge::

    SemsearchError
    ├── InputError                a path, file or argument cannot be used
    │   ├── QueryError            an empty question, k < 1, an unknown mode
    │   └── UnreadableFileError   a document is binary, empty or not UTF-8
    ├── IndexNotFoundError        no index at that folder
    ├── NotAnIndexError           the folder holds someone else's files
    ├── IndexCorruptError         an index file is unreadable or inconsistent
    ├── EncoderMismatchError      the index was built with another model
    ├── EncoderError              unknown encoder name, model will not load
    ├── StoreError                a Milvus store cannot be reached, is in use or changed meanwhile
    ├── DiskError                 the disk refused a write (full, over quota, read-only)
    └── MissingDependencyError    an optional extra is not installed
"""

from __future__ import annotations

import errno
import functools
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = [
    "DiskError",
    "EncoderError",
    "EncoderMismatchError",
    "IndexCorruptError",
    "IndexNotFoundError",
    "InputError",
    "MissingDependencyError",
    "NotAnIndexError",
    "QueryError",
    "SemsearchError",
    "StoreError",
    "UnreadableFileError",
]


class SemsearchError(Exception):
    """Base class: anything semsearch refuses, with a message fit for a user."""


class InputError(SemsearchError):
    """A path, file or argument the user gave cannot be used."""


class QueryError(InputError):
    """A question or search parameter is invalid (empty question, k < 1)."""


class UnreadableFileError(InputError):
    """A document cannot be indexed (binary, empty, not UTF-8): it is skipped with this reason."""


class IndexNotFoundError(SemsearchError):
    """The index directory does not exist or holds no index."""


class NotAnIndexError(SemsearchError):
    """A directory holds other files and no manifest: refuse to read or overwrite it."""


class IndexCorruptError(SemsearchError):
    """An index file is unreadable or disagrees with the manifest."""


class EncoderMismatchError(SemsearchError):
    """The index was built with a different encoder than the one asked for."""


class EncoderError(SemsearchError):
    """An encoder name is unknown or the encoder could not be loaded."""


class MissingDependencyError(SemsearchError):
    """An optional extra is needed for what was asked."""


class StoreError(SemsearchError):
    """A remote store (Milvus) cannot be reached, is held by another process, or
    another writer changed what this write relied on (running it again mends it)."""


class DiskError(SemsearchError):
    """The disk refused a write (full, over quota, a file size limit, read-only): the
    write stopped, and what was stored is as it was. Not damage: nothing is set
    aside, nothing needs rebuilding; run it again once the disk takes writes."""


NO_SPACE = "no space left on device"
READ_ONLY = "read-only file system"
_NO_SPACE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}  # EFBIG: RLIMIT_FSIZE
_SQLITE_REFUSALS = {
    "SQLITE_FULL": NO_SPACE,
    "SQLITE_IOERR_WRITE": "disk I/O error (is the disk full?)",
    "SQLITE_IOERR_FSYNC": "disk I/O error (is the disk full?)",
    "SQLITE_IOERR_TRUNCATE": "disk I/O error (is the disk full?)",
}


def refusal(exc: BaseException) -> str | None:
    """Why the disk refused a write, if ``exc`` (an OSError or sqlite3 error) says
    that it did, else None: such a failure is the disk's state, not damage."""
    if isinstance(exc, OSError):
        if exc.errno in _NO_SPACE_ERRNOS:
            return NO_SPACE
        if exc.errno in (errno.EACCES, errno.EPERM):
            return "permission denied"
        return READ_ONLY if exc.errno == errno.EROFS else None
    name = str(getattr(exc, "sqlite_errorname", ""))
    if name.startswith("SQLITE_READONLY"):  # and its extended codes
        return READ_ONLY
    return _SQLITE_REFUSALS.get(name)


def refused_write(exc: BaseException, path: object) -> DiskError | None:
    """The :class:`DiskError` to raise for ``exc`` met writing ``path``, if the disk
    refused the write (see :func:`refusal`)."""
    reason = refusal(exc)
    if reason is None:
        return None
    return DiskError(f"{reason} writing {path}; the index is as it was")


_Class = TypeVar("_Class", bound=type)


def converting(
    caught: type[BaseException] | tuple[type[BaseException], ...],
    convert: Callable[[Any, BaseException], SemsearchError],
    retry: Callable[[Any, BaseException], bool] | None = None,
) -> Callable[[_Class], _Class]:
    """A class decorator: every public method raises ``convert(self, exc)`` instead
    of a ``caught`` error, so a storage library's own exceptions (sqlite3's,
    pymilvus's) never reach a user, only one of this tree with what to do.
    Where ``retry(self, exc)`` mends the cause (and says so), the call is made once more."""

    def decorate(cls: _Class) -> _Class:
        def guard(method: Any) -> Any:
            @functools.wraps(method)
            def guarded(self: Any, *args: Any, **kwargs: Any) -> Any:
                try:
                    return method(self, *args, **kwargs)
                except caught as exc:
                    failure: BaseException = exc
                if retry is not None:
                    try:
                        if retry(self, failure):
                            return method(self, *args, **kwargs)
                    except caught as exc:
                        failure = exc
                raise convert(self, failure) from None

            return guarded

        for name, member in list(vars(cls).items()):
            if callable(member) and not name.startswith("_"):
                setattr(cls, name, guard(member))
        return cls

    return decorate
