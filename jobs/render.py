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

from jobs.channel import HTML, Button, Capabilities, OutMessage
from jobs.i18n import t, tn
from jobs.staff_markup import staff_html, staff_plain
from storage.records import (
    Announcement,
    AnswerContext,
    Article,
    BroadcastSummary,
    Feedback,
    FeedbackMessage,
    StaffMember,
    Subscriber,
)

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
    """What render needs of jobs.staff.progress.Progress (read-only, so frozen dataclasses fit)."""

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


# -- issue 6: staff tools -------------------------------------------------------------------------
#
# Staff formatting. Staff type plain text with three marks, the ones chat apps already teach:
# *đậm* (bold), _nghiêng_ (italic) and [chữ](https://địa-chỉ) (a link). jobs.staff_markup parses
# them into a tree and renders well-nested, escaped HTML (or plain text for Zalo) from it, so no
# staff text can inject markup or break Telegram's parser; a mark never spans a line, so
# split_message never cuts inside a tag. staff_html and staff_plain keep their names here.


def render_staff_announcement(
    announcement: Announcement, lang: str, caps: Capabilities
) -> OutMessage:
    """An announcement as recipients get it, staff formatting and photo included; a plain
    announcement (the one-line /broadcast, the CLI) renders exactly as render_announcement."""
    base = render_announcement(announcement, lang, caps)
    if announcement.text_format == "staff":
        body = announcement.text.strip()
        if caps.markup == HTML:
            text = f"{t('announcement_header_html', lang)}\n\n{staff_html(body)}"
        else:
            text = f"{t('announcement_header', lang)}\n\n{staff_plain(body)}"
        base = replace(base, text=text)
    if announcement.photo_file_id:  # a file id of the platform the draft was written on
        origin = announcement.origin_platform or "unknown"
        base = replace(base, photo_url=announcement.photo_file_id, photo_platform=origin)
    return base


def wizard_data(action: str, announcement_id: int, arg: str = "") -> str:
    """Callback data of the guided /broadcast: "bw:action:id[:arg]", well under 64 bytes."""
    return f"bw:{action}:{announcement_id}" + (f":{arg}" if arg else "")


def inbox_data(action: str, ticket: int) -> str:
    return f"ib:{action}:{ticket}"


def render_audience_choice(
    announcement_id: int,
    topics: list[tuple[int, str]],
    feeds: list[tuple[int, str]],
    lang: str,
    caps: Capabilities,
) -> OutMessage:
    """Step 3 of /broadcast: everyone, one topic or one source (at most 20 of each)."""
    rows: list[tuple[Button, ...]] = [
        (Button(t("wizard_everyone", lang), wizard_data("aud", announcement_id, "all")),)
    ]
    for ident, name in topics[:20]:
        label = t("wizard_topic", lang, name=shorten(name, 40))
        rows.append((Button(label, wizard_data("aud", announcement_id, f"t{ident}")),))
    for ident, name in feeds[:20]:
        label = t("wizard_source", lang, name=shorten(name, 40))
        rows.append((Button(label, wizard_data("aud", announcement_id, f"f{ident}")),))
    message = plain(t("wizard_audience", lang), caps)
    return replace(message, buttons=tuple(rows))


def render_time_choice(announcement_id: int, lang: str, caps: Capabilities) -> OutMessage:
    """Step 4: now (a button) or a time typed as HH:MM or DD/MM HH:MM, Vietnam time."""
    message = plain(t("wizard_time", lang), caps)
    now = (Button(t("wizard_now", lang), wizard_data("now", announcement_id)),)
    return replace(message, buttons=(now,))


def render_urgent_choice(announcement_id: int, lang: str, caps: Capabilities) -> OutMessage:
    message = plain(t("wizard_urgent", lang), caps)
    row = (
        Button(t("wizard_urgent_yes", lang), wizard_data("urg", announcement_id, "1")),
        Button(t("wizard_urgent_no", lang), wizard_data("urg", announcement_id, "0")),
    )
    return replace(message, buttons=(row,))


def render_photo_choice(announcement_id: int, lang: str, caps: Capabilities) -> OutMessage:
    message = plain(t("wizard_photo", lang), caps)
    skip = (Button(t("wizard_skip_photo", lang), wizard_data("skip", announcement_id)),)
    return replace(message, buttons=(skip,))


