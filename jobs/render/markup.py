"""Text markup: escaping, lengths as the platforms count them, cutting and splitting.

Escaping and length limits live here, so no send can fail on a title holding `<` or `&`, or
on a 10,000-character article. Telegram counts length after entity parsing in UTF-16 code
units; `visible_length` computes exactly that for the HTML we produce.
"""

from __future__ import annotations

import html
import re
from dataclasses import replace
from datetime import datetime, timedelta, timezone

from jobs.channel import HTML, Capabilities, OutMessage

VIETNAM = timezone(timedelta(hours=7), "ICT")  # Asia/Ho_Chi_Minh; no daylight saving
ELLIPSIS = "…"
_TAG = re.compile(r"<[^>]*>")


def escape(text: str) -> str:
    return html.escape(text, quote=True)


def strip_tags(text: str) -> str:
    """The words of our HTML without its tags, entities decoded."""
    return html.unescape(_TAG.sub("", text))


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def visible_length(text: str, markup: str) -> int:
    """Length as the platform counts it: tags removed and entities decoded for HTML."""
    if markup == HTML:
        text = strip_tags(text)
    return utf16_len(text)


def shorten(text: str, limit: int) -> str:
    """At most `limit` UTF-16 units, cut at a word boundary with an ellipsis."""
    if utf16_len(text) <= limit:
        return text
    if limit <= 1:
        return ELLIPSIS[:limit]
    units, end = 0, 0
    for end, char in enumerate(text):  # noqa: B007 - `end` is used after the loop
        units += 2 if ord(char) > 0xFFFF else 1  # astral characters count twice in UTF-16
        if units > limit - 1:
            break
    cut = text[:end]
    space = cut.rfind(" ")
    if space > len(cut) * 0.6:
        cut = cut[:space]
    return cut.rstrip(" ,;:.-–") + ELLIPSIS


def format_date(when: datetime | None) -> str | None:
    if when is None:
        return None
    return when.astimezone(VIETNAM).strftime("%d/%m/%Y %H:%M")


def plain(text: str, caps: Capabilities) -> OutMessage:
    """A dialog reply of catalog text: escaped for HTML channels, cut to the limit."""
    body = shorten(text, caps.max_text)
    return OutMessage(text=escape(body) if caps.markup == HTML else body, markup=caps.markup)


def split_message(message: OutMessage, limit: int) -> list[OutMessage]:
    """Split an over-long message at paragraph boundaries (then lines, then words), each part
    within `limit` as the platform counts it; buttons stay on the last part.

    HTML parts stay valid because our renderers never open a tag across a blank line; a
    paragraph too long on its own is sent as plain text pieces.
    """
    if visible_length(message.text, message.markup) <= limit:
        return [message]
    parts: list[str] = []
    current = ""
    for para in message.text.split("\n\n"):
        candidate = f"{current}\n\n{para}" if current else para
        if visible_length(candidate, message.markup) <= limit:
            current = candidate
            continue
        if current:
            parts.append(current)
        if visible_length(para, message.markup) <= limit:
            current = para
            continue
        words = strip_tags(para) if message.markup == HTML else para
        while words:
            piece = shorten(words, limit)
            cut = len(piece.rstrip(ELLIPSIS)) if piece.endswith(ELLIPSIS) else len(piece)
            chunk, words = words[:cut].rstrip(), words[cut:].lstrip()
            parts.append(escape(chunk) if message.markup == HTML else chunk)
        current = ""
    if current:
        parts.append(current)
    out = [replace(message, text=p, buttons=()) for p in parts if p.strip()]
    out[-1] = replace(out[-1], buttons=message.buttons)
    return out
