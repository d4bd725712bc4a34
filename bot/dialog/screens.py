"""Screens the dialog shows: the /broadcast wizard, /broadcasts, /caidat, /staff, article lists,
and the citizen's cases (/guiphananh, /phananh, consent, /xoadulieu).

A screen is an answer to someone in the chat, never a pushed message, so it lives with the
dialog; the pipeline (jobs) renders only what it pushes (jobs.render.messages, .cards).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Protocol

from jobs.cases.intake import local_date
from jobs.channel import HTML, Button, Capabilities, OutMessage
from jobs.i18n import t, tn
from jobs.render.callbacks import broadcast_data, settings_data, wizard_data
from jobs.render.markup import (
    escape,
    format_date,
    plain,
    shorten,
    split_message,
    strip_tags,
    visible_length,
)
from jobs.render.messages import render_announcement, render_digest
from storage.kinds import AnnouncementStatus, Author, DeliveryStatus, DigestMode, TicketState
from storage.records import (
    Announcement,
    Article,
    BroadcastSummary,
    Case,
    FeedbackMessage,
    StaffMember,
)


def render_broadcast_preview(
    announcement: Announcement, recipients: int, lang: str, caps: Capabilities
) -> OutMessage:
    """The preview shows the announcement exactly as recipients get it, then confirm/cancel."""
    body = render_announcement(announcement, lang, caps).text
    if caps.markup == HTML:
        text = t("broadcast_preview_html", lang, count=recipients, body=body)
    else:
        text = strip_tags(t("broadcast_preview_html", lang, count=recipients, body=""))
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
        if ann.status == AnnouncementStatus.QUEUED and ann.finished_at is not None:
            status = t("broadcast_status_finished", lang)
        lines.append(
            t(
                "broadcasts_line",
                lang,
                id=ann.id,
                status=status,
                when=format_date(ann.scheduled_at or ann.queued_at or ann.created_at) or "—",
                sent=item.count(DeliveryStatus.SENT),
                pending=item.count(DeliveryStatus.PENDING) + item.count(DeliveryStatus.SENDING),
                failed=item.count(DeliveryStatus.DEAD),
                blocked=item.count(DeliveryStatus.BLOCKED),
                cancelled=item.count(DeliveryStatus.CANCELLED),
                text=shorten(" ".join(ann.text.split()), 60),
            )
        )
        running = ann.status == AnnouncementStatus.QUEUED and ann.finished_at is None
        if ann.status == AnnouncementStatus.SCHEDULED or running:
            label = t("broadcasts_cancel_button", lang, id=ann.id)
            buttons.append((Button(label, wizard_data("x", ann.id)),))
    message = plain("\n".join(lines), caps)
    return replace(message, buttons=tuple(buttons) if caps.buttons else ())


_STATUSES = frozenset(AnnouncementStatus)


def render_staff_list(members: list[StaffMember], lang: str, caps: Capabilities) -> OutMessage:
    lines = [t("staff_list_title", lang)]
    for m in members:
        lines.append(t("staff_list_line", lang, platform=m.platform, user=m.user_id, role=m.role))
    lines.append(t("staff_usage", lang))
    return plain("\n".join(lines), caps)


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
        if (prefs.mode == DigestMode.DIGEST)
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
                t(
                    "btn_mode_instant" if prefs.mode == DigestMode.DIGEST else "btn_mode_digest",
                    lang,
                ),
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


# -- citizens' cases (#15): the guided intake, /phananh, consent, erasure ---------------------


def typed(key: str, caps: Capabilities) -> str:
    """The catalog key for this platform: where buttons are drawn as numbered menus (Zalo),
    the "_typed" variant, which says what to type instead of what to press."""
    return f"{key}_typed" if caps.menus else key


def with_buttons(
    message: OutMessage, rows: tuple[tuple[Button, ...], ...], caps: Capabilities
) -> OutMessage:
    return replace(message, buttons=rows) if caps.buttons else message


def render_category_choice(
    categories: list[tuple[int, str]], lang: str, caps: Capabilities
) -> OutMessage:
    """Step 1 of /guiphananh: one button a category, «Không rõ» (data 0), «Hủy»."""
    rows = [(Button(shorten(name, 60), f"ci:cat:{ident}"),) for ident, name in categories]
    rows.append((Button(t("cz_unknown_category", lang), "ci:cat:0"),))
    rows.append((Button(t("cz_btn_cancel", lang), "ci:x"),))
    return with_buttons(plain(t(typed("cz_choose_category", caps), lang), caps), tuple(rows), caps)


def intake_buttons(lang: str) -> tuple[tuple[Button, ...], ...]:
    return ((Button(t("cz_btn_send", lang), "ci:send"), Button(t("cz_btn_cancel", lang), "ci:x")),)


def render_intake_prompt(
    category: str, max_photos: int, lang: str, caps: Capabilities
) -> OutMessage:
    text = t(typed("cz_write", caps), lang, category=category, photos=max_photos)
    return with_buttons(plain(text, caps), intake_buttons(lang), caps)


def render_intake_status(
    chars: int, photos: int, max_photos: int, has_place: bool, lang: str, caps: Capabilities
) -> OutMessage:
    place = t("cz_status_place", lang) if has_place else ""
    text = t(
        typed("cz_status", caps), lang, chars=chars, photos=photos, max=max_photos, place=place
    )
    return with_buttons(plain(text, caps), intake_buttons(lang), caps)


def render_consent_question(what: str, lang: str, caps: Capabilities) -> OutMessage:
    rows = (
        (
            Button(t("cz_btn_agree", lang), "ci:ok"),
            Button(t("cz_btn_disagree", lang), "ci:no"),
        ),
    )
    return with_buttons(plain(t("cz_consent_ask", lang, what=what), caps), rows, caps)


def render_offer(lang: str, caps: Capabilities, open_case: Case | None = None) -> OutMessage:
    """Words nothing else took: a new case, or (when the citizen has one still open) added
    to that case — on Zalo, where a message cannot be a reply, the way to write more."""
    rows: list[tuple[Button, ...]] = [(Button(t("cz_btn_offer_yes", lang), "ci:new"),)]
    key = "cz_offer"
    if open_case is not None:
        label = t("cz_btn_offer_add", lang, code=open_case.shown_code)
        rows.append((Button(label, f"ci:add:{open_case.id}"),))
        key = "cz_offer_or_add"
    rows.append((Button(t("cz_btn_offer_no", lang), "ci:x"),))
    text = t(key, lang, code=open_case.shown_code if open_case else "")
    return with_buttons(plain(text, caps), tuple(rows), caps)


def render_erase_question(lang: str, caps: Capabilities) -> OutMessage:
    rows = ((Button(t("cz_btn_erase", lang), "xd:ok"), Button(t("cz_btn_keep", lang), "xd:no")),)
    return with_buttons(plain(t("cz_erase_ask", lang), caps), rows, caps)


def case_state(state: str, lang: str) -> str:
    return t(f"case_state_{state}", lang) if state in _CASE_STATES else state


_CASE_STATES = frozenset(TicketState)


def render_case_list(cases: list[Case], lang: str, caps: Capabilities) -> OutMessage:
    """/phananh: the citizen's cases, newest first, with code, date and state."""
    if not cases:
        return plain(t("cz_list_none", lang), caps)
    lines = [t("cz_list_title", lang)]
    for case in cases:
        lines.append(
            t(
                "cz_list_line",
                lang,
                code=case.shown_code,
                date=local_date(case.created_at),
                state=case_state(case.status, lang),
                text=shorten(" ".join(case.text.split()), 60) or "—",
            )
        )
    lines.append(t("cz_list_hint", lang, code=cases[0].shown_code))
    return plain("\n".join(lines), caps)


