"""Forward citizens' cases to their unit's staff chat.

A case is stored first and forwarded after, by this job, until a staff chat has it: a restart
or an outage between the two loses nothing. Each card goes to the chat of the case's unit
(units.platform/chat_id, on that platform's channel); a unit without a chat of its own (the
default unit of a deployment that set none up) uses the configured staff chat
(BANTIN_STAFF_CHAT_ID / BANTIN_ZALO_STAFF_CHAT_ID). A card whose unit chat is on a platform
this process has no channel for is set aside as a dead letter with that reason, and the
configured staff chat is told: nothing is silently lost. A transferred or reopened case has
its forwarded_* cleared by storage (storage/cases.py), so its card is posted again here, in
the (new) unit's chat; a citizen's later message goes to the case's current unit chat, under
the case's card when it is there.

Each card carries the case's actions and its first photo (the others follow it, a photo of
another platform re-uploaded from the media store), and remembers which message of which
chat it became, so a staff reply to it is an answer to that case.

No card can stop the others: a card a chat refuses for good (after a plain-text try) becomes a
dead letter, marked on its case with the error and announced in a short notice, and the next
card goes on; a chat that is rate limited or down pauses only its own cards until the next
run. A staff group that Telegram moved to a supergroup is followed: for the configured chat
the new id is stored (the setting is only the first value), for a unit's chat the unit row
is updated. This job also tells staff about answers that could not reach their citizen.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from jobs.channel import (
    PLATFORM_NAMES,
    Channel,
    ChannelError,
    ChatMoved,
    OutMessage,
    RateLimited,
    Rejected,
)
from jobs.i18n import DEFAULT_LANGUAGE, t
from jobs.media.fetcher import PhotoField, photo_for
from jobs.media.store import MediaStore
from jobs.render.cards import TYPED_PLATFORMS, case_card
from jobs.render.markup import plain
from jobs.send.deliverer import as_plain
from storage.records import CasePhoto, Feedback, Unit, case_code
from storage.store import Store

log = logging.getLogger(__name__)

SETTING_OF = {"telegram": "BANTIN_STAFF_CHAT_ID", "zalo": "BANTIN_ZALO_STAFF_CHAT_ID"}


def _moved_key(platform: str, configured: str) -> str:
    # Keyed by the configured id: an operator who sets a new staff chat is not overridden.
    return f"staff_chat_moved:{platform}:{configured}"


async def current_staff_chat(store: Store, platform: str, configured: str) -> str:
    """The staff chat to post to: where the configured one moved (a group upgraded to a
    supergroup), else the configured one."""
    return await store.state.get(_moved_key(platform, configured)) or configured


@dataclass(frozen=True)
class Dead:
    """The staff chat refused this message for good; `error` says why."""

    error: str


class StaffChat:
    """Sends to the staff chat, following a move and falling back to plain text."""

    def __init__(
        self,
        store: Store,
        channel: Channel,
        configured: str,
        chat: str,
        *,
        unit_id: int | None = None,
    ) -> None:
        self.store = store
        self.channel = channel
        self.configured = configured
        self.chat = chat
        self.unit_id = unit_id  # a unit's own chat: a move is stored on the unit
        self.paused = False  # rate limited or down: its other cards wait for the next run

    async def send(self, message: OutMessage, ticket: int) -> str | Dead | None:
        """The message id; Dead when refused for good; None: stop this round (rate limit,
        outage, the bot removed from the chat), tried again on the next run."""
        if self.paused:
            return None
        fallback = False
        for _ in range(4):
            try:
                return await self.channel.send(self.chat, message)
            except ChatMoved as err:
                await self._moved(err.new_chat_id)
            except RateLimited as err:
                log.warning("staff chat rate limited", extra={"retry_after": err.retry_after})
                self.paused = True
                return None
            except Rejected as err:
                if fallback:
                    log.error(
                        "feedback card refused by the staff chat",
                        extra={"ticket": ticket, "error": err.description},
                    )
                    return Dead(err.description)
                # Markup, the photo or a reply target the chat cannot use: the words alone.
                log.warning(
                    "staff card rejected; trying plain text",
                    extra={"ticket": ticket, "error": err.description},
                )
                message = replace(
                    as_plain(message), photo_url=None, photo_platform=None, reply_to=None
                )
                fallback = True
            except ChannelError as err:
                log.error(
                    "feedback forward failed", extra={"ticket": ticket, "error": err.description}
                )
                self.paused = True
                return None
        self.paused = True
        return None

    async def _moved(self, new_chat: str) -> None:
        old, self.chat = self.chat, new_chat
        if self.unit_id is not None:  # a unit's chat: the unit now names the new chat
            await self.store.units.set_chat(self.unit_id, self.channel.platform, new_chat)
        else:
            key = _moved_key(self.channel.platform, self.configured)
            await self.store.state.set(key, new_chat)
        log.warning(
            "staff chat moved; posting to the new chat from now on, update the setting",
            extra={
                "old_chat": old,
                "new_chat": new_chat,
                "setting": SETTING_OF.get(self.channel.platform, "staff chat id"),
            },
        )

    async def notice(self, text: str, ticket: int, reply_to: str | None = None) -> bool:
        """A short plain note to staff; False when it must be tried again later."""
        message = replace(plain(text, self.channel.capabilities), reply_to=reply_to)
        return await self.send(message, ticket) is not None


class Unroutable:
    """A case whose unit chat is on a platform this process has no channel for."""

    def __init__(self, error: str) -> None:
        self.error = error


class Routes:
    """Which staff chat each case's card goes to: its unit's chat (on that platform's
    channel), else the configured staff chat. One StaffChat per chat and run, so a chat that
    is rate limited or down pauses only its own cards."""

    def __init__(
        self,
        store: Store,
        default: tuple[Channel, str] | None,
        channels: Mapping[str, Channel],
    ) -> None:
        self.store = store
        self.default_target = default
        self.channels = dict(channels)
        if default is not None:
            self.channels.setdefault(default[0].platform, default[0])
        self._chats: dict[tuple[str, str], StaffChat] = {}
        self._units: dict[int, Unit | None] = {}

    async def default(self) -> StaffChat | None:
        if self.default_target is None:
            return None
        channel, configured = self.default_target
        key = (channel.platform, configured)
        if key not in self._chats:
            chat = await current_staff_chat(self.store, channel.platform, configured)
            self._chats[key] = StaffChat(self.store, channel, configured, chat)
        return self._chats[key]

    async def unit(self, unit_id: int | None) -> Unit | None:
        if unit_id is None:
            return None
        if unit_id not in self._units:
            self._units[unit_id] = await self.store.units.get(unit_id)
        return self._units[unit_id]

    async def chat_for(self, unit_id: int | None) -> StaffChat | Unroutable | None:
        """The unit's chat; the configured staff chat for a unit without one; Unroutable when
        the unit's platform has no channel here; None when there is nowhere at all."""
        unit = await self.unit(unit_id)
        if unit is None or not unit.chat_id or not unit.platform:
            return await self.default()
        channel = self.channels.get(unit.platform)
        if channel is None:
            return Unroutable(
                t(
                    "cs_unroutable",
                    DEFAULT_LANGUAGE,
                    unit=unit.name,
                    platform=PLATFORM_NAMES.get(unit.platform, unit.platform),
                )
            )
        key = (unit.platform, unit.chat_id)
        if key not in self._chats:
            self._chats[key] = StaffChat(
                self.store, channel, unit.chat_id, unit.chat_id, unit_id=unit.id
            )
        return self._chats[key]


