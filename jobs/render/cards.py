"""What staff see in their chat: feedback tickets, the inbox, broadcast progress."""

from __future__ import annotations

from dataclasses import replace
from typing import Protocol

from jobs.channel import HTML, Button, Capabilities, OutMessage
from jobs.i18n import t
from jobs.render.callbacks import inbox_data
from jobs.render.markup import escape, format_date, plain, shorten
from storage.records import Announcement, Article, Feedback, FeedbackMessage, Subscriber


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
