"""The exceptions semsearch raises.

Every message names the bad value and says what to do, so the CLI can print it
as one line and a library caller can show it to a user unchanged.
"""

from __future__ import annotations


class SemsearchError(Exception):
    """Base class: anything semsearch refuses, with a message fit for a user."""


class InputError(SemsearchError):
    """A path, file or argument the user gave cannot be used."""


class QueryError(InputError):
    """A question or search parameter is invalid (empty question, k < 1)."""


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
