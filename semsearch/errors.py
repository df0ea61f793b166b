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
    └── MissingDependencyError    an optional extra is not installed
"""

from __future__ import annotations

__all__ = [
    "EncoderError",
    "EncoderMismatchError",
    "IndexCorruptError",
    "IndexNotFoundError",
    "InputError",
    "MissingDependencyError",
    "NotAnIndexError",
    "QueryError",
    "SemsearchError",
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