def render_case_thread(
    case: Case,
    messages: list[FeedbackMessage],
    *,
    category: str,
    photos: int,
    followed: Case | None,
    lang: str,
    caps: Capabilities,
) -> OutMessage:
    """/phananh <code>: one case as its citizen sees it — their words and the office's
    answers; internal notes are never passed in (storage/cases.py thread(notes=False))."""
    lines = [
        t(
            "cz_thread_head",
            lang,
            code=case.shown_code,
            state=case_state(case.status, lang),
            date=format_date(case.created_at) or "—",
            category=category,
            due=local_date(case.due_at),
        )
    ]
    if photos or case.has_place:
        place = t("cz_status_place", lang) if case.has_place else ""
        lines.append(t("cz_thread_extras", lang, photos=photos, place=place))
    if case.state_reason and case.status == TicketState.NOT_RESPONSIBLE:
        lines.append(t("cz_thread_reason", lang, reason=case.state_reason))
    if followed is not None and followed.id != case.id:
        lines.append(
            t(
                "cz_thread_merged",
                lang,
                code=followed.shown_code,
                state=case_state(followed.status, lang),
            )
        )
    lines.append("")
    lines.append(
        t("cz_thread_first", lang, date=format_date(case.created_at) or "—", text=case.text)
    )
    for message in messages:
        key = "cz_thread_staff" if message.author == Author.STAFF else "cz_thread_you"
        when = format_date(message.created_at) or "—"
        lines.append(t(key, lang, date=when, text=shorten(message.text, 1000)))
    text = "\n".join(lines)
    return split_message(plain(text, replace(caps, max_text=10**6)), caps.max_text)[0]
