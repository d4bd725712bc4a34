"""Whether a feed item's own text is only a teaser (so its article page is worth fetching).

Pure and free of I/O imports (unlike jobs.enrich.page, which fetches the pages): the parse
workers (jobs.enrich.workers) decide it next to the entry's plain text, so a first poll of
thousands of entries does not spend the poller's event loop on it.
"""

from __future__ import annotations

import re

from jobs.enrich.summarize import syllables
from jobs.enrich.text import normalize

__all__ = ["is_teaser"]

TEASER_MAX_SYLLABLES = 60  # one lead sentence runs 25-45 syllables; an article has hundreds
TEASER_MIN_SENTENCES = 2
_TRUNCATION = re.compile(
    r"(?:\.{3}|…|\[\s*(?:…|\.{3})\s*\]|\(\s*(?:…|\.{3})\s*\))\s*$|"
    r"(?:xem (?:tiếp|thêm|chi tiết)|đọc (?:tiếp|thêm)|read more|continue reading)"
    r"\s*(?:»|>>|→|\.{3}|…)?\s*$",
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"[.!?…]+[”\"’'»)\]]*(?=\s|$)")
TRUNCATION_MAX_CHARS = 1500  # a cut-off mark after this much text is the article's own "…"


def is_teaser(entry_text: str, title: str) -> bool:
    """Whether a feed item's own text is only a teaser, so the article page is worth fetching.

    A teaser is: nothing at all; the title again; text cut off with "...", "…", "[…]" or a
    "Xem tiếp" link (CMS auto-excerpts); or fewer than ~60 syllables or 2 sentences, which is a
    lead line rather than an article. ``entry_text`` is plain text (see ``jobs.enrich.text``).
    """
    text = normalize(entry_text)
    if not text:
        return True
    words = syllables(text)
    title_key = " ".join(syllables(normalize(title)))
    if title_key and f" {' '.join(words)} " in f" {title_key} ":
        return True
    if len(text) <= TRUNCATION_MAX_CHARS and _TRUNCATION.search(text):
        return True
    if len(words) < TEASER_MAX_SYLLABLES:
        return True
    return len(_SENTENCE_END.findall(text)) < TEASER_MIN_SENTENCES
