"""Pure rendering: article / announcement / feedback card + locale + channel → OutMessage.

Escaping and length limits live here, so no send can fail on a title holding `<` or `&`, or
on a 10,000-character article. Telegram counts length after entity parsing in UTF-16 code
units; `visible_length` computes exactly that for the HTML we produce.
"""

from __future__ import annotations

import html
import re
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Protocol

from bot.channel import HTML, Button, Capabilities, OutMessage
from bot.i18n import t
from storage.records import Announcement, Article, Feedback, Subscriber

VIETNAM = timezone(timedelta(hours=7), "ICT")  # Asia/Ho_Chi_Minh; no daylight saving
TITLE_MAX = 300
ELLIPSIS = "…"
_TAG = re.compile(r"<[^>]*>")


def feedback_data(article_id: int) -> str:
    return f"fb:{article_id}"


def broadcast_data(action: str, announcement_id: int) -> str:
    return f"bc:{action}:{announcement_id}"


def escape(text: str) -> str:
    return html.escape(text, quote=True)


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def visible_length(text: str, markup: str) -> int:
    """Length as the platform counts it: tags removed and entities decoded for HTML."""
    if markup == HTML:
        text = html.unescape(_TAG.sub("", text))
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


def render_article(
    article: Article, lang: str, caps: Capabilities, *, feedback_button: bool = True
) -> OutMessage:
    """Title (bold, linked), source and date, the summary, and the feedback button."""
    title = shorten(article.title.strip() or "—", TITLE_MAX)
    meta = " · ".join(
        part
        for part in (article.feed_name, format_date(article.published_at or article.created_at))
        if part
    )
    summary = (article.summary or "").strip()
    buttons: tuple[tuple[Button, ...], ...] = ()
    if feedback_button and caps.buttons:
        buttons = ((Button(t("feedback_button", lang), feedback_data(article.id)),),)

    if caps.markup == HTML:
        head = f"<b>{escape(title)}</b>"
        if article.link:
            head = f'<b><a href="{escape(article.link)}">{escape(title)}</a></b>'
        lines = [head]
        if meta:
            lines.append(f"<i>{escape(meta)}</i>")
        fixed = "\n".join(lines)
        budget = caps.max_text - visible_length(fixed, HTML) - 2
        text = fixed + ("\n\n" + escape(shorten(summary, budget)) if summary else "")
    else:
        lines = [title]
        if meta:
            lines.append(meta)
        tail = f"\n{t('read_more', lang)}: {article.link}" if article.link else ""
        fixed = "\n".join(lines)
        budget = caps.max_text - utf16_len(fixed) - utf16_len(tail) - 2
        text = fixed + ("\n\n" + shorten(summary, budget) if summary else "") + tail
    return OutMessage(text=text, buttons=buttons, markup=caps.markup)


def render_announcement(announcement: Announcement, lang: str, caps: Capabilities) -> OutMessage:
    """The announcement in full: the deliverer splits it at paragraphs if it is too long for
    one message (an announcement is never cut short)."""
    body = announcement.text.strip()
    if caps.markup == HTML:
        text = f"{t('announcement_header_html', lang)}\n\n{escape(body)}"
    else:
        text = f"{t('announcement_header', lang)}\n\n{body}"
    return OutMessage(text=text, markup=caps.markup)


def announcement_limit(caps: Capabilities) -> int:
    """The longest announcement text that fits one message with its header."""
    return caps.max_text - 40


def render_broadcast_preview(
    announcement: Announcement, recipients: int, lang: str, caps: Capabilities
) -> OutMessage:
    """The preview shows the announcement exactly as recipients get it, then confirm/cancel."""
    body = render_announcement(announcement, lang, caps).text
    if caps.markup == HTML:
        text = t("broadcast_preview_html", lang, count=recipients, body=body)
    else:
        text = html.unescape(
            _TAG.sub("", t("broadcast_preview_html", lang, count=recipients, body=""))
        )
        text += body
    buttons = (
        (
            Button(t("broadcast_confirm", lang), broadcast_data("ok", announcement.id)),
            Button(t("broadcast_cancel", lang), broadcast_data("no", announcement.id)),
        ),
    )
    if visible_length(text, caps.markup) > caps.max_text:
        text = body  # the preview line is a nicety; the announcement itself always fits
    return OutMessage(text=text, buttons=buttons, markup=caps.markup)


def render_feedback_card(
    feedback: Feedback,
    subscriber: Subscriber | None,
    article: Article | None,
    lang: str,
    caps: Capabilities,
) -> OutMessage:
    """What staff see in their chat for one citizen's feedback."""
    name = (subscriber.display_name if subscriber else None) or t("anonymous", lang)
    if subscriber:
        name = f"{name} ({subscriber.platform}:{subscriber.chat_id})"
    text_budget = caps.max_text - 600
    body = shorten(feedback.text, text_budget)
    if caps.markup == HTML:
        if article is None:
            art = escape(t("no_article", lang))
        elif article.link:
            art = f'<a href="{escape(article.link)}">{escape(shorten(article.title, 200))}</a>'
        else:
            art = escape(shorten(article.title, 200))
        text = t(
            "feedback_card_html",
            lang,
            ticket=feedback.id,
            name=escape(name),
            article=art,
            text=escape(body),
        )
    else:
        if article is None:
            art = t("no_article", lang)
        else:
            art = shorten(article.title, 200) + (f" — {article.link}" if article.link else "")
        text = t("feedback_card", lang, ticket=feedback.id, name=name, article=art, text=body)
    return OutMessage(text=text, markup=caps.markup)


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
        words = html.unescape(_TAG.sub("", para)) if message.markup == HTML else para
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


class ProgressLike(Protocol):
    """What render needs of jobs.progress.Progress (read-only, so frozen dataclasses fit)."""

    @property
    def queued(self) -> int: ...
    @property
    def sent(self) -> int: ...
    @property
    def failed(self) -> int: ...
    @property
    def blocked(self) -> int: ...
    @property
    def remaining(self) -> int: ...
    @property
    def rate(self) -> float: ...
    @property
    def eta_seconds(self) -> float | None: ...
    @property
    def done(self) -> bool: ...


def format_duration(seconds: float, lang: str) -> str:
    seconds = max(0, round(seconds))
    if seconds < 60:
        return t("duration_seconds", lang, n=seconds)
    if seconds < 3600:
        return t("duration_minutes", lang, n=round(seconds / 60))
    return t("duration_hours", lang, h=seconds // 3600, m=(seconds % 3600) // 60)


def progress_params(progress: ProgressLike, lang: str) -> dict[str, object]:
    """The catalog parameters every progress line uses (chat message and CLI alike)."""
    eta = "—"
    if progress.eta_seconds is not None:
        eta = format_duration(progress.eta_seconds, lang)
    return {
        "sent": progress.sent,
        "queued": progress.queued,
        "failed": progress.failed,
        "blocked": progress.blocked,
        "remaining": progress.remaining,
        "rate": f"{progress.rate:.1f}",
        "eta": eta,
    }


def render_broadcast_progress(
    announcement: Announcement, progress: ProgressLike, lang: str, caps: Capabilities
) -> OutMessage:
    """The one staff message that follows a broadcast: counts, rate, ETA; then the total."""
    key = "broadcast_done" if progress.done else "broadcast_progress"
    text = t(key, lang, id=announcement.id, **progress_params(progress, lang))
    return plain(text, caps)
