"""The event loop bantin's processes run on: uvloop where it is installed, else asyncio's own.

Every send is a few hundred microseconds of Python around the event loop (aiohttp, the
outbox, the pacer), and at Telegram's paid rate of 1,000/s the deliverer is CPU-bound on one
core. uvloop runs the loop, its timers and sockets in C: in bench/broadcast.py at 1,000/s it
cut the deliverer's CPU per message and brought the achieved rate closer to the limit
(bench/README.md). Nothing in bantin
depends on it: `BANTIN_EVENT_LOOP=asyncio` runs on the standard loop, as the tests do.
"""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
CHOICES = ("auto", "uvloop", "asyncio")


def uvloop_available() -> bool:
    return importlib.util.find_spec("uvloop") is not None


def loop_factory(choice: str = "auto") -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The factory for `choice` (None: asyncio's default loop)."""
    if choice == "asyncio" or (choice == "auto" and not uvloop_available()):
        return None
    import uvloop  # "uvloop" when it is missing is refused by the settings first

    return uvloop.new_event_loop


def loop_name(choice: str = "auto") -> str:
    return "asyncio" if loop_factory(choice) is None else "uvloop"


def run(coro: Coroutine[Any, Any, T], choice: str = "auto") -> T:
    """asyncio.run on the chosen loop."""
    with asyncio.Runner(loop_factory=loop_factory(choice)) as runner:
        return runner.run(coro)
