"""Cross-script matching of names and numbers: "Qaim" finds "القائم".

A multilingual encoder bridges languages by meaning but is weak on rare names
written in another script, which are exactly what a newsroom asks about. So
every word is reduced to a *skeleton*: its consonants mapped to coarse sound
classes shared by Latin and Arabic spellings (ق ك خ / q k kh -> K), plus a
*vowel mask*, the gaps between consonants where a vowel is written.

Arabic writes only long vowels, so an Arabic word matches a Latin one when the
consonant skeletons are equal and every gap with an Arabic vowel has a Latin
vowel too: Qaim (K·a·i·M) matches القائم (K·ائ·M) but not القومي (K·و·M·ي) or
كما (K·M·ا). Digits match digits (Arabic-Indic ones folded to ASCII).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

_ARABIC_CLASSES = {
    "B": "بپ",
    "T": "تطث",
    "D": "دذضظز",
    "G": "جغگ",
    "H": "حه",
    "K": "كقخ",
    "S": "سصش",
    "F": "فڤ",
    "L": "ل",
    "M": "م",
    "N": "ن",
    "R": "ر",
}
_ARABIC = {ch: cls for cls, letters in _ARABIC_CLASSES.items() for ch in letters}
_ARABIC_VOWELS = frozenset("اأإآءئؤىويع")
_ARABIC_PREFIXES = ("وال", "فال", "بال", "كال", "لل", "ال", "و", "ف", "ب", "ل")
_TASHKEEL = re.compile(r"[\u064B-\u065F\u0670\u0640]")  # diacritics and tatweel

_LATIN_DIGRAPHS = {
    "kh": "K",
    "sh": "S",
    "ch": "S",
    "th": "T",
    "dh": "D",
    "gh": "G",
    "ph": "F",
    "ck": "K",
}
_LATIN = {
    "b": "B", "p": "B", "t": "T", "d": "D", "z": "D", "j": "G", "g": "G", "h": "H",
    "k": "K", "c": "K", "q": "K", "s": "S", "f": "F", "v": "F", "l": "L", "m": "M",
    "n": "N", "r": "R",
}  # fmt: skip
_LATIN_VOWELS = frozenset("aeiouyw'")

# English function words carry no name; they would only add noise.
_ENGLISH_STOPWORDS = frozenset(
    """a about after again against al all also an and any are as at be been before between
    both but by can could did do does done down during each el for from further had has have
    he her here his how i if in into is it its just many me more most much no not now of off
    on once only or other our out over own per same say said says she should so some such
    tell than that the their them then there these they this those through to too under until
    up very via was we were what when where which while who whom whose why will with would
    you your""".split()
)

_WORD = re.compile(r"[^\W\d_]+|\d+")
_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")

Term = tuple[str, int]
"""(skeleton, vowel mask); a number is (digits, 0)."""


@dataclass(frozen=True)
class QueryTerm:
    """One word of a question: the shapes it may take, and how they match."""

    shapes: frozenset[Term]
    latin: bool

    @property
    def skeletons(self) -> set[str]:
        return {skeleton for skeleton, _ in self.shapes}

    def matches(self, skeleton: str, mask: int) -> bool:
        """Latin: stored vowels must sit where the question has vowels. Else: same shape."""
        if self.latin:
            return any(skeleton == s and mask & ~m == 0 for s, m in self.shapes)
        return (skeleton, mask) in self.shapes


def passage_terms(text: str) -> set[Term]:
    """Every shape a passage offers for matching (stored in the index)."""
    terms: set[Term] = set()
    for word in _WORD.findall(text.translate(_DIGITS)):
        terms.update(_word_shapes(word))
    return terms


def query_terms(text: str) -> list[QueryTerm]:
    """The words of a question worth matching, English stopwords left out."""
    out: list[QueryTerm] = []
    for word in _WORD.findall(text.translate(_DIGITS)):
        if word.lower() in _ENGLISH_STOPWORDS:
            continue
        shapes = frozenset(_word_shapes(word))
        term = QueryTerm(shapes, latin=not word.isdigit() and not _is_arabic(word))
        if shapes and term not in out:
            out.append(term)
    return out


MAX_NAME_CHARS = 30
"""Longer words are no names (a base64 run, a long compound): their vowel mask,
one bit a consonant, would not fit SQLite's 64-bit integer (two a letter at most)."""


