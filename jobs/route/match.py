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


class _Unmarked(dict[int, int | None]):
    """A ``str.translate`` table: combining marks to nothing, any other code point to itself,
    each decided once when first met (at most ``_UNMARKED_MAX`` kept: hostile text full of rare
    code points costs time, never memory)."""

    def __missing__(self, code: int) -> int | None:
        value = None if unicodedata.combining(chr(code)) else code
        if len(self) < _UNMARKED_MAX:
            self[code] = value
        return value


_UNMARKED_MAX = 8192
_UNMARK = _Unmarked()
# The combining marks Vietnamese (and Latin script generally) decomposes into: one regular
# expression pass removes them; only text with other non-ASCII left goes through _UNMARK.
_LATIN_MARKS = re.compile(
    "[" + "".join(chr(c) for c in range(0x300, 0x370) if unicodedata.combining(chr(c))) + "]+"
)


def fold(text: str) -> str:
    """Lower case without diacritics: "Đường Sắt" → "duong sat" (same on every database).

    A regular expression (and a cached ``str.translate`` table for other scripts) rather than a
    character-by-character generator: a first poll folds every new article twice (search index,
    matching), and the generator was most of fan-out's CPU (issue #17).
    """
    lowered = unicodedata.normalize("NFC", text).lower().replace("đ", "d")
    decomposed = unicodedata.normalize("NFD", lowered)
    if decomposed.isascii():
        return decomposed
    stripped = _LATIN_MARKS.sub("", decomposed)
    return stripped if stripped.isascii() else stripped.translate(_UNMARK)


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
        return cls.of_folded(feed_id, topics, fold(search_text(title, summary)))

    @classmethod
    def of_folded(cls, feed_id: int, topics: Iterable[int], folded: str) -> Candidate:
        """From ``fold(search_text(title, summary))``, which fan-out also stores for search:
        each article is folded once."""
        return cls(feed_id, frozenset(topics), tuple(_WORD.findall(folded.replace("_", " "))))


def search_text(title: str, summary: str | None) -> str:
    """What is matched and searched of an article: its title and summary."""
    return f"{title}\n{summary or ''}"


def wants(prefs: Preferences, item: Candidate) -> bool:
    """In scope, at least one include keyword (when there are any), and no exclude keyword."""
    return Choice.of(prefs).wants(item)


@dataclass(frozen=True)
class Choice:
    """What matching needs of one subscriber's preferences, keywords folded once.

    Why: fan-out asks every article against every distinct choice; folding each keyword again
    for every article was most of that work. Subscribers with equal choices share one Choice
    (its fields are the grouping key, jobs/route/fanout.py), so each is asked once per article.
    """

    all_news: bool
    topics: frozenset[int]
    feeds: frozenset[int]
    include: tuple[tuple[str, ...], ...]
    exclude: tuple[tuple[str, ...], ...]

    @classmethod
    def of(cls, prefs: Preferences) -> Choice:
        return cls(
            prefs.all_news,
            prefs.topics,
            prefs.feeds,
            tuple(words(w) for w in prefs.include),
            tuple(words(w) for w in prefs.exclude),
        )

    def wants(self, item: Candidate) -> bool:
        """Everything (all news), or any chosen source, or any chosen topic: a subscriber's mix;
        then no exclude keyword, and at least one include keyword when there are any."""
        if not (self.all_news or item.feed_id in self.feeds or self.topics & item.topics):
            return False
        if any(contains(item.text, w) for w in self.exclude):
            return False
        if self.include:
            return any(contains(item.text, w) for w in self.include)
        return True
