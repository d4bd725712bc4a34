"""What staff see in their chat: case cards, the inbox, broadcast progress."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

from jobs.channel import HTML, Button, Capabilities, OutMessage
from jobs.i18n import t
from jobs.render.callbacks import case_data, inbox_data
from jobs.render.markup import escape, format_date, plain, shorten
from storage.kinds import OPEN_STATES, TicketState
from storage.records import (
    Announcement,
    Article,
    CannedAnswer,
    Feedback,
    FeedbackMessage,
    Subscriber,
    case_code,
)
from storage.store import Store


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


# Platforms whose staff chats have no buttons worth the name (Zalo): a card there lists the
# typed commands ("PA00042 nhan") instead of a numbered menu, which would answer only the
# latest card of a busy group (bot/dialog/flows/case_staff.py reads the commands).
TYPED_PLATFORMS = frozenset({"zalo", "zalo_oa"})
OSM = "https://www.openstreetmap.org/?mlat={lat:.6f}&mlon={lon:.6f}#map=17/{lat:.6f}/{lon:.6f}"


@dataclass(frozen=True)
class CardFacts:
    """What a case card says beyond the case row: names of its unit and category, how many
    photos it has, how many notices to the citizen are held, the time now (for «quá hạn»),
    and whether the chat's platform types commands instead of pressing buttons."""

    unit: str | None = None
    category: str | None = None
    photos: int = 0
    held: int = 0
    now: datetime | None = None
    typed: bool = False


def map_link(lat: float, lon: float) -> str:
    """A link to the place on openstreetmap.org: staff open it; bantin fetches no tiles."""
    return OSM.format(lat=lat, lon=lon)


def due_text(case: Feedback, lang: str, now: datetime | None) -> str | None:
    """«Hạn: 10/12/2026 17:00» in Vietnam time, «— quá hạn» once passed on an open case."""
    if case.due_at is None:
        return None
    when = format_date(case.due_at) or ""
    overdue = now is not None and case.status in OPEN_STATES and case.due_at < now
    return t("cs_card_overdue" if overdue else "cs_card_due", lang, due=when)


def _details(case: Feedback, facts: CardFacts, lang: str, html_: bool) -> list[str]:
    """The case's lines under the citizen's words, each already in the card's markup."""
    safe = escape if html_ else str
    lines: list[str] = []
    if facts.category:
        lines.append(safe(t("cs_card_category", lang, category=facts.category)))
    if facts.unit:
        lines.append(safe(t("cs_card_unit", lang, unit=facts.unit)))
    if case.assignee:
        lines.append(safe(t("cs_card_assignee", lang, who=case.assignee)))
    if case.priority and case.priority != "normal":
        label = t(f"cs_priority_{case.priority}", lang) if case.priority in _PRIORITIES else ""
        lines.append(safe(t("cs_card_priority", lang, priority=label or case.priority)))
    due = due_text(case, lang, facts.now)
    if due:
        lines.append(safe(due))
    if case.has_place:
        assert case.place_lat is not None and case.place_lon is not None
        url = map_link(case.place_lat, case.place_lon)
        label = case.place_label or f"{case.place_lat:.5f}, {case.place_lon:.5f}"
        if html_:
            place = f'<a href="{escape(url)}">{escape(shorten(label, 120))}</a>'
            lines.append(escape(t("cs_card_place", lang, place="\x00")).replace("\x00", place))
        else:
            lines.append(t("cs_card_place", lang, place=f"{shorten(label, 120)} — {url}"))
    if facts.photos:
        lines.append(safe(t("cs_card_photos", lang, n=facts.photos)))
    if case.merged_into is not None:
        lines.append(safe(t("cs_card_merged", lang, code=case_code(case.merged_into))))
    elif case.state_reason and case.status in (TicketState.NOT_RESPONSIBLE, TicketState.NEW):
        lines.append(safe(t("cs_card_reason", lang, reason=shorten(case.state_reason, 300))))
    if facts.held:
        lines.append(safe(t("cs_card_held", lang, n=facts.held)))
    return lines


