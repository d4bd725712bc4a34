"""Who wants an article: topics, sources and keywords, decided without I/O.

Vietnamese readers type with and without diacritics ("an ninh", "An Ninh", "AN NINH"), so
both the article and the keyword are folded the same way — lower case, marks removed, "đ" to
"d" — and compared as whole words: a keyword is a sequence of words that must appear next to
each other in the title or summary. "an" never matches inside "anh". No user-supplied regular
expression ever runs, so a subscriber cannot make fan-out slow or fail.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from storage.records import Preferences

_WORD = re.compile(r"\w+")
MAX_KEYWORD_CHARS = 60


def fold(text: str) -> str:
    """Lower case without diacritics: "Đường Sắt" → "duong sat" (same on every database)."""
    lowered = unicodedata.normalize("NFC", text).lower().replace("đ", "d")
    decomposed = unicodedata.normalize("NFD", lowered)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def words(text: str) -> tuple[str, ...]:
    """The folded words of `text`, in order (punctuation and underscores are separators)."""
    return tuple(w for w in _WORD.findall(fold(text).replace("_", " ")) if w)


def clean_keyword(raw: str) -> str | None:
    """A keyword as stored: trimmed, single spaces, within limits; None when it has no word."""
    text = " ".join(raw.split())[:MAX_KEYWORD_CHARS]
    return text if words(text) else None


def contains(haystack: tuple[str, ...], phrase: tuple[str, ...]) -> bool:
    """Whether the words of `phrase` appear consecutively in `haystack`."""
    n = len(phrase)
    if n == 0:
        return False
    first = phrase[0]
    return any(
        haystack[i] == first and haystack[i : i + n] == phrase for i in range(len(haystack) - n + 1)
    )


@dataclass(frozen=True)
class Candidate:
    """What matching needs of an article: its feed, its topics, its folded words."""

    feed_id: int
    topics: frozenset[int]
    text: tuple[str, ...]

    @classmethod
    def of(cls, feed_id: int, topics: Iterable[int], title: str, summary: str | None) -> Candidate:
        return cls(feed_id, frozenset(topics), words(f"{title}\n{summary or ''}"))


def in_scope(prefs: Preferences, item: Candidate) -> bool:
    """Everything (all_news), or any chosen source, or any chosen topic: a subscriber's mix."""
    if prefs.all_news:
        return True
    return item.feed_id in prefs.feeds or bool(prefs.topics & item.topics)


def wants(prefs: Preferences, item: Candidate) -> bool:
    """In scope, at least one include keyword (when there are any), and no exclude keyword."""
    if not in_scope(prefs, item):
        return False
    if any(contains(item.text, words(w)) for w in prefs.exclude):
        return False
    if prefs.include:
        return any(contains(item.text, words(w)) for w in prefs.include)
    return True
