"""What every encoder is: the protocol the index needs, how a model is run, and
the names and prompts shared by the backends (defined once, here)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from ..errors import InputError

if TYPE_CHECKING:
    import numpy as np

E5_ENCODER = "e5-small-q4"
USE_ENCODER = "use-m3"
DEFAULT_ENCODER = f"{E5_ENCODER}+{USE_ENCODER}"
"""Both bundled models, fused (see ensemble.py): the best answers measured here."""
ST_PREFIX = "st:"
E5_PROMPTS = {"query": "query: ", "passage": "passage: "}
"""The e5 family embeds questions and passages with these prefixes."""


@runtime_checkable
class Encoder(Protocol):
    """What the index needs from a model: L2-normalised float32 rows.

    Queries and passages are separate calls because asymmetric models (the
    e5 family) embed them with different prompts.
    """

    name: str
    dim: int

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray: ...

    def spec(self) -> dict[str, Any]:
        """What the manifest records to re-create and check this encoder."""
        ...


@dataclass(frozen=True)
class EncoderOptions:
    """How to run a model; none of these change which vectors it makes, except
    ``max_seq_length`` (truncation), which is therefore recorded in the spec."""

    device: str = "auto"
    batch_size: int = 32
    max_seq_length: int | None = None

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise InputError(f"batch size must be 1 or more, got {self.batch_size}")
        if self.max_seq_length is not None and self.max_seq_length < 8:
            raise InputError(f"max sequence length must be 8 or more, got {self.max_seq_length}")
        if self.device not in ("auto", "cpu") and not self.device.startswith(("cuda", "mps")):
            raise InputError(f"unknown device {self.device!r}; choose auto, cpu, cuda or mps")