_PRIORITIES = frozenset({"low", "normal", "high", "urgent"})


def case_buttons(case: Feedback, lang: str, *, banned: bool) -> tuple[tuple[Button, ...], ...]:
    """The card's buttons. The first row keeps the data of cards sent before cases existed
    (ib:r, ib:c, ib:b/ib:u), so old and new cards answer alike; the case actions follow."""
    first = (
        Button(t("ticket_answer_button", lang), inbox_data("r", case.id)),
        Button(t("ticket_close_button", lang), inbox_data("c", case.id)),
        Button(
            t("ticket_unban_button" if banned else "ticket_ban_button", lang),
            inbox_data("u" if banned else "b", case.id),
        ),
    )
    return (
        first,
        (
            Button(t("cs_take_button", lang), case_data("t", case.id)),
            Button(t("cs_note_button", lang), case_data("n", case.id)),
        ),
        (
            Button(t("cs_transfer_button", lang), case_data("x", case.id)),
            Button(t("cs_merge_button", lang), case_data("m", case.id)),
        ),
        (Button(t("cs_not_responsible_button", lang), case_data("k", case.id)),),
    )


def render_ticket_card(
    feedback: Feedback,
    subscriber: Subscriber | None,
    article: Article | None,
    lang: str,
    caps: Capabilities,
    *,
    banned: bool = False,
    reply: FeedbackMessage | None = None,
    facts: CardFacts | None = None,
) -> OutMessage:
    """A case card for a staff chat; `reply` makes it the card of a citizen's later message
    in the same case.

    With `facts` (the forwarder and the staff flows) it is the whole case card: code, category,
    unit, state, assignee, priority, due time, place link, photo count, held notices, and
    every action (buttons, or on a typed platform the commands to type). Without, it is the
    card as it was before cases (Trả lời, Đã xử lý, Chặn/Bỏ chặn): what old callers expect."""
    html_ = caps.markup == HTML
    safe = escape if html_ else str
    name = (subscriber.display_name if subscriber else None) or t("anonymous", lang)
    code = feedback.shown_code
    if reply is None:
        if subscriber:
            name = f"{name} ({subscriber.platform}:{subscriber.chat_id})"
        body = shorten(feedback.text, caps.max_text - 900)
        if article is None:
            art = safe(t("no_article", lang))
        elif html_ and article.link:
            art = f'<a href="{escape(article.link)}">{escape(shorten(article.title, 200))}</a>'
        else:
            art = safe(shorten(article.title, 200))
            if article.link:
                art += f" — {article.link}"
        key = "cs_card_html" if html_ else "cs_card"
        text = t(key, lang, code=code, ticket=feedback.id, name=safe(name), article=art, text="")
        text = text + safe(body)
        photo = feedback.photo_file_id
    else:
        body = shorten(reply.text, caps.max_text - 900)
        key = "cs_reply_card_html" if html_ else "cs_reply_card"
        text = t(key, lang, code=code, ticket=feedback.id, name=safe(name), text="") + safe(body)
        photo = reply.photo_file_id
    lines: list[str] = []
    if facts is not None:
        lines += _details(feedback, facts, lang, html_)
    lines.append(safe(t(f"ticket_status_{feedback.status}", lang)))
    if banned:
        lines.append(safe(t("ticket_banned", lang)))
    if feedback.delivery_error:  # the latest answer never reached the citizen
        lines.append(safe(t("owed_ticket_undelivered", lang, error=feedback.delivery_error)))
    if facts is not None and facts.typed:
        lines.append("")
        lines.append(safe(t("cs_card_commands", lang, code=code)))
    text = f"{text}\n\n" + "\n".join(lines)
    if facts is None:
        buttons: tuple[tuple[Button, ...], ...] = case_buttons(feedback, lang, banned=banned)[:1]
    elif facts.typed:
        buttons = ()
    else:
        buttons = case_buttons(feedback, lang, banned=banned)
    # The photo is a file id of the citizen's platform: a channel of another one shows a note.
    origin = subscriber.platform if subscriber else "unknown"
    return OutMessage(
        text=text,
        markup=caps.markup,
        buttons=buttons if caps.buttons else (),
        photo_url=photo,
        photo_platform=origin if photo else None,
    )


