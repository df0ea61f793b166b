import itertools
from pathlib import Path
from typing import NamedTuple

import pytest

from semsearch.errors import InputError
from semsearch.readers import read_text
from semsearch.text.chunking import ChunkingConfig, chunk, collapse_spaces

from ..conftest import QAIM, SEEDS

SEED_FILES = sorted(SEEDS.glob("*.txt"))


class Piece(NamedTuple):
    start: int
    end: int
    text: str


def pieces(text: str, config: ChunkingConfig | None = None) -> list[Piece]:
    """chunk()'s offsets with the text they cut out."""
    return [Piece(s, e, text[s:e]) for s, e in chunk(text, config or ChunkingConfig())]


@pytest.mark.parametrize("path", SEED_FILES, ids=lambda p: p.name[:3])
def test_every_passage_is_an_exact_slice_of_its_file(path: Path) -> None:
    text = read_text(path)
    spans = pieces(text)
    assert spans
    for span in spans:
        assert text[span.start : span.end] == span.text
        assert span.text == span.text.strip()
    assert [s.start for s in spans] == sorted(s.start for s in spans)


def test_page_chrome_never_reaches_a_passage() -> None:
    everything = "\n".join(s.text for p in SEED_FILES for s in pieces(read_text(p)))
    for junk in (
        "اضغط هنا",
        "Connect with us",
        "Advertisement",
        "facebook",
        "ماكرون وبوتين",
        "ar Arabic",
        "بتوقيت نيويورك",
        "Wednesday",
        "النشرة اليومية",
    ):
        assert junk not in everything


def test_a_heading_joins_the_paragraph_it_introduces() -> None:
    spans = pieces(read_text(SEEDS / "000_13cb502306774242.txt"))
    heading = [s for s in spans if s.text.startswith("الحوار الاستراتيجي\n")]
    assert len(heading) == 2  # the article repeats its block; both places are passages
    assert "ووفق بيان للحكومة العراقية" in heading[0].text


def test_a_broken_line_joins_the_next_one() -> None:
    first = pieces(read_text(SEEDS / "000_13cb502306774242.txt"))[0]
    assert "بحث رئيس الحكومة العراقية، مصطفى\nالكاظمي، اليوم الخميس" in first.text


def test_the_qaim_paragraph_stands_alone() -> None:
    spans = pieces(read_text(SEEDS / "000_13cb502306774242.txt"))
    qaim = [s for s in spans if QAIM in s.text]
    assert len(qaim) == 2
    assert all(s.text.startswith("وتسلمت") and s.text.endswith("كافة.") for s in qaim)


def test_repeated_titles_are_not_glued_together() -> None:
    spans = pieces(read_text(SEEDS / "001_354d3392e6522b73.txt"))
    title = "واشنطن توافق على سحب قواتها من العراق"
    assert [s.text for s in spans[:2]] == [title, title]


def test_lone_short_lines_are_dropped() -> None:
    para = "This paragraph is long enough to be a passage about the talks in Baghdad today."
    text = f"Breaking Stories\nAdvertisement\n{para}\nAdvertisement\nTop Picks Here\n"
    assert [s.text for s in pieces(text)] == [para]


def test_a_lone_line_in_another_script_is_dropped() -> None:
    para = (
        "بحث رئيس الوزراء العراقي مع السفير الأمريكي انهاء الدور القتالي لقوات التحالف في العراق."
    )
    text = f"ar Arabic\nen English de German fr French\nتابعونا على تويتر\n{para}\n"
    assert [s.text for s in pieces(text)] == [para]


def _long_arabic_paragraph(sentences: int) -> str:
    marks = [".", "؟", "؛", "!"]
    return " ".join(
        f"هذه الجملة رقم {i} تتحدث عن انسحاب القوات من العراق وعن الحوار الاستراتيجي بين البلدين{marks[i % 4]}"
        for i in range(sentences)
    )


def test_long_paragraphs_split_at_sentence_ends_with_overlap() -> None:
    text = "عنوان المقال الطويل عن الانسحاب\n" + _long_arabic_paragraph(40) + "\n"
    cfg = ChunkingConfig(max_chars=400, overlap_chars=120)
    spans = pieces(text, cfg)
    assert len(spans) > 5
    for span in spans:
        assert len(span.text) <= cfg.max_chars
        assert text[span.start : span.end] == span.text
    for a, b in itertools.pairwise(spans):
        assert a.text[-1] in ".؟؛!"  # cut after a sentence end, Arabic marks included
        assert b.start < a.end  # consecutive passages overlap
        assert a.end - b.start <= cfg.overlap_chars
    covered = "".join(collapse_spaces(text[s.start : s.end]) for s in spans)
    assert "رقم 0 " in covered and "رقم 39 " in covered


def test_an_overlong_sentence_splits_at_arabic_commas_then_spaces() -> None:
    sentence = "، ".join(f"وبند رقم {i} من بنود الاتفاق الطويل" for i in range(60)) + "."
    spans = pieces(sentence, ChunkingConfig(max_chars=200, overlap_chars=0))
    assert all(len(s.text) <= 200 for s in spans)
    assert all(s.text.endswith("،") for s in spans[:-1])
    word = "ا" * 500
    spans = pieces(
        f"{word} نهاية الفقرة الطويلة جدا هنا", ChunkingConfig(max_chars=100, overlap_chars=0)
    )
    assert all(len(s.text) <= 100 for s in spans)


@pytest.mark.parametrize(
    "kwargs",
    [{"max_chars": 10}, {"min_chars": 2000}, {"overlap_chars": 1000}, {"min_words": -1}],
)
def test_bad_sizes_are_refused_with_the_bad_value(kwargs: dict) -> None:
    with pytest.raises(InputError, match=str(next(iter(kwargs.values())))):
        ChunkingConfig(**kwargs)