def render_wizard_summary(
    announcement: Announcement,
    *,
    audience_label: str,
    recipients: int,
    urgent: bool,
    lang: str,
    caps: Capabilities,
) -> OutMessage:
    """The last step, under the exact preview: who, when, urgency; then Gửi / Hủy."""
    when = format_date(announcement.scheduled_at) or t("wizard_when_now", lang)
    text = t(
        "wizard_summary",
        lang,
        id=announcement.id,
        audience=audience_label,
        count=recipients,
        when=when,
        urgent=t("wizard_urgent_yes" if urgent else "wizard_urgent_no", lang),
    )
    row = (
        Button(t("broadcast_confirm", lang), wizard_data("ok", announcement.id)),
        Button(t("broadcast_cancel", lang), wizard_data("no", announcement.id)),
    )
    return replace(plain(text, caps), buttons=(row,))


def render_broadcast_list(
    summaries: list[BroadcastSummary], lang: str, caps: Capabilities
) -> OutMessage:
    """/broadcasts: recent ones with counts; a cancel button under each one still cancellable."""
    if not summaries:
        return plain(t("broadcasts_none", lang), caps)
    lines = [t("broadcasts_title", lang)]
    buttons: list[tuple[Button, ...]] = []
    for item in summaries:
        ann = item.announcement
        status = (
            t(f"broadcast_status_{ann.status}", lang) if ann.status in _STATUSES else ann.status
        )
        if ann.status == "queued" and ann.finished_at is not None:
            status = t("broadcast_status_finished", lang)
        lines.append(
            t(
                "broadcasts_line",
                lang,
                id=ann.id,
                status=status,
                when=format_date(ann.scheduled_at or ann.queued_at or ann.created_at) or "—",
                sent=item.count("sent"),
                pending=item.count("pending") + item.count("sending"),
                failed=item.count("dead"),
                blocked=item.count("blocked"),
                cancelled=item.count("cancelled"),
                text=shorten(" ".join(ann.text.split()), 60),
            )
        )
        if ann.status == "scheduled" or (ann.status == "queued" and ann.finished_at is None):
            label = t("broadcasts_cancel_button", lang, id=ann.id)
            buttons.append((Button(label, wizard_data("x", ann.id)),))
    message = plain("\n".join(lines), caps)
    return replace(message, buttons=tuple(buttons) if caps.buttons else ())


_STATUSES = ("draft", "scheduled", "queued", "cancelled")


def render_ticket_card(
    feedback: Feedback,
    subscriber: Subscriber | None,
    article: Article | None,
    lang: str,
    caps: Capabilities,
    *,
    banned: bool = False,
    reply: FeedbackMessage | None = None,
) -> OutMessage:
    """A feedback card for the staff chat with its buttons (Trả lời, Đã xử lý, Chặn/Bỏ chặn)
    and status; `reply` makes it the card of a citizen's later reply in the same ticket."""
    if reply is None:
        card = render_feedback_card(feedback, subscriber, article, lang, caps)
        photo = feedback.photo_file_id
    else:
        name = (subscriber.display_name if subscriber else None) or t("anonymous", lang)
        body = shorten(reply.text, caps.max_text - 600)
        key = "ticket_reply_card_html" if caps.markup == HTML else "ticket_reply_card"
        safe = escape if caps.markup == HTML else str
        card = OutMessage(
            text=t(key, lang, ticket=feedback.id, name=safe(name), text=safe(body)),
            markup=caps.markup,
        )
        photo = reply.photo_file_id
    status = plain(t(f"ticket_status_{feedback.status}", lang), caps).text
    text = f"{card.text}\n\n{status}"
    if banned:
        text += "\n" + plain(t("ticket_banned", lang), caps).text
    if feedback.delivery_error:  # the latest answer never reached the citizen
        undelivered = t("owed_ticket_undelivered", lang, error=feedback.delivery_error)
        text += "\n" + plain(undelivered, caps).text
    row = (
        Button(t("ticket_answer_button", lang), inbox_data("r", feedback.id)),
        Button(t("ticket_close_button", lang), inbox_data("c", feedback.id)),
        Button(
            t("ticket_unban_button" if banned else "ticket_ban_button", lang),
            inbox_data("u" if banned else "b", feedback.id),
        ),
    )
    # The photo is a file id of the citizen's platform: a channel of another one shows a note.
    origin = subscriber.platform if subscriber else "unknown"
    return replace(
        card,
        text=text,
        buttons=(row,) if caps.buttons else (),
        photo_url=photo,
        photo_platform=origin if photo else None,
    )


