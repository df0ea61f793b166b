"""Property-based tests (hypothesis) of the parts that take arbitrary text:
cleaning, chunking, Arabic spelling folding, and the question path."""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from semsearch import Index
from semsearch.errors import QueryError
from semsearch.search.pipeline import MAX_QUERY_CHARS
from semsearch.text.chunking import ChunkingConfig, chunk, collapse_spaces, sentences
from semsearch.text.cleaning import boilerplate_reason, word_count
from semsearch.text.lexical import fold_spelling, terms

# Arabic letters and marks (diacritics, tatweel, alef forms), Latin, digits (both
# kinds), Latin and Arabic punctuation, spaces and line breaks: what scraped news is.
ALPHABET = (
    "ابتثجحخدذرسشصضطظعغفقكلمنهويءآأإؤئىة"
    "\u064b\u064e\u0650\u0651\u0640"
    "abcdefghijklmnopqrstuvwxyzQAIM"
    "0123456789٠١٢٣٤٥٦٧٨٩"
    ".,;:!?،؛؟«»\"'()-|/…"
    "  \n\n\t"
)
documents = st.text(alphabet=ALPHABET, max_size=3000)
lines = st.lists(st.text(alphabet=ALPHABET.replace("\n", ""), max_size=400), max_size=30)


@given(st.text(max_size=400))
def test_cleaning_takes_any_line(line: str) -> None:
    reason = boilerplate_reason(line)
    assert reason is None or (isinstance(reason, str) and reason)
    assert 0 <= word_count(line) <= len(line.split())


@settings(max_examples=150, deadline=None)
@given(lines, st.integers(min_value=50, max_value=1200), st.integers(min_value=0, max_value=300))
def test_chunks_are_exact_slices_and_lose_no_long_paragraph(
    paragraphs: list[str], max_chars: int, min_chars: int
) -> None:
    min_chars = min(min_chars, max_chars - 1)
    config = ChunkingConfig(max_chars=max_chars, min_chars=min_chars, overlap_chars=max_chars // 5)
    text = "\n".join(paragraphs)
    spans = chunk(text, config)
    assert spans == sorted(spans)
    for start, end in spans:
        assert 0 <= start < end <= len(text)
        assert len(text[start:end]) <= max_chars
        assert text[start:end] == text[start:end].strip()  # trimmed, never cut mid-space
    covered = set()
    for start, end in spans:
        covered.update(range(start, end))
    offset = 0
    for line in text.split("\n"):  # a long line that is not page chrome is kept whole
        kept = len(line.strip()) >= min_chars and not boilerplate_reason(line.strip())
        if kept:
            missing = [
                i for i, ch in enumerate(line, offset) if not ch.isspace() and i not in covered
            ]
            assert not missing, (line, missing[:5])
        offset += len(line) + 1


@given(documents)
def test_sentences_are_slices_of_the_passage(text: str) -> None:
    for start, end in sentences(text):
        assert 0 <= start < end <= len(text) and text[start:end] == text[start:end].strip()


@given(st.text(max_size=300))
def test_collapsing_spaces_is_idempotent(text: str) -> None:
    once = collapse_spaces(text)
    assert collapse_spaces(once) == once and "  " not in once


@given(st.text(alphabet=ALPHABET, max_size=300) | st.text(max_size=300))
def test_arabic_spelling_folding_is_idempotent(text: str) -> None:
    once = fold_spelling(text)
    assert fold_spelling(once) == once
    assert terms(once) == terms(text)  # questions and passages meet in one form


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.text(max_size=MAX_QUERY_CHARS + 50) | st.text(alphabet=ALPHABET, max_size=300),
    st.sampled_from(["lexical", "lexical", "hybrid"]),
)
def test_any_question_gets_hits_or_one_clear_line(
    seeds_index: Index, question: str, mode: str
) -> None:
    """Whatever a user types, up to the limit: hits, or a QueryError whose message is
    one line; and the time grows no faster than the question (a generous bound that
    catches a hang or a quadratic stage, not a benchmark)."""
    if mode == "hybrid":
        question = question[:300]  # the model's cost is measured in bench/, not here
    started = time.perf_counter()
    try:
        hits = seeds_index.search(question, k=3, mode=mode)
    except QueryError as exc:
        assert "\n" not in str(exc) and (not question.strip() or len(question) > MAX_QUERY_CHARS)
        return
    assert len(hits) <= 3 and all(h.text for h in hits)
    assert time.perf_counter() - started < 2 + len(question) / 100


@pytest.mark.parametrize("size", [500, MAX_QUERY_CHARS])
def test_a_question_at_the_limit_is_answered(seeds_index: Index, size: int) -> None:
    question = ("Qaim القائم Baghdad 2020 " * size)[:size]
    started = time.perf_counter()
    assert seeds_index.search(question, k=3)
    assert time.perf_counter() - started < 2 + size / 100
    with pytest.raises(QueryError, match="more than the 2,000"):
        seeds_index.search(question + "x" * MAX_QUERY_CHARS, k=3)
