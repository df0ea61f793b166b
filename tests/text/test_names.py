import pytest

from semsearch.text.names import name_scores, passage_terms, query_terms


def _matches(latin: str, arabic: str) -> bool:
    stored = passage_terms(arabic)
    return any(t.matches(s, m) for t in query_terms(latin) for s, m in stored)


@pytest.mark.parametrize(
    ("latin", "arabic"),
    [
        ("Qaim", "القائم"),
        ("Kadhimi", "الكاظمي"),
        ("Farhad", "فرهد"),
        ("Tueller", "تولر"),
        ("Syria", "سورية"),
        ("Anbar", "الأنبار"),
        ("Baghdad", "بغداد"),
        ("Pentagon", "البنتاغون"),
        ("Khafaji", "الخفاجي"),
        ("Soleimani", "سليماني"),
        ("Blinken", "بلينكن"),
        ("Austin", "أوستن"),
    ],
)
def test_names_match_their_arabic_spelling(latin: str, arabic: str) -> None:
    assert _matches(latin, arabic)


@pytest.mark.parametrize(
    ("latin", "arabic"),
    [
        ("Qaim", "القومي"),  # same consonants, a vowel where Qaim has none
        ("Qaim", "كما"),
        ("Qaim", "يقوم"),
        ("Farhad", "فؤاد"),
    ],
)
def test_look_alike_words_do_not_match(latin: str, arabic: str) -> None:
    assert not _matches(latin, arabic)


def test_numbers_match_across_digit_scripts() -> None:
    assert _matches("2500 soldiers", "نحو ٢٥٠٠ جندي")
    assert not _matches("250", "نحو 2500 جندي")


def test_english_stopwords_are_ignored() -> None:
    assert query_terms("when did the and of") == []


def test_arabic_questions_match_with_and_without_clitics() -> None:
    assert _matches("قاعدة القائم", "وتسلمت القوات قاعدة القائم العسكرية")
    assert _matches("الأنبار", "في محافظة الأنبار")


def test_rare_names_outweigh_common_words() -> None:
    passages = {1: "العراق والقائم", 2: "العراق", 3: "العراق", 4: "العراق"}
    postings = [(s, m, pid) for pid, text in passages.items() for s, m in passage_terms(text)]
    scores = name_scores(query_terms("Iraq Qaim"), postings, len(passages))
    assert max(scores, key=scores.get) == 1
    assert scores[1] > 2 * scores[2]


def test_a_run_of_consonants_longer_than_a_name_gives_no_term() -> None:
    """A base64 data URI is one long word: no name term, and no mask past 64 bits."""
    terms = passage_terms("logo data:image/png;base64," + "QkNERkdISktMTUQUVJTVFZXWFla" * 300)
    assert all(mask < 2**63 for _, mask in terms)
    assert all(len(skeleton) <= 60 for skeleton, _ in terms)
