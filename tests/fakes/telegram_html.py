"""A strict checker for Telegram's HTML parse mode, refusing what the Bot API refuses.

Why: a message with one stray ``<`` or ``&`` is refused by Telegram as a whole ("can't parse
entities"), and such bugs only show with real article titles. The fake Bot API server runs every
HTML send through this checker so tests fail the way production would.

The rules follow tdlib's ``parse_html`` (the parser behind the Bot API), including its error
texts and UTF-8 byte offsets. ``strict=True`` (the default) is stricter than Telegram where our
product must be: a raw ``>``, a bare ``&`` that is not an entity, an unquoted attribute value, an
``<a>`` without ``href``, a link inside a link and markup inside ``<code>`` are refused too
(Telegram silently tolerates or drops those, which hides escaping bugs or loses formatting).

Lengths are counted in UTF-16 code units after entity parsing, as Telegram counts them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024

_BAD = "Bad Request: can't parse entities: "
_SIMPLE_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
}
ALLOWED_TAGS = frozenset({*_SIMPLE_TAGS, "span", "a", "code", "pre", "blockquote", "tg-emoji"})
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_SPACES = " \t\n\r\f\v"


class TelegramHtmlError(ValueError):
    """Raised with the Bot API's own description, e.g. "Bad Request: can't parse entities: ..."."""

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


@dataclass(frozen=True)
class ParsedHtml:
    """The message as Telegram stores it: plain text plus Bot API MessageEntity dicts."""

    text: str
    entities: list[dict[str, Any]] = field(default_factory=list)

    @property
    def length(self) -> int:
        """Length in UTF-16 code units of the text Telegram keeps (surrounding spaces trimmed)."""
        return utf16_len(self.text.strip())


