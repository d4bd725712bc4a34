"""Telegram adapter: python-telegram-bot underneath, our neutral types on top.

All of python-telegram-bot's errors are turned into jobs.channel errors here, in one place
(BadRequest subclasses NetworkError, so it is caught first). Updates are read by our own
long-polling loop and turned into bot.dialog.events, so no PTB object reaches the dialog.
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from telegram import (
    Bot,
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)

from bot.adapters.intake import DeadLetters, UpdateGuard
from bot.adapters.telegram.http import AiohttpRequest
from bot.dialog.events import Command, Event, Press, Text, Who, parse_command
from jobs.channel import (
    HTML,
    Capabilities,
    ChannelError,
    ChatMoved,
    Fatal,
    OutMessage,
    RateLimited,
    RecipientGone,
    Rejected,
    Transient,
    without_foreign_photo,
)
from jobs.ops.supervise import Loops, guarded
from jobs.sleep import sleep_or_stop
from storage.kinds import RejectReason

log = logging.getLogger(__name__)

PLATFORM = "telegram"
# No channel_post: the bot never answers a channel's posts (it would answer in public).
ALLOWED_UPDATES = ["message", "callback_query", "my_chat_member"]
COMMANDS = [
    ("start", "Đăng ký nhận tin"),
    ("stop", "Ngừng nhận tin"),
    ("help", "Hướng dẫn"),
    ("huy", "Hủy thao tác đang làm"),
]


def make_bot(token: str, api_url: str, *, pool_size: int = 16, read_timeout: float = 20.0) -> Bot:
    """A Bot on aiohttp (several times the throughput of the default httpx transport) whose
    connection pool fits the send concurrency; getUpdates gets its own small pool."""
    request = AiohttpRequest(pool_size=pool_size, read_timeout=read_timeout)
    updates_request = AiohttpRequest(pool_size=2, read_timeout=10)
    return Bot(
        token,
        base_url=f"{api_url.rstrip('/')}/bot",
        base_file_url=f"{api_url.rstrip('/')}/file/bot",
        request=request,
        get_updates_request=updates_request,
    )


def _seconds(value: int | float | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _retry_after(err: RetryAfter) -> float:
    with warnings.catch_warnings():  # PTB 22 warns that the type will become timedelta
        warnings.simplefilter("ignore")
        return _seconds(err.retry_after)


def translate(err: TelegramError) -> ChannelError:
    """Map a python-telegram-bot error to our typed errors (order matters)."""
    text = err.message
    lowered = text.lower()
    if isinstance(err, RetryAfter):
        return RateLimited(text, _retry_after(err), scope="global")
    if isinstance(err, ChatMigrated):
        return ChatMoved(text, str(err.new_chat_id))
    if isinstance(err, Forbidden):
        return RecipientGone(text)
    if isinstance(err, InvalidToken):
        return Fatal("Telegram rejected the bot token (Unauthorized)")
    if isinstance(err, BadRequest):
        if "chat not found" in lowered or "user not found" in lowered:
            return RecipientGone(text)
        if "can't parse entities" in lowered or "can't find end" in lowered:
            return Rejected(text, reason=RejectReason.PARSE)
        if "too long" in lowered:
            return Rejected(text, reason=RejectReason.TOO_LONG)
        return Rejected(text)
    if isinstance(err, TimedOut):
        return Transient(f"timed out: {text}")
    if isinstance(err, NetworkError):
        return Transient(text)
    return Transient(text)


def _chat(chat_id: str) -> int | str:
    return int(chat_id) if chat_id.lstrip("-").isdigit() else chat_id


def _keyboard(message: OutMessage) -> dict[str, object]:
    return {
        "inline_keyboard": [
            [{"text": b.label, "callback_data": b.data} for b in row] for row in message.buttons
        ]
    }


def _markup(message: OutMessage) -> InlineKeyboardMarkup | None:
    if not message.buttons:
        return None
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(b.label, callback_data=b.data) for b in row]
            for row in message.buttons
        ]
    )


class TelegramChannel:
    platform = PLATFORM
    capabilities = Capabilities(markup=HTML, max_text=4096, max_caption=1024, buttons=True)

    def __init__(self, bot: Bot, *, paid_broadcast: bool = False) -> None:
        self.bot = bot
        self.paid_broadcast = paid_broadcast
        # do_api_request warns when a Bot method of that name exists; we use it on purpose.
        warnings.filterwarnings("ignore", message=r".*Bot\.do_api_request.*")

    async def send(self, chat_id: str, message: OutMessage) -> str:
        """sendMessage (see `_api`): the answer stays a dict, skipping the cost of
        building a Message object we never use (a fifth of the client's CPU per send)."""
        message = without_foreign_photo(message, self.platform)
        params: dict[str, object] = {
            "chat_id": _chat(chat_id),
            "text": message.text,
            "link_preview_options": {"is_disabled": not message.link_preview},
        }
        if message.markup == HTML:
            params["parse_mode"] = ParseMode.HTML.value
        if message.buttons:
            params["reply_markup"] = _keyboard(message)
        if message.reply_to:
            params["reply_parameters"] = {
                "message_id": int(message.reply_to),
                "allow_sending_without_reply": True,
            }
        if self.paid_broadcast:
            params["allow_paid_broadcast"] = True
        if message.photo_url:
            photo = await self._send_photo(params, message.photo_url)
            if photo is not None:
                return photo
        try:
            sent = await self._api("sendMessage", params)
        except TelegramError as err:
            raise translate(err) from None
        return str(sent["message_id"])

    async def _api(self, method: str, params: dict[str, object]) -> Any:
        """One Bot API call whose answer stays a dict. On our own HTTP layer the parameters
        go out as one JSON body (AiohttpRequest.call, python-telegram-bot's errors), skipping
        `do_api_request`'s per-parameter wrapping: about a fifth of the client's CPU per send
        (bench/broadcast.py)."""
        request = self.bot.request
        if isinstance(request, AiohttpRequest):
            return await request.call(f"{self.bot.base_url}/{method}", params)
        return await self.bot.do_api_request(method, api_kwargs=params)

    async def _send_photo(self, params: dict[str, object], photo_url: str) -> str | None:
        """sendPhoto with the text as caption; None when Telegram cannot use the image (a
        dead link, a page that is not an image, too large) so the caller sends text instead.

        Errors that are not about the image (blocked, flood, parse) are raised as usual.
        """
        photo = {k: v for k, v in params.items() if k not in ("text", "link_preview_options")}
        photo["photo"] = photo_url
        photo["caption"] = params["text"]
        try:
            sent = await self._api("sendPhoto", photo)
        except TelegramError as err:
            mapped = translate(err)
            if isinstance(mapped, Rejected) and mapped.reason == RejectReason.OTHER:
                log.info("photo refused; sending text", extra={"error": mapped.description})
                return None
            raise mapped from None
        return str(sent["message_id"])

    async def is_admin(self, chat_id: str, user_id: str) -> bool:
        """Whether the user administers the chat, asked of Telegram now (getChatMember)."""
        try:
            member = await self.bot.do_api_request(
                "getChatMember", api_kwargs={"chat_id": _chat(chat_id), "user_id": int(user_id)}
            )
        except TelegramError as err:
            raise translate(err) from None
        return member.get("status") in ("creator", "administrator")

    async def edit(self, chat_id: str, message_id: str, message: OutMessage) -> None:
        try:
            await self.bot.edit_message_text(
                chat_id=_chat(chat_id),
                message_id=int(message_id),
                text=message.text,
                parse_mode=ParseMode.HTML if message.markup == HTML else None,
                reply_markup=_markup(message),
            )
        except TelegramError as err:
            if "message is not modified" in err.message.lower():
                return
            raise translate(err) from None

    async def answer_press(self, press_id: str, text: str | None = None) -> None:
        try:
            await self.bot.answer_callback_query(press_id, text=text[:200] if text else None)
        except TelegramError as err:
            raise translate(err) from None


def _who(message: Message, user_id: int | None, name: str | None, language: str | None) -> Who:
    chat = message.chat
    return Who(
        platform=PLATFORM,
        chat_id=str(chat.id),
        user_id=str(user_id if user_id is not None else chat.id),
        chat_type=chat.type,
        display_name=name or chat.title or chat.full_name,
        language=language,
    )


def to_event(update: Update) -> Event | None:
    """A Telegram update as a neutral event; None for kinds bantin ignores.

    Channel posts (channel_post, edited_channel_post) are ignored: a channel is an audience,
    and whatever the bot said there would be posted to everyone who follows it."""
    if update.callback_query is not None:
        cq = update.callback_query
        if cq.message is None or not isinstance(cq.message, Message) or cq.data is None:
            return None
        who = _who(cq.message, cq.from_user.id, cq.from_user.full_name, cq.from_user.language_code)
        return Press(who=who, data=cq.data, message_id=str(cq.message.message_id), press_id=cq.id)
    if update.my_chat_member is not None:
        return _membership(update)
    message = update.message
    if message is None or message.chat.type == "channel":
        return None
    photo = message.photo[-1].file_id if message.photo else None  # the largest size
    text = message.text if message.text is not None else (message.caption or "")
    if message.text is None and photo is None:
        return None
    user = message.from_user
    who = _who(
        message,
        user.id if user else None,
        user.full_name if user else None,
        user.language_code if user else None,
    )
    parsed = parse_command(text) if photo is None else None
    if parsed is not None:
        name, args = parsed
        return Command(who=who, name=name, args=args, message_id=str(message.message_id))
    reply_to = message.reply_to_message
    return Text(
        who=who,
        text=text,
        reply_to=str(reply_to.message_id) if reply_to is not None else None,
        message_id=str(message.message_id),
        photo=photo,
    )


def _membership(update: Update) -> Event | None:
    """The bot made administrator of a channel subscribes it: only a channel's administrators
    can do that. (A group is subscribed by an administrator's /start; a chat that removed the
    bot is deactivated by the deliverer on its first refused send.)"""
    change = update.my_chat_member
    assert change is not None
    chat = change.chat
    if chat.type == "private":
        return None  # a user blocking the bot: the deliverer learns it from the 403
    who = Who(
        platform=PLATFORM,
        chat_id=str(chat.id),
        user_id=str(change.from_user.id),
        chat_type=chat.type,
        display_name=chat.title,
    )
    status = change.new_chat_member.status
    if chat.type == "channel" and status == "administrator":
        return Command(who=who, name="start")
    return None


Handle = Callable[[Event], Awaitable[object]]
"""Does one event's work; may return the reply step to run afterwards (App.take does)."""
REPLIES_LOOP = "telegram-replies"


def _utcnow() -> datetime:
    return datetime.now(UTC)


class UpdatePoller:
    """Long polling with getUpdates: an update is confirmed (offset) only after it was handled
    or, after bounded retries, kept as a dead update (bot/adapters/intake.py). When neither happened
    (the database is down), the batch is not confirmed and Telegram sends it again."""

    def __init__(
        self,
        bot: Bot,
        handle: Handle,
        *,
        timeout: int = 25,
        parallel: int = 16,
        dead: DeadLetters | None = None,
        clock: Callable[[], datetime] = _utcnow,
        attempts: int | None = None,
        first_pause: float | None = None,
        loops: Loops | None = None,
    ) -> None:
        self._bot = bot
        self._handle = handle
        self._timeout = timeout
        self._parallel = parallel
        self._guard = UpdateGuard(
            dead, platform=PLATFORM, clock=clock, attempts=attempts, first_pause=first_pause
        )
        self._loops = loops

    async def prepare(self) -> None:
        await self._bot.delete_webhook(drop_pending_updates=False)
        try:
            await self._bot.set_my_commands([BotCommand(c, d) for c, d in COMMANDS])
        except TelegramError as err:  # cosmetic; never block start on it
            log.warning("could not set commands", extra={"error": err.message})

    async def run(self, stop: asyncio.Event) -> None:
        offset: int | None = None
        failures = 0
        while not stop.is_set():
            try:
                updates = await self._bot.get_updates(
                    offset=offset, timeout=self._timeout, allowed_updates=ALLOWED_UPDATES
                )
                failures = 0
            except InvalidToken:
                raise
            except RetryAfter as err:
                await sleep_or_stop(stop, _retry_after(err))
                continue
            except TelegramError as err:
                failures += 1
                log.warning("getUpdates failed", extra={"error": err.message})
                await sleep_or_stop(stop, min(30.0, 2.0**failures))
                continue
            await self._handle_batch(updates)
            if updates:
                offset = updates[-1].update_id + 1

    async def _handle_batch(self, updates: Sequence[Update]) -> None:
        """Handle one getUpdates batch: chats in parallel, each chat's updates in order.

        The offset moves past the batch only once every update in it was handled or kept as
        dead; if one could be neither, this raises after the other chats finished, and
        Telegram delivers the batch again (handlers are idempotent), never losing it.
        """
        by_chat: dict[int, list[Update]] = {}
        for update in updates:
            chat = update.effective_chat
            by_chat.setdefault(chat.id if chat else 0, []).append(update)
        gate = asyncio.Semaphore(self._parallel)

        async def one_chat(chat_updates: list[Update]) -> None:
            async with gate:
                for update in chat_updates:
                    await self._one(update)

        results = await asyncio.gather(
            *(one_chat(u) for u in by_chat.values()), return_exceptions=True
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result

    async def _one(self, update: Update) -> None:
        event = to_event(update)
        if event is None:
            return  # a kind bantin ignores: deliberately dropped
        handle = self._handle
        reply = await self._guard.run(
            lambda: handle(event),
            chat_id=event.who.chat_id,
            update_id=str(update.update_id),
            content=update.to_dict,
        )
        if callable(reply):
            await guarded(REPLIES_LOOP, reply, self._loops, extra={"chat": event.who.chat_id})
