import pytest

from semsearch.text.lexical import fold_spelling, fts_query, terms


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("أَعْلَنَ", "اعلن"),  # tashkeel
        ("الأميركيــة", "الاميركيه"),  # tatweel, alef with hamza, ة -> ه
        ("إلى مصطفى", "الي مصطفي"),  # hamza below, ى -> ي
        ("آليات", "اليات"),  # madda
        ("مسؤول", "مسوول"),  # ؤ -> و
        ("٢٠٢٠ و ۲۰۲۱", "2020 و 2021"),  # Arabic-Indic and Persian digits
        ("Baghdad", "baghdad"),
    ],
)
def test_normalize_folds_arabic_spelling_variants(raw: str, normal: str) -> None:
    assert fold_spelling(raw) == normal


def test_clitics_and_suffixes_are_stripped() -> None:
    assert terms("والقوات") == terms("القوات") == terms("قوات")
    assert terms("الأمريكيين") == terms("أمريكي")
    assert terms("بالقاعدة") == terms("قاعدة")


def test_stopwords_are_left_out() -> None:
    assert terms("في من على إلى عن") == []
    assert terms("when did the") == []


def test_question_and_passage_spellings_meet() -> None:
    assert set(terms("متى تسلمت القوات العراقية قاعدة القائم؟")) <= set(
        terms("وتسلمت القوات الأمنية العراقية قاعدة القائم العسكرية في محافظة الأنبار")
    ) | {"متي"}


def test_fts_query_quotes_terms_for_fts5() -> None:
    assert fts_query(terms('the "hello"')) == '"hello"'
    assert fts_query(terms("in the of")) is None