def utf16_len(text: str) -> int:
    """Telegram measures text and entity offsets in UTF-16 code units (emoji count as 2)."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _decode_entity(src: str, i: int) -> tuple[str, int] | None:
    """Decode the HTML entity at src[i] == '&' as tdlib does: (character, next index) or None.

    Only &lt; &gt; &amp; &quot; and numeric &#NNN; / &#xHH; exist; the ';' is required.
    """
    end = src.find(";", i + 1, i + 12)
    if end == -1:
        return None
    body = src[i + 1 : end]
    if body in _NAMED_ENTITIES:
        return _NAMED_ENTITIES[body], end + 1
    if body.startswith("#"):
        digits, base = (body[2:], 16) if body[1:2] in ("x", "X") else (body[1:], 10)
        allowed = "0123456789abcdefABCDEF" if base == 16 else "0123456789"
        if not digits or any(c not in allowed for c in digits):
            return None
        code = int(digits, base)
        if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            return None
        return chr(code), end + 1
    return None


@dataclass
class _Open:
    tag: str
    byte_offset: int
    start: int  # UTF-16 offset in the parsed text
    attrs: dict[str, str]


class _Parser:
    """One pass over the source, building plain text and entities; raises on the first error."""

    def __init__(self, source: str, strict: bool) -> None:
        self.src = source
        self.strict = strict
        self.out: list[str] = []
        self.pos16 = 0  # UTF-16 length of self.out
        self.stack: list[_Open] = []
        self.entities: list[dict[str, Any]] = []

    # -- helpers -----------------------------------------------------------------------------
    def byte_offset(self, index: int) -> int:
        return len(self.src[:index].encode("utf-8", "surrogatepass"))

    def fail(self, message: str) -> TelegramHtmlError:
        return TelegramHtmlError(_BAD + message)

    def emit(self, text: str) -> None:
        self.out.append(text)
        self.pos16 += utf16_len(text)

    def decode_text(self, text: str, base: int) -> str:
        """Decode entities inside an attribute value (tdlib decodes them there too)."""
        parts: list[str] = []
        i = 0
        while i < len(text):
            ch = text[i]
            if ch == "&":
                decoded = _decode_entity(text, i)
                if decoded is not None:
                    parts.append(decoded[0])
                    i = decoded[1]
                    continue
                if self.strict:
                    raise self.fail(f'Unescaped "&" at byte offset {self.byte_offset(base + i)}')
            parts.append(ch)
            i += 1
        return "".join(parts)

    # -- main loop ---------------------------------------------------------------------------
    def run(self) -> ParsedHtml:
        src, n, i = self.src, len(self.src), 0
        while i < n:
            ch = src[i]
            if ch == "<":
                i = self.end_tag(i) if src.startswith("</", i) else self.start_tag(i)
            elif ch == "&":
                decoded = _decode_entity(src, i)
                if decoded is None:
                    if self.strict:
                        raise self.fail(f'Unescaped "&" at byte offset {self.byte_offset(i)}')
                    self.emit("&")
                    i += 1
                else:
                    self.emit(decoded[0])
                    i = decoded[1]
            elif ch == ">" and self.strict:
                raise self.fail(f'Unescaped ">" at byte offset {self.byte_offset(i)}')
            else:
                j = i + 1
                while j < n and src[j] not in "<&>":
                    j += 1
                self.emit(src[i:j])
                i = j
        if self.stack:
            raise self.fail(
                f'Can\'t find end tag corresponding to start tag "{self.stack[-1].tag}"'
            )
        self.entities.sort(key=lambda e: (e["offset"], -e["length"]))
        return ParsedHtml("".join(self.out), self.entities)

    def start_tag(self, begin: int) -> int:
        src, n = self.src, len(self.src)
        j = begin + 1
        while j < n and src[j] not in _SPACES and src[j] != ">":
            j += 1
        if j >= n:
            raise self.fail(f"Unclosed start tag at byte offset {self.byte_offset(begin)}")
        tag = src[begin + 1 : j].lower()
        if tag not in ALLOWED_TAGS:
            raise self.fail(
                f'Unsupported start tag "{tag}" at byte offset {self.byte_offset(begin)}'
            )
        attrs, j = self.attributes(tag, begin, j)
        self.check_start(tag, attrs, begin)
        self.stack.append(_Open(tag, self.byte_offset(begin), self.pos16, attrs))
        return j

    def attributes(self, tag: str, begin: int, j: int) -> tuple[dict[str, str], int]:
        """Parse `name="value"` pairs up to '>'; return them and the index after the '>'."""
        src, n = self.src, len(self.src)
        attrs: dict[str, str] = {}
        unclosed = self.fail(f'Unclosed start tag "{tag}" at byte offset {self.byte_offset(begin)}')
        while True:
            while j < n and src[j] in _SPACES:
                j += 1
            if j >= n:
                raise unclosed
            if src[j] == ">":
                return attrs, j + 1
            k = j
            while k < n and src[k] not in _SPACES and src[k] not in "=>":
                k += 1
            name = src[j:k].lower()
            if not name:
                raise self.fail(
                    f'Empty attribute name in the tag "{tag}" at byte offset '
                    f"{self.byte_offset(begin)}"
                )
            while k < n and src[k] in _SPACES:
                k += 1
            if k >= n:
                raise unclosed
            if src[k] != "=":
                if tag == "blockquote" and name == "expandable":
                    attrs[name] = ""
                    j = k
                    continue
                raise self.fail(
                    f'Expected equal sign in declaration of an attribute of the tag "{tag}" '
                    f"at byte offset {self.byte_offset(begin)}"
                )
            k += 1
            while k < n and src[k] in _SPACES:
                k += 1
            if k >= n:
                raise unclosed
            if src[k] in "'\"":
                close = src.find(src[k], k + 1)
                if close == -1:
                    raise unclosed
                attrs[name] = self.decode_text(src[k + 1 : close], k + 1)
                j = close + 1
            else:
                if self.strict:
                    raise self.fail(
                        f'Unquoted value of attribute "{name}" in the tag "{tag}" at byte offset '
                        f"{self.byte_offset(begin)}"
                    )
                e = k
                while e < n and src[e] not in _SPACES and src[e] != ">":
                    e += 1
                attrs[name] = src[k:e]
                j = e

    def check_start(self, tag: str, attrs: dict[str, str], begin: int) -> None:
        at = f"at byte offset {self.byte_offset(begin)}"
        if tag == "span" and attrs.get("class") != "tg-spoiler":
            raise self.fail(f'Tag "span" must have class "tg-spoiler" {at}')
        if tag == "tg-emoji" and not attrs.get("emoji-id", "").isdigit():
            raise self.fail(f'Tag "tg-emoji" must have attribute "emoji-id" {at}')
        if not self.strict:
            return
        if tag == "a" and not attrs.get("href"):
            raise self.fail(f'Tag "a" must have attribute "href" {at}')
        open_tags = [o.tag for o in self.stack]
        if tag == "a" and "a" in open_tags:
            raise self.fail(f'Tag "a" can\'t be nested in another "a" {at}')
        if "code" in open_tags:
            raise self.fail(f'Tag "{tag}" can\'t be nested in "code" {at}')
        if "pre" in open_tags and tag != "code":
            raise self.fail(f'Tag "{tag}" can\'t be nested in "pre" {at}')
        if tag in ("pre", "blockquote") and tag in open_tags:
            raise self.fail(f'Tag "{tag}" can\'t be nested in another "{tag}" {at}')

    def end_tag(self, begin: int) -> int:
        src = self.src
        close = src.find(">", begin + 2)
        if close == -1:
            raise self.fail(f"Unclosed end tag at byte offset {self.byte_offset(begin)}")
        name = src[begin + 2 : close].rstrip(_SPACES).lower()
        if not self.stack:
            raise self.fail(f"Unexpected end tag at byte offset {self.byte_offset(begin)}")
        top = self.stack[-1]
        if name != top.tag:
            raise self.fail(
                f"Unmatched end tag at byte offset {self.byte_offset(begin)}, expected "
                f'"</{top.tag}>", found "</{name}>"'
            )
        self.stack.pop()
        self.add_entity(top)
        return close + 1

    def add_entity(self, opened: _Open) -> None:
        length = self.pos16 - opened.start
        if length == 0:
            return  # Telegram drops empty entities
        entity: dict[str, Any] = {"offset": opened.start, "length": length}
        tag, attrs = opened.tag, opened.attrs
        if tag in _SIMPLE_TAGS or tag == "span":
            entity["type"] = _SIMPLE_TAGS.get(tag, "spoiler")
        elif tag == "a":
            href = attrs.get("href", "")
            if not href:
                return
            entity.update(type="text_link", url=href)
        elif tag == "code":
            if (
                self.stack
                and self.stack[-1].tag == "pre"
                and attrs.get("class", "").startswith("language-")
            ):
                self.stack[-1].attrs["language"] = attrs["class"][len("language-") :]
                return
            entity["type"] = "code"
        elif tag == "pre":
            entity["type"] = "pre"
            if attrs.get("language"):
                entity["language"] = attrs["language"]
        elif tag == "blockquote":
            entity["type"] = "expandable_blockquote" if "expandable" in attrs else "blockquote"
        elif tag == "tg-emoji":
            entity.update(type="custom_emoji", custom_emoji_id=attrs["emoji-id"])
        self.entities.append(entity)


def parse_telegram_html(text: str, *, strict: bool = True) -> ParsedHtml:
    """Parse Telegram HTML into plain text and entities, raising TelegramHtmlError like the API.

    Does not check the length; see check_telegram_html and check_telegram_caption.
    """
    return _Parser(text, strict).run()


def check_length(parsed_text: str, *, caption: bool = False) -> int:
    """Apply the Bot API's length rules to already parsed text; return its UTF-16 length."""
    length = utf16_len(parsed_text.strip())
    if caption:
        if length > CAPTION_LIMIT:
            raise TelegramHtmlError("Bad Request: message caption is too long")
        return length
    if length == 0:
        raise TelegramHtmlError("Bad Request: message text is empty")
    if length > TEXT_LIMIT:
        raise TelegramHtmlError("Bad Request: message is too long")
    return length


def check_telegram_html(text: str, *, strict: bool = True) -> int:
    """Return the message length Telegram counts (UTF-16 units) or raise TelegramHtmlError.

    Raises exactly what sendMessage with parse_mode=HTML would answer: "can't parse entities",
    "message text is empty" (nothing left after parsing) or "message is too long" (> 4096).
    """
    return check_length(parse_telegram_html(text, strict=strict).text)


def check_telegram_caption(caption: str, *, strict: bool = True) -> int:
    """Like check_telegram_html for a sendPhoto caption: may be empty, at most 1024 units."""
    return check_length(parse_telegram_html(caption, strict=strict).text, caption=True)
