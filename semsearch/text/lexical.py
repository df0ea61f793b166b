"""Words as a search engine sees them: Arabic normalised, light stemming, for BM25.

Arabic is written with optional diacritics, several alef forms and letters
that writers swap freely (ى/ي, ة/ه), and glues conjunctions, prepositions and
the article to the word (والقوات = و + ال + قوات). Both the stored passages and
the questions go through :func:`terms`, so a question matches a passage
whatever spelling either uses.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

_TASHKEEL = re.compile(
    r"[\u0610-\u061A\u064B-\u065F\u0670\u06D6-\u06ED\u0640]"
)  # diacritics, tatweel
_ALEF = re.compile(r"[أإآٱ]")
_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")
_WORD = re.compile(r"[^\W_]+")
# Larkey's light10 stemmer (Larkey, Ballesteros & Connell 2007), on normalised
# text: the conjunction و, then an article-bearing prefix, then suffixes.
_ARTICLES = ("وال", "بال", "كال", "فال", "لل", "ال")
_SUFFIXES = ("ها", "ان", "ات", "ون", "ين", "يه", "ه", "ي")

# Function words that would match nearly every passage.
_ARABIC_STOPWORDS = frozenset(
    """في من على الى عن ان او ثم لا ما لم لن قد كما كان كانت يكون التي الذي الذين هذا هذه ذلك
    تلك هو هي هم بين بعد قبل حتي كل بعض غير عند مع منذ خلال حول ضد دون عبر لدي نحو اي ايضا
    الا وقد فقد كذلك حيث حين اذ اذا لو لما هناك هنا ذات كم كيف متي اين لماذا ماذا من هل وفي
    وان وقال قال""".split()
)
_LATIN_STOPWORDS = frozenset(
    """a about after an and are as at be been by did do does for from had has have how in into
    is it its of on or that the their them they this to was were what when where which who whom
    why will with au aux avec ce ces dans de des du elle en est et il ils la le les leur mais
    ne ou par pas pour qu que qui quand quel quelle sa se ses son sont sur un une""".split()
)


def collapse_spaces(text: str) -> str:
    """Collapse white space: the form of a passage or question that is embedded and hashed."""
    return " ".join(text.split())


def fold_spelling(text: str) -> str:
    """Fold the spelling variants of Arabic (and case) to one form."""
    text = _TASHKEEL.sub("", text.translate(_DIGITS))
    text = _ALEF.sub("ا", text)
    return text.replace("ى", "ي").replace("ة", "ه").replace("ؤ", "و").replace("ئ", "ي").lower()


_STOPWORDS = frozenset(fold_spelling(w) for w in _ARABIC_STOPWORDS | _LATIN_STOPWORDS)


def terms(text: str) -> list[str]:
    """The stemmed index terms of ``text``, stopwords left out, in order."""
    out = []
    for word in _WORD.findall(fold_spelling(text)):
        if word in _STOPWORDS:
            continue
        out.append(_stem(word))
    return [t for t in out if t]


@lru_cache(maxsize=200_000)
def _stem(word: str) -> str:
    if word.isdigit():
        return word
    if "\u0600" <= word[0] <= "\u06ff":
        return _light10(word)
    return _stemmer("english").stemWord(word)


def _light10(word: str) -> str:
    if word.startswith("و") and len(word) >= 4:
        word = word[1:]
    for article in _ARTICLES:
        if word.startswith(article) and len(word) - len(article) >= 2:
            word = word[len(article) :]
            break
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 2:
            word = word[: -len(suffix)]
    return word


@lru_cache(maxsize=2)
def _stemmer(language: str) -> Any:
    import Stemmer

    return Stemmer.Stemmer(language)


def fts_query(words: list[str]) -> str | None:
    """An FTS5 query matching any of ``words`` (quoted, so no word is read as syntax)."""
    unique = list(dict.fromkeys(words))
    if not unique:
        return None
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in unique)
