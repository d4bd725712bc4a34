"""Telegram adapter: python-telegram-bot underneath, our neutral types on top.

All of python-telegram-bot's errors are turned into jobs.channel errors here, in one place
(BadRequest subclasses NetworkError, so it is caught first). Updates are read by our own
long-polling loop and turned into bot.dialog.events, so no PTB object reaches the dialog.
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections import deque
from collections.abc import Awaitable, Callable
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from functools import partial
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

from bot.adapters.intake import ChatLanes, DeadLetters, SeenLog, SeenMarks, UpdateGuard
from bot.adapters.telegram import files
from bot.adapters.telegram.http import AiohttpRequest
from bot.dialog.events import Command, Event, Place, Press, Text, Who, parse_command
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
    ("guiphananh", "Gửi phản ánh"),
    ("phananh", "Phản ánh của tôi"),
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
        message = without_foreign_photo(message, self.platform, can_upload=True)
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
        if message.photo_upload is not None and not message.photo_url:
            return await self._upload(params, message)  # our stored copy (files.py)
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

    async def _upload(self, params: dict[str, object], message: OutMessage) -> str:
        assert message.photo_upload is not None
        try:
            sent = await files.send_upload(self.bot, params, message, message.photo_upload)
        except TelegramError as err:
            raise translate(err) from None
        return str(sent["message_id"])

    async def download(self, file_ref: str, *, max_bytes: int, timeout: float = 30.0) -> bytes:
        """A file a user sent, by its file id (bot/adapters/telegram/files.py)."""
        try:
            return await files.download(self.bot, file_ref, max_bytes=max_bytes, timeout=timeout)
        except TelegramError as err:
            raise translate(err) from None

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
        """Rewrite a message in place: its text, or — for a photo sent with the words as its
        caption (a case card with its first photo) — its caption."""
        parse_mode = ParseMode.HTML if message.markup == HTML else None
        try:
            try:
                await self.bot.edit_message_text(
                    chat_id=_chat(chat_id),
                    message_id=int(message_id),
                    text=message.text,
                    parse_mode=parse_mode,
                    reply_markup=_markup(message),
                )
            except TelegramError as err:
                if "there is no text in the message" not in err.message.lower():
                    raise
                await self.bot.edit_message_caption(
                    chat_id=_chat(chat_id),
                    message_id=int(message_id),
                    caption=message.text,
                    parse_mode=parse_mode,
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
    place = _place(message)
    if message.text is None and photo is None and place is None:
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
        place=place,
    )


def _place(message: Message) -> Place | None:
    """A shared location (or a venue: its title and address as the label)."""
    venue, location = message.venue, message.location
    if venue is not None:
        label = ", ".join(p for p in (venue.title, venue.address) if p) or None
        return Place(venue.location.latitude, venue.location.longitude, label)
    if location is not None:
        return Place(location.latitude, location.longitude)
    return None


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
SEEN_KIND = "telegram-update"  # the seen log's kind for handled Telegram update ids
PARALLEL = 64  # updates handled at once (different chats); one chat's always one at a time
REPLY_PARALLEL = 64  # replies in flight at once (the pacer sets the rate)
REFETCH_PAUSE = 0.1  # s: the longest wait for handled updates before asking for more
UPDATES_LIMIT = 100  # Telegram's most per getUpdates


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _chat_key(data: dict[str, Any]) -> str:
    """The chat an update belongs to, read from the raw update (no Update object needed): the
    key of its lane. Kinds without a chat share one lane."""
    for kind in ("message", "edited_message", "channel_post", "edited_channel_post"):
        body = data.get(kind)
        if isinstance(body, dict):
            return str((body.get("chat") or {}).get("id", ""))
    query = data.get("callback_query")
    if isinstance(query, dict):
        message = query.get("message")
        if isinstance(message, dict):
            return str((message.get("chat") or {}).get("id", ""))
        return "u" + str((query.get("from") or {}).get("id", ""))
    member = data.get("my_chat_member") or data.get("chat_member")
    if isinstance(member, dict):
        return str((member.get("chat") or {}).get("id", ""))
    return ""


class UpdatePoller:
    """Long polling with getUpdates, updates handled side by side across chats.

    - Each chat's updates are handled one after another, in order; different chats in parallel,
      at most `parallel` at once (bot/adapters/intake.py ChatLanes).
    - The offset confirmed to Telegram never passes an update whose work is not stored: it is
      the oldest update still being handled (a watermark). An update is stored once it was
      handled or, after bounded retries, kept as a dead update (intake.UpdateGuard). When one
      could be neither (the database is down), fetching stops, the chats in flight finish, and
      `run` raises: nothing past it is confirmed, Telegram sends it again (the supervisor
      restarts the loop).
    - With a seen log, each handled update id is recorded (in batches, intake.SeenMarks), and
      a redelivered update that was handled already (a crash before the offset reached
      Telegram) is skipped: it is answered once. Its reply is sent only after the id is
      recorded, so a crash before that is handled and answered again, never answered twice.
    - Replies go to their own per-chat queues (`replies`), paced there: the intake does not wait
      for them.

    Telegram returns at most 100 updates from the offset, so one slow update holds back
    fetching beyond the 100 after it (other chats within those go on).
    """

    def __init__(
        self,
        bot: Bot,
        handle: Handle,
        *,
        timeout: int = 25,
        parallel: int = PARALLEL,
        dead: DeadLetters | None = None,
        clock: Callable[[], datetime] = _utcnow,
        attempts: int | None = None,
        first_pause: float | None = None,
        loops: Loops | None = None,
        seen: SeenLog | None = None,
        replies: ChatLanes | None = None,
    ) -> None:
        self._bot = bot
        self._handle = handle
        self._timeout = timeout
        self._parallel = parallel
        self._guard = UpdateGuard(
            dead, platform=PLATFORM, clock=clock, attempts=attempts, first_pause=first_pause
        )
        self._loops = loops
        self._seen = seen
        self._marks = SeenMarks(seen, SEEN_KIND, clock=clock) if seen is not None else None
        self.replies = replies or ChatLanes(REPLY_PARALLEL, name="telegram-replies")
        if loops is not None:
            loops.register(REPLIES_LOOP)

    async def prepare(self) -> None:
        await self._bot.delete_webhook(drop_pending_updates=False)
        try:
            await self._bot.set_my_commands([BotCommand(c, d) for c, d in COMMANDS])
        except TelegramError as err:  # cosmetic; never block start on it
            log.warning("could not set commands", extra={"error": err.message})

    async def _fetch(self, offset: int | None, timeout: int) -> list[dict[str, Any]]:
        """One getUpdates, as raw dicts: on our HTTP layer without building an Update for
        each (the updates still being handled come back until the offset passes them, and
        are skipped unread)."""
        params: dict[str, object] = {"timeout": timeout, "allowed_updates": ALLOWED_UPDATES}
        if offset is not None:
            params["offset"] = offset
        request = self._bot._request[0]  # python-telegram-bot's getUpdates request
        if isinstance(request, AiohttpRequest):
            url = f"{self._bot.base_url}/getUpdates"
            got = await request.call(url, params, read_timeout=timeout + 10.0)
            return [u for u in got if isinstance(u, dict) and isinstance(u.get("update_id"), int)]
        updates = await self._bot.get_updates(
            offset=offset, timeout=timeout, allowed_updates=ALLOWED_UPDATES
        )
        return [u.to_dict() for u in updates]

    async def run(self, stop: asyncio.Event) -> None:
        lanes = ChatLanes(self._parallel, name="telegram-updates")
        state = _Intake()
        failures = 0
        try:
            while not stop.is_set() and state.failure is None:
                waiting = state.waiting()
                try:
                    raw = await self._fetch(state.offset(), 0 if waiting else self._timeout)
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
                fresh = [u for u in raw if u["update_id"] > state.fetched]
                if fresh:
                    await self._dispatch(fresh, lanes, state)
                if not state.waiting():
                    continue
                # Ask again once half of what is in hand is done (or nothing new came: once
                # anything is), or after a short pause: what is in hand comes back until the
                # offset passes it.
                target = 0 if not fresh else state.waiting() // 2
                await state.progress_to(target, REFETCH_PAUSE, stop)
        except BaseException:
            await lanes.cancel()
            raise
        if state.failure is not None:
            await lanes.join()  # the other chats finish; nothing past the failure is confirmed
            raise state.failure
        await lanes.cancel()  # stopping: updates not stored come again from Telegram
        if state.confirmable():
            with suppress(TelegramError, OSError):  # confirm what was stored (best effort)
                await self._fetch(state.offset(), 0)

    async def _dispatch(
        self, fresh: list[dict[str, Any]], lanes: ChatLanes, state: _Intake
    ) -> None:
        state.fetched = fresh[-1]["update_id"]
        done: set[str] = set()
        if self._seen is not None:
            done = await self._seen.seen_among(SEEN_KIND, [str(u["update_id"]) for u in fresh])
        for data in fresh:
            update_id = data["update_id"]
            state.taken(update_id)
            if str(update_id) in done:
                log.info("duplicate update ignored", extra={"update": update_id})
                state.stored(update_id)
                continue
            chat = _chat_key(data)
            lanes.add(chat, partial(self._work, data, chat, state))

    async def _work(self, data: dict[str, Any], chat: str, state: _Intake) -> None:
        update_id = data["update_id"]
        if chat in state.broken:
            return  # an earlier update of this chat was neither handled nor kept: it comes again
        try:
            reply = await self._one(data, chat)
        except Exception as exc:
            state.broken.add(chat)
            state.fail(exc)
            return

        def finish() -> None:
            state.stored(update_id)
            if callable(reply):
                self.replies.add(chat, partial(self._reply, reply, chat))

        if self._marks is None:
            finish()
        else:
            self._marks.mark_then(str(update_id), finish)

    async def _reply(self, reply: Callable[[], Awaitable[object]], chat: str) -> None:
        await guarded(REPLIES_LOOP, reply, self._loops, extra={"chat": chat})

    async def _one(self, data: dict[str, Any], chat: str) -> object:
        """The update read and handled under the guard (one that cannot even be read is kept
        as dead like one whose handling fails, never retried forever)."""
        handle, bot = self._handle, self._bot

        async def work() -> object:
            event = to_event(Update.de_json(data, bot))
            if event is None:
                return None  # a kind bantin ignores: deliberately dropped
            return await handle(event)

        return await self._guard.run(
            work, chat_id=chat or None, update_id=str(data["update_id"]), content=lambda: data
        )


class _Intake:
    """One run's bookkeeping: which fetched updates are not stored yet (the offset stays at the
    oldest of them), what was fetched, the first update that could not be stored."""

    def __init__(self) -> None:
        self.fetched = -1
        self._order: deque[int] = deque()  # taken update ids, ascending
        self._stored: set[int] = set()
        self.broken: set[str] = set()
        self.failure: BaseException | None = None
        self._progress = asyncio.Event()
        self._confirmed = -1

    def taken(self, update_id: int) -> None:
        self._order.append(update_id)

    def stored(self, update_id: int) -> None:
        self._stored.add(update_id)
        order = self._order
        while order and order[0] in self._stored:
            self._stored.discard(order.popleft())
        self._progress.set()

    def fail(self, exc: BaseException) -> None:
        if self.failure is None:
            self.failure = exc
        self._progress.set()

    def waiting(self) -> int:
        return len(self._order)

    def offset(self) -> int | None:
        """The offset to confirm: the oldest update not stored, else past everything fetched."""
        if self._order:
            value = self._order[0]
        elif self.fetched >= 0:
            value = self.fetched + 1
        else:
            return None
        self._confirmed = value
        return value

    def confirmable(self) -> bool:
        """Whether stored updates lie past the last offset given to Telegram."""
        head = self._order[0] if self._order else self.fetched + 1
        return self.fetched >= 0 and head > self._confirmed

    async def progress_to(self, target: int, pause: float, stop: asyncio.Event) -> None:
        """Until at most `target` updates wait, a failure, a stop, or `pause` seconds."""
        deadline = asyncio.get_running_loop().time() + pause
        while len(self._order) > target and self.failure is None and not stop.is_set():
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                return
            self._progress.clear()
            with suppress(TimeoutError):
                await asyncio.wait_for(self._progress.wait(), left)
