"""Plain text out of feed HTML, and the text normalization used everywhere on ingest.

Feeds carry titles and descriptions as HTML of every quality: entities, inline tags, scripts,
tracking pixels, unclosed tags. Everything downstream (keyword matching, sentence splitting,
summaries, Telegram messages) wants plain Vietnamese text in one Unicode form, so the rules live
here, once, as pure functions built on the stdlib ``html.parser`` (tolerant by design and free of
native dependencies).
"""

from __future__ import annotations

import html
import re
import unicodedata
from html.parser import HTMLParser

__all__ = ["html_to_text", "normalize", "plain_title"]

# Elements whose content is never reader-visible text.
_SKIPPED = frozenset({"script", "style", "noscript", "iframe", "template", "svg", "object"})

# Elements that start and end a paragraph. Everything else is inline.
_BLOCKS = frozenset(
    "address article aside blockquote caption dd details dialog div dl dt fieldset figcaption "
    "figure footer form h1 h2 h3 h4 h5 h6 header hr li main nav ol p pre section summary table "
    "tbody tfoot thead tr ul".split()
)

# Table cells sit side by side: keep their words apart without breaking the row.
_CELLS = frozenset({"td", "th"})

# Invisible characters that survive copy-paste from word processors and break keyword matching;
# C0 controls other than tab/newline are rejected by chat platforms.
_INVISIBLE = re.compile("[\u200b\ufeff\u00ad\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_WHITESPACE = re.compile(r"\s+")
_TAG = re.compile(r"<[^<>]*>")
_TRUNCATED_MARKUP = re.compile(r"<[a-zA-Z/!?]")


def normalize(s: str) -> str:
    """NFC, invisible characters dropped, every whitespace run (newlines too) -> one space.

    Vietnamese arrives both precomposed and decomposed (NFD from macOS and some CMSs); the two
    look identical but compare unequal, so keyword matching and de-duplication need one form.
    """
    s = _INVISIBLE.sub("", unicodedata.normalize("NFC", s))
    return _WHITESPACE.sub(" ", s).strip()


class _TextExtractor(HTMLParser):
    """Collects visible text as paragraphs; see ``html_to_text`` for the rules."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.paragraphs: list[str] = []
        self._current: list[str] = []
        self._skip_depth: dict[str, int] = {}

    def _break(self) -> None:
        text = normalize("".join(self._current))
        if text:
            self.paragraphs.append(text)
        self._current = []

    def _skipping(self) -> bool:
        return any(self._skip_depth.values())

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            self._skip_depth[tag] = self._skip_depth.get(tag, 0) + 1
        elif self._skipping():
            return
        elif tag in _BLOCKS or tag == "br":
            self._break()
        elif tag in _CELLS:
            self._current.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # <br/>, <hr/>, <div/>: a self-closed element opens nothing, so no skip depth.
        if not self._skipping() and (tag in _BLOCKS or tag == "br"):
            self._break()

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            if self._skip_depth.get(tag):
                self._skip_depth[tag] -= 1
        elif self._skipping():
            return
        elif tag in _BLOCKS or tag == "br":
            self._break()
        elif tag in _CELLS:
            self._current.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._skipping():
            self._current.append(data)

    def finish(self) -> list[str]:
        # A tag cut off at the end ('... <a href="http://', common in truncated descriptions)
        # would otherwise be flushed as text by close(); a browser would show nothing of it.
        if self.cdata_elem is None and _TRUNCATED_MARKUP.match(self.rawdata):
            self.rawdata = ""
        self.close()
        self._break()
        return self.paragraphs


def html_to_text(html_text: str) -> str:
    """Visible text of an HTML fragment: one paragraph per line, NFC, entities decoded.

    Block elements (p, div, li, h1-h6, blockquote, tr, figcaption, ...) and <br> end a paragraph,
    whitespace inside a paragraph collapses to single spaces, empty paragraphs disappear, and
    script/style/noscript/iframe content is dropped. Never raises: feeds are written by strangers,
    and a broken description must degrade to rough text, not stop a poll.
    """
    if not html_text:
        return ""
    if "<" not in html_text and "&" not in html_text:
        return "\n".join(p for p in (normalize(line) for line in html_text.splitlines()) if p)
    paragraphs = _simple_paragraphs(html_text)
    if paragraphs is not None:
        return "\n".join(paragraphs)
    parser = _TextExtractor()
    try:
        parser.feed(html_text)
        paragraphs = parser.finish()
    except Exception:  # html.parser is lenient, but "never raises" must hold for any input
        paragraphs = [normalize(html.unescape(_TAG.sub(" ", html_text)))]
    return "\n".join(p for p in paragraphs if p)


# A fragment made only of text and plain tags (attributes allowed, quoted or not, but no
# comments, declarations, stray "<", or script-like elements) is split by one regex in C, which
# is what html.parser would find too; anything else goes through html.parser. Feed
# descriptions are mostly <p>, <br>, <a>, <img>, <strong>: this is the common case, and several
# times faster (bench/README.md).
_ATTRIBUTE = r"""(?:\s+[a-zA-Z_:][-a-zA-Z0-9_:.]*(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'=<>`]+))?)"""
_SIMPLE_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9]*)(" + _ATTRIBUTE + r"*)\s*(/?)>")
_SIMPLE_FRAGMENT = re.compile(r"(?:[^<]|" + _SIMPLE_TAG.pattern + r")*")


def _simple_paragraphs(html_text: str) -> list[str] | None:
    """``html_to_text``'s paragraphs for a simple fragment, None when it is not simple.

    Mirrors _TextExtractor event for event: a start or end tag of a block (or br) ends a
    paragraph, a table cell's start or end tag adds a space, a self-closed tag (<br/>) ends a
    paragraph only for blocks and br, and text between tags is unescaped like html.parser does.
    """
    if not _SIMPLE_FRAGMENT.fullmatch(html_text):
        return None
    parts = _SIMPLE_TAG.split(html_text)  # text, (slash, name, attributes, selfclose), text...
    paragraphs: list[str] = []
    current: list[str] = []
    for i in range(0, len(parts), 5):
        text = parts[i]
        if text:
            current.append(html.unescape(text) if "&" in text else text)
        if i + 1 >= len(parts):
            break
        end, name, self_closed = parts[i + 1], parts[i + 2].lower(), parts[i + 4]
        if name in _SKIPPED:
            return None  # script/style content is raw text in html.parser: not simple
        if name in _BLOCKS or name == "br":
            paragraph = normalize("".join(current))
            if paragraph:
                paragraphs.append(paragraph)
            current = []
        elif name in _CELLS and not (self_closed and not end):
            current.append(" ")
    paragraph = normalize("".join(current))
    if paragraph:
        paragraphs.append(paragraph)
    return paragraphs


def plain_title(s: str) -> str:
    """A title as one line of plain text: HTML stripped, entities decoded, NFC, spaces collapsed.

    feedparser hands titles over as HTML when the feed says so ("A &amp; B", "<b>x</b>"), and as
    plain text otherwise; running both through the HTML path is safe because plain text with a
    stray "&" or "<" survives it unchanged.
    """
    return normalize(html_to_text(s)) if s else ""
