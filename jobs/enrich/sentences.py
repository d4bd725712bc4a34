"""Sentence splitting for Vietnamese news text.

Why not underthesea's ``sent_tokenize``: it brings large dependencies and a slow import
(bench/README.md), walks the text one character at a time in Python, and still splits
"vnexpress.net" into five "sentences", cuts “Tốt lắm.” before its closing quote and keeps "/."
of the portal end mark as a sentence. The rules below are a handful of regular expressions that
do what we need:

* a sentence ends at ``.``, ``!``, ``?``, ``…`` or ``...`` (plus any closing quotes or brackets
  glued to it) only when whitespace follows and the next word starts with a capital letter, a
  digit or an opening quote. That alone keeps domains (chiemhoa.tuyenquang.gov.vn), decimals
  (1.000.000, 3,5), glued initials (TP.HCM, PGS.TS, Q.1) and a mid-sentence "…" together;
* a period after a title abbreviation ("TS. Nguyễn Văn A", "TP. Hà Nội") or a single capital
  initial ("Nguyễn V. An") is not a boundary, while an acronym ("bảo vệ ANTQ. Sau đó") is;
* a line break always ends a sentence: paragraphs never run into each other;
* the portal end mark "./." ends the article: it becomes a plain period and everything after it
  (the "Gửi phản hồi" link, share buttons, related articles) is dropped.
"""

from __future__ import annotations

import re

# "./." (sometimes ". /." or "./ .") closes an article on Vietnamese government portals.
_END_MARK = re.compile(r"\.\s?/\s?\.(?=\s|$)")

# A terminator run, the closing quotes/brackets glued to it, then the whitespace after it.
_TERMINATOR = re.compile(r"(?:\.{3}|…|[.!?])+[”\"’'»)\]]*(?=\s)")

# What may precede the first letter of a new sentence: opening quotes, brackets, dashes.
_OPENERS = "“\"‘'«([-–—•* "

# Titles and place prefixes written with a period and followed by a name (lowercase, without the
# period). Acronyms such as UBND or ANTQ are deliberately absent: they end sentences.
ABBREVIATIONS = frozenset(
    {
        "ts", "ths", "th.s", "pgs", "gs", "bs", "bsck", "ks", "ls", "cn", "nsnd", "nsưt",
        "tp", "tx", "tt", "q", "p", "h", "x", "đ/c", "mr", "mrs", "ms", "dr", "st", "no",
        "tel", "đt", "sđt", "gđ", "pgđ", "tr", "vs",
    }
)  # fmt: skip

# "1. ", "a) ", "II. " at the start of a paragraph number a list item; they are not sentences.
_LIST_NUMBER = re.compile(r"(?:\d{1,2}|[a-zđ]|[IVXLC]{1,5})$")
_SPACES = re.compile(r"\s+")


def cut_at_end_mark(text: str) -> str:
    """Return ``text`` up to the portal end mark "./.", which becomes a plain period."""
    match = _END_MARK.search(text)
    if match is None:
        return text
    return text[: match.start()] + "."


def _is_abbreviation(word: str, at_paragraph_start: bool) -> bool:
    """Whether the period right after ``word`` belongs to the word rather than ending a sentence."""
    word = word.lstrip(_OPENERS)
    if not word:
        return False
    last = word.rsplit(".", 1)[-1]
    if last.lower() in ABBREVIATIONS or word.lower() in ABBREVIATIONS:
        return True
    if len(last) == 1 and last.isalpha() and last.isupper():
        return True  # an initial: "Nguyễn V. An", "J. Smith"
    return at_paragraph_start and _LIST_NUMBER.match(word) is not None


def _starts_sentence(rest: str) -> bool:
    """Whether the text after a terminator and its whitespace looks like a new sentence."""
    stripped = rest.lstrip(_OPENERS)
    if not stripped:
        return False
    return stripped[0].isupper() or stripped[0].isdigit()


def _split_paragraph(paragraph: str) -> list[str]:
    sentences: list[str] = []
    start = 0
    for match in _TERMINATOR.finditer(paragraph):
        end = match.end()
        if not _starts_sentence(paragraph[end : end + 12].lstrip()):
            continue
        if match.group() == ".":
            before = paragraph[start : match.start()]
            words = before.split()
            if words and _is_abbreviation(words[-1], at_paragraph_start=len(words) == 1):
                continue
        sentence = paragraph[start:end].strip()
        if sentence:
            sentences.append(sentence)
        start = end
    tail = paragraph[start:].strip()
    if tail:
        sentences.append(tail)
    return sentences


def split_paragraphs(text: str) -> list[str]:
    """Non-empty lines of ``text`` with inner whitespace collapsed (the end mark is honoured)."""
    paragraphs = []
    for line in cut_at_end_mark(text).splitlines():
        line = _SPACES.sub(" ", line).strip()
        if line:
            paragraphs.append(line)
    return paragraphs


def split_sentences(text: str) -> list[str]:
    """Split Vietnamese news text into sentences, paragraph by paragraph.

    Text after the "./." end mark is dropped; whitespace inside a sentence is collapsed.
    """
    sentences: list[str] = []
    for paragraph in split_paragraphs(text):
        sentences.extend(_split_paragraph(paragraph))
    return sentences