async def forward_feedback(
    store: Store,
    channel: Channel | None,
    staff_chat_id: str | None,
    *,
    clock: Callable[[], datetime],
    channels: Mapping[str, Channel] | None = None,
    media: MediaStore | None = None,
    public_links: bool = False,
) -> int:
    """Send every not-yet-forwarded case card and reply card to its unit's chat (`channels`:
    every platform's channel; a unit without a chat: `channel`/`staff_chat_id`, the
    configured staff chat), then tell staff about undelivered answers; returns how many
    cards were posted. A transferred or reopened case has no card in its (new) unit's chat
    yet (storage clears forwarded_*), so it is posted again here."""
    default = (channel, staff_chat_id) if channel is not None and staff_chat_id else None
    routes = Routes(store, default, channels or {})
    photos = Photos(media, public_links)
    forwarded = 0
    for item in await store.feedback.unforwarded():
        chat = await routes.chat_for(item.unit_id)
        if chat is None:
            continue
        if isinstance(chat, Unroutable):
            await _set_aside(store, routes, item.id, chat.error, clock(), reply=None)
            continue
        if chat.paused:
            continue
        card = await case_card(
            store,
            item,
            DEFAULT_LANGUAGE,
            chat.channel.capabilities,
            platform=chat.channel.platform,
            now=clock(),
        )
        shots = await photos.of(store, item.id, None)
        card, following = await photos.attach(card, shots, chat.channel)
        sent = await chat.send(card, item.id)
        if sent is None:
            continue
        if isinstance(sent, Dead):
            await store.feedback.mark_forward_dead(item.id, error=sent.error, now=clock())
            await _dead_notice(chat, item.id, sent.error)
            continue
        await store.feedback.mark_forwarded(
            item.id, message_id=sent, now=clock(), chat_id=chat.chat
        )
        forwarded += 1
        await photos.rest(chat, item.id, following, len(shots), sent)
    for reply in await store.feedback.unforwarded_replies():
        ticket = await store.feedback.get(reply.feedback_id)
        if ticket is None:
            continue
        chat = await routes.chat_for(ticket.unit_id)
        if chat is None:
            continue
        if isinstance(chat, Unroutable):
            await _set_aside(store, routes, ticket.id, chat.error, clock(), reply=reply.id)
            continue
        if chat.paused:
            continue
        card = await case_card(
            store,
            ticket,
            DEFAULT_LANGUAGE,
            chat.channel.capabilities,
            platform=chat.channel.platform,
            now=clock(),
            reply=reply,
        )
        shots = await photos.of(store, ticket.id, reply.id)
        card, following = await photos.attach(card, shots, chat.channel)
        if ticket.forwarded_chat_id == chat.chat and ticket.forwarded_message_id:
            card = replace(card, reply_to=ticket.forwarded_message_id)  # under the case's card
        sent = await chat.send(card, ticket.id)
        if sent is None:
            continue
        if isinstance(sent, Dead):
            await store.feedback.mark_reply_forward_dead(reply.id, error=sent.error, now=clock())
            await _dead_notice(chat, ticket.id, sent.error)
            continue
        await store.feedback.mark_reply_forwarded(
            reply.id, chat_id=chat.chat, card_message_id=sent, now=clock()
        )
        forwarded += 1
        await photos.rest(chat, ticket.id, following, len(shots), sent)
    await tell_undelivered(store, routes, clock=clock)
    return forwarded