def render_answer(context: AnswerContext, lang: str, caps: Capabilities) -> OutMessage:
    """A staff answer as the citizen gets it: the ticket, their words quoted, the answer."""
    quoted = shorten(" ".join(context.quoted.split()), 500)
    answer = context.answer.text.strip()
    if caps.markup == HTML:
        text = t(
            "answer_html",
            lang,
            ticket=context.ticket.id,
            quoted=escape(quoted),
            answer=escape(answer),
        )
    else:
        text = t("answer", lang, ticket=context.ticket.id, quoted=quoted, answer=answer)
    return OutMessage(text=text, markup=caps.markup)


def render_inbox(
    tickets: list[tuple[Feedback, Subscriber | None]], total: int, lang: str, caps: Capabilities
) -> OutMessage:
    """/inbox: open tickets, oldest first, one line each; staff answer by /inbox's buttons."""
    if not tickets:
        return plain(t("inbox_empty", lang), caps)
    lines = [t("inbox_title", lang, count=total)]
    buttons: list[tuple[Button, ...]] = []
    for item, sub in tickets:
        name = (sub.display_name if sub else None) or t("anonymous", lang)
        lines.append(
            t(
                "inbox_line",
                lang,
                ticket=item.id,
                name=shorten(name, 40),
                when=format_date(item.created_at) or "—",
                text=shorten(" ".join(item.text.split()), 80),
            )
        )
        if item.forward_error:  # its card never reached the staff chat: here is where to see it
            lines.append(t("owed_inbox_card_dead", lang, error=shorten(item.forward_error, 80)))
        if item.delivery_error:
            lines.append(t("owed_inbox_undelivered", lang, error=shorten(item.delivery_error, 80)))
        buttons.append(
            (
                Button(t("inbox_answer_button", lang, ticket=item.id), inbox_data("r", item.id)),
                Button(t("ticket_close_button", lang), inbox_data("c", item.id)),
            )
        )
    message = plain("\n".join(lines), caps)
    return replace(message, buttons=tuple(buttons) if caps.buttons else ())


def render_staff_list(members: list[StaffMember], lang: str, caps: Capabilities) -> OutMessage:
    lines = [t("staff_list_title", lang)]
    for m in members:
        lines.append(t("staff_list_line", lang, platform=m.platform, user=m.user_id, role=m.role))
    lines.append(t("staff_usage", lang))
    return plain("\n".join(lines), caps)


# -- issue 5: personal delivery, digests, settings screens ------------------------------------


def render_article_for(
    article: Article, lang: str, caps: Capabilities, *, link_preview: bool = False
) -> OutMessage:
    """An article as one subscriber gets it: a photo with its caption (within the caption
    limit) when it has an image, else text; the link preview as they chose.

    The caption is a complete message on its own, so an adapter whose photo send fails can
    send the same text instead.
    """
    if article.image_url and caps.max_caption > 0 and caps.buttons:
        small = replace(caps, max_text=caps.max_caption)
        message = render_article(article, lang, small)
        return replace(message, photo_url=article.image_url)
    return replace(render_article(article, lang, caps), link_preview=link_preview)


DIGEST_ITEM_TITLE = 200


def render_digest(
    articles: list[Article], lang: str, caps: Capabilities, *, link_preview: bool = False
) -> OutMessage:
    """One message listing the items: a header, then one paragraph per article.

    Items are separate paragraphs with no tag across a blank line, so `split_message` (and
    `render_digest_parts`) can cut a long digest between items and every part stays valid.
    """
    head_key = "digest_header_html" if caps.markup == HTML else "digest_header"
    paragraphs = [t(head_key, lang, count=len(articles))]
    for n, article in enumerate(articles, 1):
        title = shorten(article.title.strip() or "—", DIGEST_ITEM_TITLE)
        meta = " · ".join(p for p in (article.feed_name, format_date(article.published_at)) if p)
        if caps.markup == HTML:
            line = f"{n}. <b>{escape(title)}</b>"
            if article.link:
                line = f'{n}. <a href="{escape(article.link)}">{escape(title)}</a>'
            if meta:
                line += f"\n<i>{escape(meta)}</i>"
        else:
            line = f"{n}. {title}" + (f"\n{meta}" if meta else "")
            if article.link:
                line += f"\n{article.link}"
        paragraphs.append(line)
    text = "\n\n".join(paragraphs)
    return OutMessage(text=text, markup=caps.markup, link_preview=link_preview)


def render_digest_parts(
    articles: list[Article], lang: str, caps: Capabilities, *, link_preview: bool = False
) -> list[OutMessage]:
    """A digest split into messages within the platform's limit, in order."""
    return split_message(
        render_digest(articles, lang, caps, link_preview=link_preview), caps.max_text
    )


