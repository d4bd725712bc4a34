"""What every flow needs: storage, the platform's capabilities, the clock, and small helpers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from bot.channel import Capabilities, OutMessage
from bot.events import Who
from bot.render import plain
from storage.records import Subscriber
from storage.staff import ADMIN, EDITOR
from storage.store import Store

STAFF_ROLES = (ADMIN, EDITOR)


@dataclass
class Outcome:
    """What the adapter must do for one event."""

    replies: list[OutMessage] = field(default_factory=list)
    edit: OutMessage | None = None  # replaces the message whose button was pressed
    toast: str | None = None  # short notice on the pressed button (always answered)
    wake_outbox: bool = False
    wake_feedback: bool = False


@dataclass
class FlowContext:
    store: Store
    capabilities: Callable[[str], Capabilities]
    clock: Callable[[], datetime]
    portal_name: str | None = None

    async def subscriber(self, who: Who) -> Subscriber:
        """The chat's subscriber row, created (inactive) the first time the chat is seen."""
        return await self.store.subscribers.ensure(
            who.platform, who.chat_id, chat_type=who.chat_type, display_name=who.display_name
        )

    def say(self, who: Who, text: str) -> OutMessage:
        """Catalog text as a reply fit for the chat's platform (escaped, within limits)."""
        return plain(text, self.capabilities(who.platform))

    async def role(self, who: Who) -> str | None:
        """The user's staff role read from storage now (never from callback data)."""
        return await self.store.staff.role_of(who.platform, who.user_id)

    async def is_staff(self, who: Who) -> bool:
        return await self.role(who) in STAFF_ROLES