def _word_shapes(word: str) -> set[Term]:
    if len(word) > MAX_NAME_CHARS:
        return set()
    if word.isdigit():
        return {(word, 0)}
    shapes = _arabic_shapes(word) if _is_arabic(word) else {_latin_shape(word)}
    return {t for t in shapes if len(t[0]) >= 2}


def _is_arabic(word: str) -> bool:
    return "\u0600" <= word[0] <= "\u06ff"


def _shape(units: list[str | None]) -> Term:
    """Consonant classes (str) and vowels (None) -> (skeleton, vowel mask).

    A doubled consonant with no vowel between counts once (Tueller, Baghdad's
    dd) and a final H is dropped (it is often a silent ending in both scripts).
    """
    consonants: list[str] = []
    mask = 0
    for unit in units:
        if unit is None:
            mask |= 1 << len(consonants)
        elif not (consonants and consonants[-1] == unit and not mask >> len(consonants) & 1):
            consonants.append(unit)
    if len(consonants) > 1 and consonants[-1] == "H" and not mask >> len(consonants) & 1:
        consonants.pop()
    return "".join(consonants), mask


def _latin_shape(word: str) -> Term:
    word = word.lower()
    units: list[str | None] = []
    i = 0
    while i < len(word):
        if word[i : i + 2] in _LATIN_DIGRAPHS:
            units.append(_LATIN_DIGRAPHS[word[i : i + 2]])
            i += 2
            continue
        ch = word[i]
        if ch == "x":
            units += ["K", "S"]
        elif ch in _LATIN:
            units.append(_LATIN[ch])
        elif ch in _LATIN_VOWELS:
            units.append(None)
        i += 1
    return _shape(units)


def _arabic_shapes(word: str) -> set[Term]:
    """Shapes of the word with and without its clitic prefixes (و، ف، ب، ل، ال)."""
    word = _TASHKEEL.sub("", word)
    forms = {word}
    for prefix in _ARABIC_PREFIXES:
        if word.startswith(prefix) and len(word) - len(prefix) >= 2:
            forms.add(word[len(prefix) :])
    forms |= {f[2:] for f in forms if f.startswith("ال") and len(f) >= 4}
    shapes = set()
    for form in forms:
        form = form.removesuffix("ة")
        units = [_ARABIC.get(ch) for ch in form if ch in _ARABIC or ch in _ARABIC_VOWELS]
        shapes.add(_shape(units))
    return shapes


def name_scores(
    terms: list[QueryTerm], postings: list[tuple[str, int, int]], passages: int
) -> dict[int, float]:
    """Sum of IDF weights of the question's terms that each passage matches.

    ``postings`` are (skeleton, mask, passage_id) rows for the terms'
    skeletons. Rare names weigh much more than common words (BM25's IDF with
    binary term frequency: a name counts once however often it recurs).
    """
    by_skeleton: dict[str, list[tuple[int, int]]] = {}
    for skeleton, mask, pid in postings:
        by_skeleton.setdefault(skeleton, []).append((mask, pid))
    scores: dict[int, float] = {}
    for term in terms:
        matched = {
            pid
            for skeleton in term.skeletons
            for mask, pid in by_skeleton.get(skeleton, ())
            if term.matches(skeleton, mask)
        }
        if not matched:
            continue
        df = len(matched)
        idf = math.log(1 + (passages - df + 0.5) / (df + 0.5))
        for pid in matched:
            scores[pid] = scores.get(pid, 0.0) + idf
    return scores
