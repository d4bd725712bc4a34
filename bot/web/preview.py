"""What recipients will see, shown in the browser: the deliverer's own renderers, made safe.

The Telegram side is rendered by `render_staff_announcement` (the function the deliverer calls)
and then re-read with a whitelist: only <b>, <i>, <u>, <s>, <code>, <pre> and <a href="http(s)…">
survive, everything else becomes text, so the preview cannot carry markup a browser would run
even if a renderer had a bug. The Zalo side is plain text, escaped by the template.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser

from jobs.channel import HTML, PLAIN, Capabilities, OutMessage
from jobs.render.markup import split_message
from jobs.render.messages import render_staff_announcement
from storage.kinds import AnnouncementStatus
from storage.records import Announcement

TELEGRAM = Capabilities(markup=HTML, max_text=4096, max_caption=1024, buttons=True)
ZALO = Capabilities(markup=PLAIN, max_text=2000, max_caption=2000, buttons=False)
_ALLOWED = {"b", "strong", "i", "em", "u", "s", "code", "pre", "a", "blockquote"}


@dataclass(frozen=True)
class Preview:
    telegram: list[str]  # safe HTML, one entry per message the text is split into
    zalo: list[str]  # plain text, one entry per message


def draft(text: str) -> Announcement:
    return Announcement(
        id=0,
        text=text,
        status=AnnouncementStatus.DRAFT,
        created_by=None,
        origin_platform=None,
        origin_chat_id=None,
        recipients=0,
        created_at=datetime.now(UTC),
        queued_at=None,
        text_format="staff",
    )


def preview(announcement: Announcement, lang: str, zalo_caps: Capabilities = ZALO) -> Preview:
    def parts(caps: Capabilities) -> list[OutMessage]:
        return split_message(render_staff_announcement(announcement, lang, caps), caps.max_text)

    return Preview(
        telegram=[telegram_to_browser(m.text) for m in parts(TELEGRAM)],
        zalo=[m.text for m in parts(zalo_caps)],
    )


class _Whitelist(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _ALLOWED:
            return
        if tag == "a":
            href = dict(attrs).get("href") or ""
            if not href.startswith(("https://", "http://")):
                return
            self.out.append(f'<a href="{html.escape(href)}" rel="noopener noreferrer">')
        else:
            self.out.append(f"<{tag}>")
        self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.open:
            while self.open:
                last = self.open.pop()
                self.out.append(f"</{last}>")
                if last == tag:
                    break

    def handle_data(self, data: str) -> None:
        self.out.append(html.escape(data, quote=False))


def telegram_to_browser(text: str) -> str:
    """Telegram HTML → HTML safe to insert in a page (whitelisted tags, everything else text)."""
    parser = _Whitelist()
    parser.feed(text)
    parser.close()
    while parser.open:
        parser.out.append(f"</{parser.open.pop()}>")
    return "".join(parser.out)
