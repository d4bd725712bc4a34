"""The platform-neutral conversation: commands, feedback capture, staff broadcast.

Adapters turn platform updates into `bot.events` and carry out the returned `Outcome`, so
Telegram, Zalo and the console share every flow. State that must survive a restart (waiting
for feedback text) lives in storage, and every staff action checks the role in storage at the
moment it runs, whatever a button's callback data claims.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from bot.channel import Capabilities, OutMessage
from bot.events import Command, Event, Press, Text, Who
from bot.i18n import t
from bot.render import announcement_limit, plain, render_broadcast_preview
from jobs.fanout import queue_announcement
from storage.announcements import CANCELLED, DRAFT, QUEUED
from storage.records import Subscriber
from storage.staff import ADMIN, EDITOR
from storage.store import Store

log = logging.getLogger(__name__)

FEEDBACK_MAX_CHARS = 4000
WAITING_FEEDBACK = "feedback"
STAFF_ROLES = (ADMIN, EDITOR)


@dataclass
class Outcome:
    """What the adapter must do for one event."""

    replies: list[OutMessage] = field(default_factory=list)
    edit: OutMessage | None = None  # replaces the message whose button was pressed
    toast: str | None = None  # short notice on the pressed button (always answered)
    wake_outbox: bool = False
    wake_feedback: bool = False


class Dialog:
    def __init__(
        self,
        store: Store,
        *,
        capabilities: Callable[[str], Capabilities],
        clock: Callable[[], datetime],
        portal_name: str | None = None,
    ) -> None:
        self._store = store
        self._caps = capabilities
        self._clock = clock
        self._portal = portal_name

    async def handle(self, event: Event) -> Outcome:
        if isinstance(event, Command):
            return await self._command(event)
        if isinstance(event, Press):
            return await self._press(event)
        return await self._text(event)

    # -- helpers -----------------------------------------------------------------------------

    async def _subscriber(self, who: Who) -> Subscriber:
        return await self._store.subscribers.ensure(
            who.platform, who.chat_id, chat_type=who.chat_type, display_name=who.display_name
        )

    def _say(self, who: Who, text: str) -> OutMessage:
        return plain(text, self._caps(who.platform))

    async def _is_staff(self, who: Who) -> bool:
        return await self._store.staff.role_of(who.platform, who.user_id) in STAFF_ROLES

    # -- commands ----------------------------------------------------------------------------

    async def _command(self, cmd: Command) -> Outcome:
        handlers = {
            "start": self._start,
            "stop": self._stop,
            "help": self._help,
            "huy": self._cancel,
            "cancel": self._cancel,
            "broadcast": self._broadcast,
        }
        handler = handlers.get(cmd.name)
        if handler is None:
            sub = await self._subscriber(cmd.who)
            return Outcome(
                [self._say(cmd.who, t("unknown_command", sub.language, command=cmd.name[:40]))]
            )
        return await handler(cmd)

    async def _start(self, cmd: Command) -> Outcome:
        sub, newly = await self._store.subscribers.subscribe(
            cmd.who.platform,
            cmd.who.chat_id,
            chat_type=cmd.who.chat_type,
            display_name=cmd.who.display_name,
        )
        lang = sub.language
        if not newly:
            return Outcome([self._say(cmd.who, t("welcome_back", lang))])
        name = cmd.who.display_name or t("anonymous", lang)
        portal = self._portal or t("portal_default", lang)
        log.info("subscribed", extra={"platform": sub.platform, "subscriber": sub.id})
        return Outcome([self._say(cmd.who, t("welcome_new", lang, name=name, portal=portal))])

    async def _stop(self, cmd: Command) -> Outcome:
        sub = await self._subscriber(cmd.who)
        if not await self._store.subscribers.deactivate(sub.id, "unsubscribed"):
            return Outcome([self._say(cmd.who, t("not_subscribed", sub.language))])
        await self._store.deliveries.cancel_pending_for(sub.id, reason="unsubscribed")
        log.info("unsubscribed", extra={"platform": sub.platform, "subscriber": sub.id})
        return Outcome([self._say(cmd.who, t("stopped", sub.language))])

    async def _help(self, cmd: Command) -> Outcome:
        sub = await self._subscriber(cmd.who)
        text = t("help", sub.language)
        if await self._is_staff(cmd.who):
            text += t("help_staff", sub.language)
        return Outcome([self._say(cmd.who, text)])

    async def _cancel(self, cmd: Command) -> Outcome:
        sub = await self._subscriber(cmd.who)
        if sub.dialog_state is None:
            return Outcome([self._say(cmd.who, t("nothing_to_cancel", sub.language))])
        await self._store.subscribers.set_dialog(sub.id, None, None)
        return Outcome([self._say(cmd.who, t("cancelled", sub.language))])

    async def _broadcast(self, cmd: Command) -> Outcome:
        sub = await self._subscriber(cmd.who)
        lang = sub.language
        if not await self._is_staff(cmd.who):
            log.warning("refused staff command", extra={"user": cmd.who.user_id})
            return Outcome([self._say(cmd.who, t("staff_only", lang))])
        text = cmd.args.strip()
        if not text:
            return Outcome([self._say(cmd.who, t("broadcast_usage", lang))])
        caps = self._caps(cmd.who.platform)
        limit = announcement_limit(caps)
        if len(text) > limit:
            return Outcome(
                [self._say(cmd.who, t("broadcast_too_long", lang, length=len(text), limit=limit))]
            )
        draft = await self._store.announcements.create(
            text,
            created_by=f"{cmd.who.platform}:{cmd.who.user_id}",
            origin_platform=cmd.who.platform,
            origin_chat_id=cmd.who.chat_id,
        )
        recipients = (await self._store.subscribers.counts())["active"]
        return Outcome([render_broadcast_preview(draft, recipients, lang, caps)])

    # -- button presses ----------------------------------------------------------------------

    async def _press(self, press: Press) -> Outcome:
        kind, _, rest = press.data.partition(":")
        if kind == "fb" and rest.isdigit():
            return await self._feedback_press(press, int(rest))
        if kind == "bc":
            action, _, ident = rest.partition(":")
            if action in ("ok", "no") and ident.isdigit():
                return await self._broadcast_press(press, action, int(ident))
        log.info("unknown button", extra={"data": press.data[:64]})
        return Outcome()

    async def _feedback_press(self, press: Press, article_id: int) -> Outcome:
        sub = await self._subscriber(press.who)
        article = await self._store.articles.get(article_id)
        if article is None:
            return Outcome(toast=t("article_gone", sub.language))
        await self._store.subscribers.set_dialog(sub.id, WAITING_FEEDBACK, str(article_id))
        prompt = t("feedback_prompt", sub.language, title=article.title[:200])
        return Outcome([self._say(press.who, prompt)])

    async def _broadcast_press(self, press: Press, action: str, announcement_id: int) -> Outcome:
        sub = await self._subscriber(press.who)
        lang = sub.language
        if not await self._is_staff(press.who):
            log.warning(
                "refused staff button", extra={"user": press.who.user_id, "data": press.data}
            )
            return Outcome(toast=t("staff_only", lang))
        store, now = self._store, self._clock()
        if action == "no":
            if await store.announcements.transition(
                announcement_id, frm=DRAFT, to=CANCELLED, now=now
            ):
                return Outcome(
                    edit=self._say(press.who, t("broadcast_cancelled", lang, id=announcement_id))
                )
            return Outcome(toast=t("broadcast_already", lang, id=announcement_id))
        if not await store.announcements.transition(announcement_id, frm=DRAFT, to=QUEUED, now=now):
            return Outcome(toast=t("broadcast_already", lang, id=announcement_id))
        count = await queue_announcement(store, announcement_id, now=now)
        if press.message_id:  # the preview becomes the broadcast's progress message
            await store.announcements.set_progress_message(announcement_id, press.message_id)
        log.info("broadcast queued", extra={"announcement": announcement_id, "recipients": count})
        done = t("broadcast_queued", lang, id=announcement_id, count=count)
        return Outcome(edit=self._say(press.who, done), toast=done, wake_outbox=True)

    # -- free text ---------------------------------------------------------------------------

    async def _text(self, msg: Text) -> Outcome:
        sub = await self._subscriber(msg.who)
        article_id: int | None = None
        about = False
        if sub.dialog_state == WAITING_FEEDBACK:
            about = True
            ref = sub.dialog_ref or ""
            article_id = int(ref) if ref.isdigit() else None
        elif msg.reply_to:
            replied = await self._store.deliveries.find_by_message(sub.id, msg.reply_to)
            if replied is not None:
                about = True
                article_id = replied.item_id if replied.kind == "article" else None
        if not about:
            return Outcome([self._say(msg.who, t("plain_text_hint", sub.language))])
        return await self._take_feedback(msg, sub, article_id)

    async def _take_feedback(self, msg: Text, sub: Subscriber, article_id: int | None) -> Outcome:
        text = msg.text.strip()
        if not text:
            return Outcome([self._say(msg.who, t("feedback_empty", sub.language))])
        if len(text) > FEEDBACK_MAX_CHARS:
            return Outcome(
                [
                    self._say(
                        msg.who,
                        t(
                            "feedback_too_long",
                            sub.language,
                            length=len(text),
                            limit=FEEDBACK_MAX_CHARS,
                        ),
                    )
                ]
            )
        if article_id is not None and await self._store.articles.get(article_id) is None:
            article_id = None
        item = await self._store.feedback.add(sub.id, article_id, text)
        await self._store.subscribers.set_dialog(sub.id, None, None)
        log.info("feedback stored", extra={"ticket": item.id, "subscriber": sub.id})
        thanks = t("feedback_thanks", sub.language, ticket=item.id)
        return Outcome([self._say(msg.who, thanks)], wake_feedback=True)
