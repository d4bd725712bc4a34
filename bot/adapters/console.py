"""Console channel: prints what a chat would receive, for the demo and for trying things out.

With no Telegram token, `bantin run` delivers to this channel, so a newcomer sees the whole
pipeline (feed → summary → outbox → message) without creating a bot.
"""

from __future__ import annotations

import itertools
import sys
from typing import TextIO

from jobs.channel import PLAIN, Capabilities, OutMessage

PLATFORM = "console"
DEMO_CHAT = "demo"
STAFF_CHAT = "staff"
RULE = "─" * 60


class ConsoleChannel:
    platform = PLATFORM
    capabilities = Capabilities(markup=PLAIN, max_text=4096, max_caption=1024, buttons=True)

    def __init__(self, out: TextIO | None = None) -> None:
        self._out = out
        self._ids = itertools.count(1)

    @property
    def out(self) -> TextIO:
        return self._out or sys.stdout

    def _print(self, header: str, message: OutMessage) -> None:
        lines = [RULE, header, "", message.text]
        for row in message.buttons:
            lines.append("  ".join(f"[ {b.label} ]" for b in row))
        print("\n".join(lines), file=self.out, flush=True)

    async def send(self, chat_id: str, message: OutMessage) -> str:
        mid = str(next(self._ids))
        self._print(f"→ {chat_id}  (#{mid})", message)
        return mid

    async def edit(self, chat_id: str, message_id: str, message: OutMessage) -> None:
        self._print(f"→ {chat_id}  (#{message_id}, edited)", message)

    async def answer_press(self, press_id: str, text: str | None = None) -> None:
        if text:
            print(f"  ({text})", file=self.out, flush=True)