class Photos:
    """A case's photos on its cards: the first on the card itself, the others as messages
    following it; a photo from another platform is re-uploaded from the media store
    (jobs/media/fetcher.photo_for) where the channel can, else the channel says where it is."""

    def __init__(self, media: MediaStore | None, public_links: bool) -> None:
        self.media = media
        self.public_links = public_links

    async def of(self, store: Store, case_id: int, message_id: int | None) -> list[CasePhoto]:
        return [p for p in await store.photos.of_case(case_id) if p.message_id == message_id]

    async def field(self, photo: CasePhoto, platform: str) -> PhotoField:
        if self.media is None:
            return PhotoField(photo.file_ref, photo.platform) if photo.file_ref else PhotoField()
        return await photo_for(platform, photo, self.media, public_links=self.public_links)

    async def attach(
        self, card: OutMessage, photos: list[CasePhoto], channel: Channel
    ) -> tuple[OutMessage, list[CasePhoto]]:
        """The card with its first photo, and the photos left to follow it. A card too long
        to be a photo's caption goes as text, every photo following it."""
        if not photos or len(card.text) > channel.capabilities.max_caption:
            return card, photos
        field = await self.field(photos[0], channel.platform)
        if field == PhotoField():
            return card, photos[1:]
        return field.apply(card), photos[1:]

    async def rest(
        self,
        chat: StaffChat,
        case_id: int,
        photos: list[CasePhoto],
        total: int,
        card_id: str,
    ) -> None:
        """Best effort: the card (with its photo count) is already posted and recorded."""
        for number, photo in enumerate(photos, total - len(photos) + 1):
            field = await self.field(photo, chat.channel.platform)
            if field == PhotoField():
                continue
            text = t(
                "cs_photo_caption", DEFAULT_LANGUAGE, code=case_code(case_id), n=number, total=total
            )
            message = field.apply(plain(text, chat.channel.capabilities))
            sent = await chat.send(replace(message, reply_to=card_id), case_id)
            if not isinstance(sent, str):
                log.warning("case photo not posted", extra={"ticket": case_id, "n": number})
                return


