"""Numbered menus for Zalo, which has no buttons, edits or toasts: a Channel wrapper.

The dialog and the deliverer always speak in `OutMessage.buttons`. A `MenuChannel` wraps an
adapter whose capabilities say `buttons=False` and keeps that promise:

* buttons become the text lines of `bot.dialog.menus.with_menu` (reply codes for feedback,
  "1. Gửi / 2. Hủy" for the rest), and the options are stored per chat and person who asked
  (storage, so a restart between the menu and the answer loses nothing); that person's reply
  "1" is then resolved into the `Press` event the button would have produced (`resolve`); in a
  group, another member's "1" is just text;
* an edit (Zalo cannot edit a sent message) is sent as a new message, at most one per message
  per `edit_gap` seconds with the latest text always delivered, so a broadcast's progress
  message does not flood the staff chat;
* a press's toast is sent as a short message (there is no toast either).

The wrapper advertises `buttons=True` to renderers, since it delivers what buttons do; its
`max_text` keeps room for the menu lines.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import replace
from datetime import datetime, timedelta

from bot.dialog.events import Event, Press, Text
from bot.dialog.menus import parse_choice, with_menu
from jobs.channel import Capabilities, Channel, ChannelError, OutMessage
from storage.zalo import ZaloRepo

log = logging.getLogger(__name__)

MENU_RESERVE = 200  # characters kept free for the menu lines under a message
MENU_TTL = timedelta(days=2)  # an older menu no longer turns "1" into a press
EDIT_GAP = 30.0  # seconds between two edit-as-new-message sends for one message
PRESS_PREFIX = "menu:"
# Who the event being handled came from: a menu sent in reply is theirs alone (in a Zalo group a
# member's "1" never answers another member's menu). Unset (deliverer pushes): anyone's.
_ASKER: ContextVar[str] = ContextVar("menu_asker", default="")


class MenuChannel:
    """A Channel for a platform without buttons, edits or toasts (see the module docstring)."""

    def __init__(
        self,
        inner: Channel,
        repo: ZaloRepo,
        *,
        clock: Callable[[], datetime],
        edit_gap: float | None = None,
    ) -> None:
        self.inner = inner
        self.platform = inner.platform
        caps = inner.capabilities
        self.capabilities = Capabilities(
            markup=caps.markup,
            max_text=caps.max_text - MENU_RESERVE,
            max_caption=max(1, caps.max_caption - MENU_RESERVE),
            buttons=True,
            menus=True,
        )
        self._repo = repo
        self._clock = clock
        # Read when built, not when this module was imported (tests shorten EDIT_GAP).
        self._edit_gap = EDIT_GAP if edit_gap is None else edit_gap
        self._edited: dict[tuple[str, str], float] = {}
        self._pending: dict[tuple[str, str], OutMessage] = {}
        self._flushers: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._toasted: dict[str, str] = {}

    # -- Channel -------------------------------------------------------------------------------

    async def send(self, chat_id: str, message: OutMessage) -> str:
        if not message.buttons:
            return await self.inner.send(chat_id, message)
        lines, options = with_menu(message)
        plain = replace(message, buttons=())
        combined = f"{message.text}\n\n{lines}" if message.text.strip() else lines
        limit = (
            self.inner.capabilities.max_caption
            if message.photo_url or message.photo_upload
            else (self.inner.capabilities.max_text)
        )
        if len(combined) <= limit:
            sent = await self.inner.send(chat_id, replace(plain, text=combined))
        else:  # the text fills the message: the menu follows as its own message
            await self.inner.send(chat_id, plain)
            sent = await self.inner.send(
                chat_id, replace(plain, text=lines, photo_url=None, photo_upload=None)
            )
        if options:
            await self._repo.save_menu(
                self.platform, chat_id, sent, options, self._clock(), user_id=_ASKER.get()
            )
        return sent

    async def edit(self, chat_id: str, message_id: str, message: OutMessage) -> None:
        """Sent as a new message (nothing can be edited), coalesced per message."""
        if self._toasted.pop(chat_id, None) == message.text:
            return  # the press's toast already said exactly this
        key = (chat_id, message_id)
        now = time.monotonic()
        last = self._edited.get(key)
        if last is None or now - last >= self._edit_gap:
            self._edited[key] = now
            self._pending.pop(key, None)
            await self.send(chat_id, message)
            return
        self._pending[key] = message
        if key not in self._flushers:
            delay = self._edit_gap - (now - last)
            task = asyncio.create_task(self._flush_later(key, delay))
            self._flushers[key] = task

    async def answer_press(self, press_id: str, text: str | None = None) -> None:
        if not text or not press_id.startswith(PRESS_PREFIX):
            return
        chat_id = press_id.removeprefix(PRESS_PREFIX)
        self._toasted[chat_id] = text
        await self.inner.send(chat_id, OutMessage(text=text, markup=self.capabilities.markup))

    # -- menus -----------------------------------------------------------------------------------

    async def resolve(self, event: Event) -> Event:
        """A reply "N" to the chat's current menu becomes a press of option N; any other event
        (or a number with no menu, an expired one, or out of range) is returned unchanged."""
        if not isinstance(event, Text) or event.who.platform != self.platform:
            return event
        number = parse_choice(event.text)
        if number is None:
            return event
        chat, user = event.who.chat_id, event.who.user_id
        menu = await self._repo.menu(self.platform, chat, user)
        if menu is None or not 1 <= number <= len(menu.options):
            return event
        if self._clock() - menu.created_at > MENU_TTL:
            return event
        if not await self._repo.consume_menu(self.platform, chat, menu.created_at, menu.user_id):
            return event  # a second "1" to the same menu presses nothing
        return Press(
            who=event.who,
            data=menu.options[number - 1],
            message_id=menu.message_id,
            press_id=f"{PRESS_PREFIX}{event.who.chat_id}",
        )

    async def aclose(self) -> None:
        """Send edits still waiting for their gap (the last progress text matters), then close
        the adapter."""
        for task in list(self._flushers.values()):
            task.cancel()
        for (chat_id, _), message in list(self._pending.items()):
            try:
                await self.inner.send(chat_id, message)
            except ChannelError as err:
                log.warning("pending edit not sent", extra={"error": err.description})
        self._pending.clear()
        close = getattr(self.inner, "aclose", None)
        if close is not None:
            await close()

    async def _flush_later(self, key: tuple[str, str], delay: float) -> None:
        try:
            await asyncio.sleep(max(0.0, delay))
            message = self._pending.pop(key, None)
            if message is not None:
                self._edited[key] = time.monotonic()
                await self.send(key[0], message)
        except ChannelError as err:
            log.warning("coalesced edit failed", extra={"error": err.description})
        finally:
            self._flushers.pop(key, None)


def with_menus(channel: Channel, repo: ZaloRepo, *, clock: Callable[[], datetime]) -> Channel:
    """The channel itself when it has buttons, else wrapped in a MenuChannel."""
    if channel.capabilities.buttons:
        return channel
    return MenuChannel(channel, repo, clock=clock)


def menu_aware(
    channel: Channel, handle: Callable[[Event], Awaitable[None]]
) -> Callable[[Event], Awaitable[None]]:
    """`handle` with numbered answers resolved into presses first (for a MenuChannel)."""
    if not isinstance(channel, MenuChannel):
        return handle

    async def handle_resolved(event: Event) -> None:
        token = _ASKER.set(event.who.user_id)  # menus sent in reply belong to this person
        try:
            await handle(await channel.resolve(event))
        finally:
            _ASKER.reset(token)

    return handle_resolved
