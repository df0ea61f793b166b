"""Write semsearch/data/question_means.npz: for each bundled model, the mean vector
of the example questions of each language in semsearch/data/questions/ (and of
all languages, ``*``), keyed by the model's fingerprint. An encoder set removes
them from its questions' vectors (centering, see semsearch/encoders/ensemble.py).

Run it after editing the questions or upgrading a bundled model; the test suite
checks that the file matches the questions and the installed models.

Usage: python bench/question_means.py
"""

from __future__ import annotations

from importlib import resources

import numpy as np

from semsearch.encoders import E5_ENCODER, USE_ENCODER, load_encoder
from semsearch.encoders.ensemble import (
    DIGEST_KEY,
    MEANS_FILE,
    compute_question_means,
    example_questions,
    questions_digest,
)


def main() -> None:
    arrays = {DIGEST_KEY: np.array(questions_digest(example_questions()))}
    for name in (E5_ENCODER, USE_ENCODER):
        encoder = load_encoder(name)
        fingerprint = encoder.spec()["fingerprint"]
        for lang, mean in compute_question_means(encoder).items():
            arrays[f"{fingerprint}|{lang}"] = mean
        print(f"{name} ({fingerprint}): {len(arrays)} vectors so far")
    target = resources.files("semsearch.data").joinpath(MEANS_FILE)
    with open(str(target), "wb") as f:
        np.savez(f, **arrays)
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
