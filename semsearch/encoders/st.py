"""Any sentence-transformers model as the encoder (the ``st`` extra).

Imported only when an ``st:`` encoder is asked for: importing
sentence-transformers pulls in torch and costs seconds, which the default
path never pays.
"""

from __future__ import annotations

import hashlib
import os
import socket
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np

from ..errors import EncoderError, MissingDependencyError
from ..extras import install_command
from .base import E5_PROMPTS, ST_PREFIX, EncoderOptions

_WHOLE_FILE_LIMIT = 8 << 20
_HUB_PROBE_SECONDS = 3.0


class SentenceTransformerEncoder:
    """A sentence-transformers model, from a local folder or the Hugging Face hub."""

    def __init__(self, model: str, options: EncoderOptions) -> None:
        st = _import_sentence_transformers()
        folder = Path(model).expanduser()
        device = None if options.device == "auto" else options.device
        if folder.is_dir():
            self.model = str(folder.resolve())
            self._st = _load(st, self.model, device, local_files_only=True)
            files = Path(self.model)
        elif model.startswith(("/", ".", "~")) or model.count("/") > 1:
            raise EncoderError(f"no model folder at {model}; give an existing folder or a hub name")
        else:
            self.model = model
            self._st = _load_from_hub(st, model, device)
            files = _hub_snapshot(model)
        if options.max_seq_length:
            self._st.max_seq_length = options.max_seq_length
        self.name = f"{ST_PREFIX}{self.model}"
        dimension = getattr(self._st, "get_embedding_dimension", None) or (
            self._st.get_sentence_embedding_dimension  # sentence-transformers < 6
        )
        self.dim = int(dimension())
        self.batch_size = options.batch_size
        self.max_seq_length = options.max_seq_length
        self.prompts = _prompts(self._st.prompts or {}, self.model)
        self.fingerprint = fingerprint(files)
        self._lock = threading.Lock()

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self.prompts["query"])

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self.prompts["passage"])

    def _encode(self, texts: Sequence[str], prompt: str) -> np.ndarray:
        with self._lock:
            vectors = self._st.encode(
                list(texts),
                prompt=prompt or None,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dim)

    def spec(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "backend": "sentence-transformers",
            "model": self.model,
            "dim": self.dim,
            "prompts": self.prompts,
            "fingerprint": self.fingerprint,
            "max_seq_length": self.max_seq_length,
        }


def fingerprint(folder: Path) -> str:
    """A hash of a model folder's files: names, sizes and contents.

    Files over 8 MiB (the weights) are hashed by their first and last 4 MiB
    and their size, so opening an index of a 1 GB model stays fast while any
    retrained or swapped weights still change the fingerprint. Markdown files
    (model cards) don't count.
    """
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        if rel.startswith(".") or "/." in rel or rel.endswith(".md"):
            continue
        size = path.stat().st_size
        digest.update(f"{rel}\0{size}\0".encode())
        with path.open("rb") as fh:
            if size <= _WHOLE_FILE_LIMIT:
                digest.update(fh.read())
            else:
                digest.update(fh.read(_WHOLE_FILE_LIMIT // 2))
                fh.seek(-_WHOLE_FILE_LIMIT // 2, os.SEEK_END)
                digest.update(fh.read())
    return digest.hexdigest()[:16]


def _import_sentence_transformers() -> Any:
    try:
        import sentence_transformers
    except ImportError:
        raise MissingDependencyError(
            f"sentence-transformers models need the st extra: {install_command('st')} "
            "(install torch first, e.g. pip install torch, to choose its build)"
        ) from None
    return sentence_transformers


def _load(st: Any, source: str, device: str | None, *, local_files_only: bool) -> Any:
    try:
        return st.SentenceTransformer(source, device=device, local_files_only=local_files_only)
    except (OSError, ValueError, RuntimeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise EncoderError(f"cannot load sentence-transformers model {source!r}: {first}") from None


def _load_from_hub(st: Any, name: str, device: str | None) -> Any:
    """Load from the local cache; go online only if allowed and the hub answers quickly."""
    try:
        return _load(st, name, device, local_files_only=True)
    except EncoderError:
        pass
    advice = (
        f"download it where you are online (huggingface-cli download {name}) and pass "
        f"--model st:/path/to/that/folder, or point HF_HOME at a cache that holds it"
    )
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        raise EncoderError(
            f"{name!r} is not in the local cache and HF_HUB_OFFLINE is set; {advice}"
        )
    endpoint = os.environ.get("HF_ENDPOINT") or "https://huggingface.co"
    if not _reachable(endpoint):
        raise EncoderError(
            f"{name!r} is not in the local cache and {endpoint} is unreachable; {advice}"
        )
    return _load(st, name, device, local_files_only=False)


def _reachable(url: str) -> bool:
    """Whether a TCP connection to the hub opens within a few seconds."""
    parsed = urlparse(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((parsed.hostname or "", port), timeout=_HUB_PROBE_SECONDS):
            return True
    except OSError:
        return False


def _hub_snapshot(name: str) -> Path:
    from huggingface_hub import snapshot_download

    return Path(snapshot_download(name, local_files_only=True))


def _prompts(configured: dict[str, str], model: str) -> dict[str, str]:
    """The model's own query/passage prompts; e5 models get theirs if the config has none."""
    query = configured.get("query") or ""
    passage = configured.get("passage") or configured.get("document") or ""
    if not query and not passage and "e5" in Path(model).name.lower():
        return dict(E5_PROMPTS)
    return {"query": query, "passage": passage}
