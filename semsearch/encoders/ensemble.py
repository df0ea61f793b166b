"""Several models as one encoder: their vectors side by side in one row, so the
index, FAISS and every backend store and search them unchanged.

A passage's row is each member's unit vector divided by sqrt(n): a unit row
whose dot product with another passage's is the mean of the members' cosines
(near-duplicate tests keep working). A question's row is each member's vector
times sqrt(n) and the member's weight, so a dot product with a passage is the
weighted sum of the members' cosines: score fusion inside the inner product.
Weights therefore apply at question time only; they are recorded in the
manifest with the members' fingerprints.

Two question-time corrections, both measured on XQuAD (docs/benchmarks.md):

- **centering**: each member's vectors of questions share a direction per
  language, which favours passages that lie along it rather than those that
  answer. The mean question vector of the question's language (from the
  example questions in data/questions/, precomputed per model in
  data/question_means.npz) is removed and the vector renormalised;
- **languages**: a member trained on a list of languages (USE) gets no weight
  for a question in another; its share goes to the others.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from ..errors import EncoderError
from ..text.language import guess_language

if TYPE_CHECKING:
    import numpy as np

    from .base import Encoder

SEPARATOR = "+"
DEFAULT_WEIGHTS = {"use-m3": 0.2}
"""A member's weight relative to 1.0 for the others (bench/tune_fusion.py measures it)."""
MEANS_FILE = "question_means.npz"


class EncoderSet:
    """Several encoders whose cosines are summed with weights (see the module docstring)."""

    def __init__(self, members: Sequence[Encoder], weights: Sequence[float] | None = None) -> None:
        if len(members) < 2:
            raise EncoderError("an encoder set needs two or more members")
        raw = weights or [DEFAULT_WEIGHTS.get(m.name, 1.0) for m in members]
        if len(raw) != len(members) or any(w < 0 for w in raw) or not sum(raw):
            raise EncoderError(f"one weight of 0 or more per member, not all 0, got {list(raw)}")
        self.members = tuple(members)
        self.weights = tuple(w / sum(raw) for w in raw)
        self.name = SEPARATOR.join(m.name for m in members)
        self.dim = sum(m.dim for m in members)
        self._fingerprints = [m.spec()["fingerprint"] for m in members]
        self._languages = [getattr(m, "languages", None) for m in members]

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        import numpy as np

        parts = [m.encode_passages(texts) for m in self.members]
        return (np.hstack(parts) / math.sqrt(len(parts))).astype(np.float32)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        languages = [guess_language(t) for t in texts]
        return self.combine(self.member_queries(texts, languages), self.shares(languages))

    def member_queries(
        self, texts: Sequence[str], languages: Sequence[str | None]
    ) -> list[np.ndarray]:
        """Each member's unit vectors of the questions (in ``languages``, as
        :func:`~semsearch.text.language.guess_language` names them), centred where it has means."""
        import numpy as np

        out = []
        for member, fingerprint in zip(self.members, self._fingerprints, strict=True):
            vectors = member.encode_queries(texts)
            means = question_means(fingerprint)
            if means:
                centred = vectors - np.vstack(
                    [means.get(lang or "*", means["*"]) for lang in languages]
                )
                vectors = centred / np.linalg.norm(centred, axis=1, keepdims=True)
            out.append(vectors)
        return out

    def shares(
        self, languages: Sequence[str | None], weights: Sequence[float] | None = None
    ) -> np.ndarray:
        """Each question's weight per member (``weights``, default the set's own),
        zero where a member lacks the question's language, rows summing to 1."""
        import numpy as np

        base = np.asarray(weights or self.weights, np.float32)
        shares: np.ndarray = np.tile(base, (len(languages), 1))
        for row, lang in enumerate(languages):
            for n, known in enumerate(self._languages):
                if known is not None and lang not in known:
                    shares[row, n] = 0.0
        total = shares.sum(axis=1, keepdims=True)
        shares = np.where(total > 0, shares, base)  # no member knows it: all of them
        return shares / shares.sum(axis=1, keepdims=True)

    def combine(self, vectors: list[np.ndarray], shares: np.ndarray) -> np.ndarray:
        """One row per question whose dot product with a passage row is the
        members' cosines summed with ``shares``."""
        import numpy as np

        parts = [v * shares[:, n : n + 1] for n, v in enumerate(vectors)]
        return (np.hstack(parts) * math.sqrt(len(parts))).astype(np.float32)

    def spec(self) -> dict[str, Any]:
        members = [m.spec() for m in self.members]
        return {
            "name": self.name,
            "backend": "set",
            "dim": self.dim,
            "members": members,
            "weights": list(self.weights),
            "centering": "question-means-1",
            "prompts": {m["name"]: m.get("prompts") for m in members},
            "fingerprint": SEPARATOR.join(str(m.get("fingerprint")) for m in members),
        }


DIGEST_KEY = "questions|sha256"


@cache
def question_means(fingerprint: str) -> dict[str, np.ndarray]:
    """Mean question vector per language (``*``: of all languages) for the model
    with this fingerprint, or ``{}`` when none were computed for it."""
    import numpy as np

    with resources.files("semsearch.data").joinpath(MEANS_FILE).open("rb") as f, np.load(f) as z:
        prefix = f"{fingerprint}|"
        return {k[len(prefix) :]: z[k] for k in z.files if k.startswith(prefix)}


def shipped_questions_digest() -> str:
    """The digest of the example questions the shipped means were computed from:
    an edit to the questions is caught exactly, whatever the CPU."""
    import numpy as np

    with resources.files("semsearch.data").joinpath(MEANS_FILE).open("rb") as f, np.load(f) as z:
        return str(z[DIGEST_KEY]) if DIGEST_KEY in z.files else ""


def example_questions() -> dict[str, list[str]]:
    """The example questions per language, from data/questions/LANG.txt."""
    folder = resources.files("semsearch.data").joinpath("questions")
    found = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".txt"):
            lines = entry.read_text(encoding="utf-8").splitlines()
            found[entry.name.removesuffix(".txt")] = [q for q in lines if q.strip()]
    return found


def questions_digest(questions: dict[str, list[str]]) -> str:
    """A digest of questions per language, stable across machines."""
    text = json.dumps(questions, ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def compute_question_means(encoder: Encoder) -> dict[str, np.ndarray]:
    """The means :func:`question_means` ships (see bench/question_means.py, which
    writes them)."""
    import numpy as np

    means = {
        lang: encoder.encode_queries(questions).mean(axis=0)
        for lang, questions in example_questions().items()
    }
    means["*"] = np.mean(list(means.values()), axis=0)
    return {lang: v.astype(np.float32) for lang, v in means.items()}