def render_inbox(
    tickets: list[tuple[Feedback, Subscriber | None]],
    total: int,
    lang: str,
    caps: Capabilities,
    *,
    now: datetime | None = None,
) -> OutMessage:
    """/inbox: open cases, soonest due first (overdue on top), one line each with its code and
    due time; staff answer or close by the list's buttons (or, on Zalo, its numbers)."""
    if not tickets:
        return plain(t("inbox_empty", lang), caps)
    lines = [t("inbox_title", lang, count=total)]
    buttons: list[tuple[Button, ...]] = []
    for item, sub in tickets:
        name = (sub.display_name if sub else None) or t("anonymous", lang)
        lines.append(
            t(
                "cs_inbox_line",
                lang,
                code=item.shown_code,
                ticket=item.id,
                state=t(f"case_state_{item.status}", lang),
                name=shorten(name, 40),
                when=format_date(item.created_at) or "—",
                text=shorten(" ".join(item.text.split()), 80),
            )
        )
        due = due_text(item, lang, now)
        if due:
            lines.append(f"   {due}")
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


def render_answer_prompt(
    case: Feedback, canned: list[tuple[CannedAnswer, str]], lang: str, caps: Capabilities
) -> OutMessage:
    """After «Trả lời»: type the answer, or pick one of the unit's canned answers (filled in
    for this case), each shown in full so staff read what the citizen would get."""
    lines = [t("answer_prompt", lang, ticket=case.id)]
    buttons: list[tuple[Button, ...]] = []
    if canned:
        lines += ["", t("cs_canned_title", lang, code=case.shown_code)]
        for number, (answer, filled) in enumerate(canned, 1):
            lines.append(f"{number}. {answer.title}: {shorten(filled, 200)}")
            label = t("cs_canned_button", lang, n=number, title=shorten(answer.title, 30))
            buttons.append((Button(label, case_data("a", case.id, answer.id)),))
        lines.append(t("cs_canned_typed", lang, code=case.shown_code))
    message = plain("\n".join(lines), caps)
    return replace(message, buttons=tuple(buttons) if caps.buttons else ())


async def case_card(
    store: Store,
    case: Feedback,
    lang: str,
    caps: Capabilities,
    *,
    platform: str,
    now: datetime | None,
    reply: FeedbackMessage | None = None,
) -> OutMessage:
    """The whole card of a case as it reads now, everything read from storage: what the
    forwarder posts and what a staff action re-renders in place."""
    sub = await store.subscribers.get_by_id(case.subscriber_id)
    article = None
    if reply is None and case.article_id:
        article = await store.articles.get(case.article_id)
    banned = await store.feedback.is_banned(case.subscriber_id)
    unit = await store.units.get(case.unit_id) if case.unit_id else None
    category = await store.units.category(case.category_id) if case.category_id else None
    photos = [
        p
        for p in await store.photos.of_case(case.id)
        if p.message_id == (reply.id if reply else None)
    ]
    own_photo = reply.photo_file_id if reply else case.photo_file_id
    facts = CardFacts(
        unit=unit.name if unit else None,
        category=category.name if category else None,
        photos=len(photos) or (1 if own_photo else 0),
        held=await store.cases.held_notices(case.subscriber_id),
        now=now,
        typed=platform in TYPED_PLATFORMS,
    )
    return render_ticket_card(
        case, sub, article, lang, caps, banned=banned, reply=reply, facts=facts
    )


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
