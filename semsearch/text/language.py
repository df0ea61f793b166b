"""Guessing a question's language, cheaply: by its script, and for Latin script
by a few common words.

Only what the dense signals need (see :mod:`~semsearch.encoders.ensemble`): which mean
question vector to remove (centering), and whether the second encoder was
trained on the language. A wrong guess between close languages costs little;
``None`` (no idea) falls back to treatments that suit every language.
"""

from __future__ import annotations

import re
import unicodedata

LANGUAGES = (
    "ar", "de", "el", "en", "es", "fa", "fr", "hi", "it", "ja",
    "ko", "pt", "ro", "ru", "th", "tr", "vi", "zh",
)  # fmt: skip
"""Languages this module can name; their example questions are in data/questions/."""

_SCRIPTS = (
    ("ARABIC", "ar"),
    ("CYRILLIC", "ru"),
    ("GREEK", "el"),
    ("DEVANAGARI", "hi"),
    ("THAI", "th"),
    ("HANGUL", "ko"),
    ("HIRAGANA", "ja"),
    ("KATAKANA", "ja"),
    ("CJK", "zh"),
    ("LATIN", "latin"),
)
_PERSIAN = set("پچژگکی")
_VIETNAMESE = set("đơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ")
_WORDS = {
    "en": "the what who when where which how why is was are were did does of in to and a",
    "fr": "le la les des du de est qui que qu quel quelle quels quand où pourquoi comment un une et l d s au aux a il été",
    "de": "der die das den dem des ist wer wem wen was wann wo wie warum welche welcher welches und ein eine im von mit für auf zu sich hat wurde wurden sind war",
    "es": "el la los las del de es qué quién cuándo dónde cómo por cuál y un una en se",
    "it": "il lo la gli le del della di è chi che cosa quando dove come perché quale quali e un una nel nella si ha",
    "pt": "o a os as do da dos das de é que quem quando onde como por qual e um uma em",
    "tr": "ne kim kimdi kimdir hangi hangisi nerede nasıl neden kaç bir ve bu için ile mi mı mu mü nedir olan olarak ise daha yılında",
    "ro": "ce cine când unde cum de care este și în la a un o din pe cu",
}
_WORD_SETS = {lang: set(words.split()) for lang, words in _WORDS.items()}
_LETTERS = {
    "tr": set("ığşöüç"),
    "ro": set("șțţăî"),
    "de": set("äöüß"),
    "es": set("ñ¿¡"),
    "pt": set("ãõç"),
}
"""Letters that mark a Latin-script language: each one found counts as two common words."""
_WORD = re.compile(r"\w+")


def guess_language(text: str) -> str | None:
    """The ISO 639-1 code of ``text``'s language among :data:`LANGUAGES`, or ``None``."""
    counts: dict[str, int] = {}
    for char in text:
        if char.isalpha():
            script = _script(char)
            if script:
                counts[script] = counts.get(script, 0) + 1
    if not counts:
        return None
    if counts.get("ja"):  # Japanese mixes kana with Chinese characters
        return "ja"
    # names are often written in Latin letters inside questions in other scripts
    script = max(counts, key=lambda s: (s != "latin", counts[s]))
    if script == "ar":
        return "fa" if any(c in _PERSIAN for c in text) else "ar"
    if script != "latin":
        return script
    lowered = text.lower()
    if any(c in _VIETNAMESE for c in lowered):
        return "vi"
    words = _WORD.findall(lowered)
    votes = {lang: sum(w in common for w in words) for lang, common in _WORD_SETS.items()}
    for lang, letters in _LETTERS.items():
        votes[lang] += 2 * sum(c in letters for c in lowered)
    best = max(votes, key=votes.__getitem__)
    return best if votes[best] else None


def _script(char: str) -> str | None:
    try:
        name = unicodedata.name(char)
    except ValueError:
        return None
    for prefix, script in _SCRIPTS:
        if name.startswith(prefix):
            return script
    return None
