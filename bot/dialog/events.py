"""Platform-neutral inbound events: what a citizen or staff member did in a chat."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Who:
    platform: str
    chat_id: str
    user_id: str
    chat_type: str = "private"
    display_name: str | None = None
    language: str | None = None


@dataclass(frozen=True)
class Command:
    who: Who
    name: str  # lower-case, without the slash or @botname
    args: str = ""
    message_id: str | None = None


@dataclass(frozen=True)
class Place:
    """A place a user shared (Telegram location or venue, a Zalo location event)."""

    latitude: float
    longitude: float
    label: str | None = None  # a venue's name or address, when the platform gives one


@dataclass(frozen=True)
class Text:
    who: Who
    text: str  # the message's text, or a photo's caption ("" when it has none)
    reply_to: str | None = None  # the platform message id this text replies to
    message_id: str | None = None
    photo: str | None = None  # the platform's file id of an attached photo (never downloaded)
    place: Place | None = None  # a shared location (then `text` is usually "")


@dataclass(frozen=True)
class Press:
    who: Who
    data: str
    message_id: str | None = None
    press_id: str | None = None


Event = Command | Text | Press


def photo_of(event: Event) -> str | None:
    """The platform file id of a photo the event carries, if the adapter passes one.

    Only `Text` carries a photo; reading it by name keeps any other event (or an adapter's own
    event type) photo-less without a change here. Nothing is downloaded: the id is stored.
    """
    photo = getattr(event, "photo", None)
    return photo if isinstance(photo, str) and photo else None


_COMMAND = re.compile(r"^/([A-Za-z0-9_]{1,64})(?:@[A-Za-z0-9_]+)?(?:\s+(.*))?$", re.DOTALL)


def parse_command(text: str) -> tuple[str, str] | None:
    """'/Broadcast@bantin_bot hello' -> ('broadcast', 'hello'); None when not a command."""
    match = _COMMAND.match(text)
    if match is None:
        return None
    return match.group(1).lower(), (match.group(2) or "").strip()
