"""Recognising the junk that web scrapes carry: menus, share prompts, datelines.

Rules look at one line at a time and stay conservative: a line is junk only if
it is short enough to be chrome rather than prose *and* looks like chrome. Lone
short lines (headings, menu items) are handled by :mod:`semsearch.text.chunking`,
which can merge a heading into the paragraph it introduces instead.
"""

from __future__ import annotations

import re

# Phrases of page chrome in Arabic and English news sites. Strong phrases are
# unmistakable (sharing prompts, comment forms, newsletters) and drop a line of
# up to MAX_CHROME_WORDS words; weak words also occur in prose ("twitter",
# "comments") and drop only a line of up to MAX_WEAK_WORDS words.
_STRONG = (
    r"اضغط هنا",
    r"اضغط للتعليق",
    r"[أا]ترك تعليق",
    r"[أا]كمل القراءة",
    r"اقرأ أيضا",
    r"انضموا إلينا",
    r"تابعونا على",
    r"النشرة (اليومية|البريدية)",
    r"بريدك الإلكتروني",
    r"أحدث الأخبار",
    r"جميع الحقوق محفوظة",
    r"\bconnect with us\b",
    r"\bfollow us\b",
    r"\bshare (this|on)\b",
    r"\bsign up for\b",
    r"\bread more\b",
    r"\bleave a (comment|reply)\b",
    r"\ball rights reserved\b",
    r"\bwe use cookies\b",
)
_WEAK = (
    r"التعليقات",
    r"اشترك",
    r"إعلان",
    r"\b(subscribe|newsletter|advertisement|comments?|menu|home|search|login)\b",
    r"\b(facebook|twitter|whatsapp|telegram|instagram|youtube|rss)\b|\bgoogle\+",
)
_STRONG_RE = re.compile("|".join(_STRONG), re.IGNORECASE)
_WEAK_RE = re.compile("|".join(_WEAK), re.IGNORECASE)
_TIME = re.compile(r"\b\d{1,2}:\d{2}\b")
_URL_ONLY = re.compile(r"^\W*(https?://|www\.)\S+\W*$", re.IGNORECASE)
_LETTER = re.compile(r"[^\W\d_]")

MAX_CHROME_WORDS = 30
MAX_WEAK_WORDS = 6
MAX_DATELINE_WORDS = 12


def word_count(text: str) -> int:
    """Count tokens that contain a letter, so dates, bullets and dashes don't count."""
    return sum(1 for token in text.split() if _LETTER.search(token))


def boilerplate_reason(line: str) -> str | None:
    """Why ``line`` is page chrome rather than content, or ``None`` if it is content."""
    stripped = line.strip()
    words = word_count(stripped)
    if "|" in stripped and not (stripped.startswith("|") and stripped.endswith("|")):
        return "navigation"  # menu or ticker separators; markdown table rows are kept
    if _URL_ONLY.match(stripped):
        return "link"
    if words <= MAX_DATELINE_WORDS and _TIME.search(stripped):
        return "dateline"
    if words <= MAX_CHROME_WORDS and _STRONG_RE.search(stripped):
        return "page chrome"
    if words <= MAX_WEAK_WORDS and _WEAK_RE.search(stripped):
        return "page chrome"
    return None