async def _set_aside(
    store: Store,
    routes: Routes,
    case_id: int,
    error: str,
    now: datetime,
    *,
    reply: int | None,
) -> None:
    """A card that cannot be posted where its unit wants it: a dead letter with the reason
    (shown in /inbox and `bantin stats`), and a notice to the configured staff chat."""
    log.error("case card has no route", extra={"ticket": case_id, "error": error})
    if reply is None:
        await store.feedback.mark_forward_dead(case_id, error=error, now=now)
    else:
        await store.feedback.mark_reply_forward_dead(reply, error=error, now=now)
    default = await routes.default()
    if default is not None and not default.paused:
        await _dead_notice(default, case_id, error)


async def _dead_notice(staff: StaffChat, ticket: int, error: str) -> None:
    """Staff learn of a card they will never see; the ticket stays in /inbox."""
    text = t("owed_card_dead_notice", DEFAULT_LANGUAGE, ticket=ticket, error=error[:200])
    if not await staff.notice(text, ticket):
        log.error("dead card notice not sent", extra={"ticket": ticket})


async def tell_undelivered(store: Store, routes: Routes, *, clock: Callable[[], datetime]) -> None:
    """For each answer that could not reach its citizen: a notice under the case's card in
    its unit's chat and the card itself updated (status, the undelivered line) where the
    platform can edit."""
    for answer in await store.feedback.undelivered_unnoticed():
        ticket = await store.feedback.get(answer.feedback_id)
        if ticket is None:
            await store.feedback.mark_delivery_noticed(answer.id, now=clock())
            continue
        staff = await routes.chat_for(ticket.unit_id)
        if isinstance(staff, Unroutable):
            staff = await routes.default()
        if staff is None or staff.paused:
            continue
        text = t(
            "owed_answer_undelivered_notice",
            DEFAULT_LANGUAGE,
            ticket=ticket.id,
            error=(answer.delivery_error or "")[:200],
        )
        here = ticket.forwarded_chat_id == staff.chat and ticket.forwarded_message_id
        reply_to = ticket.forwarded_message_id if here else None
        if not await staff.notice(text, ticket.id, reply_to):
            continue  # that staff chat is unreachable now: told on the next run
        await store.feedback.mark_delivery_noticed(answer.id, now=clock())
        if here:
            await _refresh_card(store, staff, ticket, clock())


async def _refresh_card(store: Store, staff: StaffChat, ticket: Feedback, now: datetime) -> None:
    assert ticket.forwarded_message_id is not None
    caps = staff.channel.capabilities
    platform = staff.channel.platform
    if platform in TYPED_PLATFORMS:
        return  # no edits there: the notice said it
    card = await case_card(store, ticket, DEFAULT_LANGUAGE, caps, platform=platform, now=now)
    try:
        await staff.channel.edit(staff.chat, ticket.forwarded_message_id, card)
    except ChannelError as err:  # a photo card, a deleted message: the notice told staff
        log.info("ticket card not updated", extra={"ticket": ticket.id, "error": err.description})
