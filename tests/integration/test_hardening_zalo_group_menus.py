"""In a Zalo group, numbered menus and dialog steps belong to the member who opened them.

The real dialog, the real MenuChannel and a real SQLite store; only the Zalo adapter underneath
is a hand-written recorder (the menu logic sits above it). A plain member's "1" never presses
a staff member's menu, and their /huy never cancels a staff member's step.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from bot.adapters.zalo.menus import MenuChannel, menu_aware
from bot.dialog.events import Command, Event, Press, Text, Who
from bot.dialog.router import Dialog
from jobs.channel import PLAIN, Capabilities, OutMessage
from storage.store import Store

NOW = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
GROUP = "g-42"
STAFF = Who("zalo", GROUP, "z-staff", chat_type="group")
MEMBER = Who("zalo", GROUP, "z-member", chat_type="group")


class Recorder:
    """A Zalo-like adapter: no buttons, no edits; remembers what was sent."""

    platform = "zalo"
    capabilities = Capabilities(markup=PLAIN, max_text=2000, max_caption=2000, buttons=False)

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    async def send(self, chat_id: str, message: OutMessage) -> str:
        self.sent.append((chat_id, message.text))
        return str(len(self.sent))

    async def edit(self, chat_id: str, message_id: str, message: OutMessage) -> None:
        await self.send(chat_id, message)

    async def answer_press(self, press_id: str, text: str | None = None) -> None:
        return None


@dataclass
class Rig:
    dialog: Dialog
    channel: MenuChannel
    seen: list[Event]

    async def say(self, event: Event) -> Event:
        """What the adapter does with one update: numbered answers resolved, then the dialog,
        then the replies sent through the menu channel. Returns the event the dialog saw."""

        async def handle(resolved: Event) -> None:
            self.seen.append(resolved)
            outcome = await self.dialog.handle(resolved)
            for reply in outcome.replies:
                await self.channel.send(resolved.who.chat_id, reply)
            if outcome.edit is not None:
                await self.channel.send(resolved.who.chat_id, outcome.edit)

        await menu_aware(self.channel, handle)(event)
        return self.seen[-1]


@pytest.fixture
async def rig(store: Store) -> Rig:
    await store.staff.ensure("zalo", "z-staff", role="admin")
    await store.subscribers.subscribe("zalo", "c1")
    channel = MenuChannel(Recorder(), store.zalo, clock=lambda: NOW)
    dialog = Dialog(store, capabilities=lambda _p: channel.capabilities, clock=lambda: NOW)
    return Rig(dialog, channel, [])


async def test_a_member_cannot_answer_a_staff_members_menu(rig: Rig, store: Store) -> None:
    await rig.say(Command(STAFF, "broadcast", "Lịch cắt điện thứ 7"))
    [draft] = await store.announcements.recent(1)
    taken = await rig.say(Text(MEMBER, "1"))
    assert isinstance(taken, Text)  # just text: the member has no menu
    ann = await store.announcements.get(draft.id)
    assert ann is not None and ann.status == "draft"
    pressed = await rig.say(Text(STAFF, "1"))
    assert isinstance(pressed, Press) and pressed.data == f"bc:ok:{draft.id}"
    ann = await store.announcements.get(draft.id)
    assert ann is not None and ann.status == "queued"


async def test_a_members_huy_leaves_a_staff_members_step(rig: Rig, store: Store) -> None:
    await rig.say(Command(STAFF, "broadcast", ""))  # the composer waits for the staff's text
    await rig.say(Command(MEMBER, "huy"))
    await rig.say(Text(MEMBER, "Tin của người khác"))
    await rig.say(Text(STAFF, "Tin của cán bộ"))
    [draft] = await store.announcements.recent(5)
    assert draft.text == "Tin của cán bộ"
