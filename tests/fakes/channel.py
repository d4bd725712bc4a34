"""An in-memory Channel for tests of the code that sends: the deliverer, forwarding, flows.

It speaks the jobs.channel.Channel Protocol and nothing else, so a test sees exactly what the
code under test asked the platform to do, and can make the platform answer with any
ChannelError: for one chat until healed, or for the next N sends whichever chat they go to.
The adapters' own behaviour (HTTP, error mapping) is tested against the fake platform servers
in tests/fakes/*_api.py; this fake is for code that only needs a channel.
"""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass

from jobs.channel import Capabilities, ChannelError, OutMessage


@dataclass(frozen=True)
class Sent:
    """One message the channel accepted, with the id it answered."""

    chat_id: str
    message: OutMessage
    message_id: str


class FakeChannel:
    """Records every send (`sent`: accepted; `attempts`: every call, failed ones included),
    edit and press answer; fails as told with `fail_chat` and `fail_next`."""

    def __init__(
        self, platform: str = "telegram", capabilities: Capabilities | None = None
    ) -> None:
        self.platform = platform
        self.capabilities = capabilities or Capabilities()
        self.sent: list[Sent] = []
        self.attempts: list[tuple[str, OutMessage]] = []
        self.edits: list[tuple[str, str, OutMessage]] = []
        self.presses: list[tuple[str, str | None]] = []
        self.closed = False
        self._chat_errors: dict[str, ChannelError] = {}
        self._next_errors: deque[ChannelError] = deque()
        self._ids = itertools.count(1)

    # -- telling it to fail --------------------------------------------------------------

    def fail_chat(self, chat_id: str, error: ChannelError) -> None:
        """Every send to `chat_id` raises `error` until `heal(chat_id)`."""
        self._chat_errors[chat_id] = error

    def heal(self, chat_id: str) -> None:
        self._chat_errors.pop(chat_id, None)

    def fail_next(self, error: ChannelError, times: int = 1) -> None:
        """The next `times` sends raise `error`, whatever chat they go to (after any already
        queued failures)."""
        self._next_errors.extend([error] * times)

    # -- what it was asked to do ----------------------------------------------------------

    def texts(self, chat_id: str | None = None) -> list[str]:
        """The texts accepted, in order (to one chat if given)."""
        return [s.message.text for s in self.sent if chat_id is None or s.chat_id == chat_id]

    # -- the Channel Protocol -------------------------------------------------------------

    async def send(self, chat_id: str, message: OutMessage) -> str:
        if self.closed:
            raise RuntimeError("send on a closed channel")
        self.attempts.append((chat_id, message))
        if self._next_errors:
            raise self._next_errors.popleft()
        error = self._chat_errors.get(chat_id)
        if error is not None:
            raise error
        message_id = str(next(self._ids))
        self.sent.append(Sent(chat_id, message, message_id))
        return message_id

    async def edit(self, chat_id: str, message_id: str, message: OutMessage) -> None:
        self.edits.append((chat_id, message_id, message))

    async def answer_press(self, press_id: str, text: str | None = None) -> None:
        self.presses.append((press_id, text))

    async def aclose(self) -> None:
        self.closed = True
