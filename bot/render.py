"""Pure rendering: article / announcement / feedback card + locale + channel → OutMessage.

Escaping and length limits live here, so no send can fail on a title holding `<` or `&`, or
on a 10,000-character article. Telegram counts length after entity parsing in UTF-16 code
units; `visible_length` computes exactly that for the HTML we produce.
"""

from __future__ import annotations

import html
import re
from datetime import datetime, timedelta, timezone

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
        part for part in (article.feed_name, format_date(article.published_at)) if part
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
    body = announcement.text.strip()
    if caps.markup == HTML:
        head = t("announcement_header_html", lang)
        budget = caps.max_text - visible_length(head, HTML) - 2
        text = f"{head}\n\n{escape(shorten(body, budget))}"
    else:
        head = t("announcement_header", lang)
        text = f"{head}\n\n{shorten(body, caps.max_text - utf16_len(head) - 2)}"
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