def render_article_list(
    articles: list[Article], lang: str, caps: Capabilities, *, header_key: str, **params: object
) -> OutMessage:
    """/moinhat and /tim answers: the same numbered list as a digest, under its own header
    (a plural message: its form follows the number of articles)."""
    message = render_digest(articles, lang, caps)
    head = tn(header_key, len(articles), lang, count=len(articles), **params)
    head = escape(head) if caps.markup == HTML else head
    _, _, rest = message.text.partition("\n\n")
    text = f"{head}\n\n{rest}" if rest else head
    return split_message(replace(message, text=text), caps.max_text)[0]


def _mark(on: bool) -> str:
    return "✅ " if on else "▫️ "


def settings_data(action: str, ident: int | str | None = None) -> str:
    """Callback data of a settings button: "st:<action>[:<id>]", always far below 64 bytes."""
    return f"st:{action}" if ident is None else f"st:{action}:{ident}"


class SettingsView(Protocol):
    """What the settings screens show of a subscriber's preferences (records.Preferences)."""

    @property
    def all_news(self) -> bool: ...
    @property
    def mode(self) -> str: ...
    @property
    def link_preview(self) -> bool: ...
    @property
    def digest_times(self) -> tuple[str, ...]: ...
    @property
    def topics(self) -> frozenset[int]: ...
    @property
    def feeds(self) -> frozenset[int]: ...
    @property
    def include(self) -> tuple[str, ...]: ...
    @property
    def exclude(self) -> tuple[str, ...]: ...


def render_settings(
    prefs: SettingsView, quiet: str | None, lang: str, caps: Capabilities, *, intro: str = ""
) -> OutMessage:
    """The /caidat screen: every choice, and a button to change each.

    `quiet` is the quiet window in effect ("22:00-06:00") or None when off.
    """
    scope = (
        t("settings_scope_all", lang)
        if prefs.all_news
        else t("settings_scope_mix", lang, topics=len(prefs.topics), feeds=len(prefs.feeds))
    )
    mode = (
        t("mode_digest", lang, times=", ".join(prefs.digest_times))
        if (prefs.mode == "digest")
        else t("mode_instant", lang)
    )
    words = ", ".join([*prefs.include, *(f"−{w}" for w in prefs.exclude)]) or t("none", lang)
    body = t(
        "settings_summary",
        lang,
        scope=scope,
        mode=mode,
        quiet=quiet.replace("-", "–") if quiet else t("off", lang),
        preview=t("on", lang) if prefs.link_preview else t("off", lang),
        keywords=words,
        language=t("language_name", lang),
    )
    text = f"{intro}\n\n{body}" if intro else body
    buttons: tuple[tuple[Button, ...], ...] = (
        (
            Button(t("btn_topics", lang), settings_data("topics")),
            Button(t("btn_feeds", lang), settings_data("feeds")),
        ),
        (
            Button(
                t("btn_mode_digest" if prefs.mode != "digest" else "btn_mode_instant", lang),
                settings_data("mode"),
            ),
            Button(t("btn_times", lang), settings_data("times")),
        ),
        (
            Button(t("btn_quiet", lang), settings_data("quiet")),
            Button(
                t("btn_preview_off" if prefs.link_preview else "btn_preview_on", lang),
                settings_data("preview"),
            ),
        ),
        (
            Button(t("btn_keywords", lang), settings_data("kw")),
            Button(t("btn_language", lang), settings_data("lang")),
        ),
        (Button(t("btn_done", lang), settings_data("done")),),
    )
    out = plain(text, caps)
    return replace(out, buttons=buttons if caps.buttons else ())


def render_choices(
    kind: str,
    options: list[tuple[int, str]],
    chosen: frozenset[int],
    all_news: bool,
    lang: str,
    caps: Capabilities,
) -> OutMessage:
    """Topics (kind "t") or sources ("f") as toggle buttons, with "all news" and "back"."""
    key = "choose_topics" if kind == "t" else "choose_feeds"
    text = t(key, lang) if options else t(f"{key}_none", lang)
    rows: list[tuple[Button, ...]] = [
        (Button(_mark(all_news) + t("btn_all_news", lang), settings_data("all")),)
    ]
    for ident, label in options[:40]:
        rows.append(
            (Button(_mark(ident in chosen) + shorten(label, 60), settings_data(kind, ident)),)
        )
    rows.append((Button(t("btn_back", lang), settings_data("home")),))
    out = plain(text, caps)
    return replace(out, buttons=tuple(rows) if caps.buttons else ())
