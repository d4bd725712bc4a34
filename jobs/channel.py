"""The one small interface every platform adapter implements, and its typed errors.

Wire types (python-telegram-bot objects, Zalo JSON) never leave an adapter: the deliverer and
the dialog speak only in `OutMessage`, `Button` and the exceptions below, and react by type.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field, replace
from typing import Protocol, runtime_checkable

from jobs.i18n import DEFAULT_LANGUAGE, t
from storage.kinds import RejectReason

HTML = "html"
PLAIN = "plain"
PLATFORM_NAMES = {"telegram": "Telegram", "zalo": "Zalo", "zalo_oa": "Zalo OA"}


@dataclass(frozen=True)
class Button:
    label: str
    data: str  # callback data: at most 64 bytes on Telegram, so always a short server-side id


@dataclass(frozen=True)
class PhotoUpload:
    """A photo's bytes to upload: our stored copy (re-encoded, no EXIF) of a photo another
    platform sent, for a channel that cannot use that platform's file id (jobs/media/fetcher.py
    `photo_for`)."""

    data: bytes = field(repr=False)
    content_type: str = "image/jpeg"

    @property
    def filename(self) -> str:
        return "photo.png" if self.content_type == "image/png" else "photo.jpg"


@dataclass(frozen=True)
class OutMessage:
    """A message ready for one platform: text already in the channel's markup."""

    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()
    markup: str = HTML
    reply_to: str | None = None
    link_preview: bool = False
    photo_url: str | None = None
    # Who can fetch `photo_url`: None for a public address any platform can fetch (an
    # article's image); else the platform whose file id it is (a Telegram file id means nothing
    # to Zalo). A channel sends only a photo it can use (usable_photo), else a note.
    photo_platform: str | None = None
    # Bytes to upload instead (a channel that can upload sends them when `photo_url` is not
    # usable on its platform; one that cannot treats the photo as foreign).
    photo_upload: PhotoUpload | None = None


def usable_photo(message: OutMessage, platform: str) -> str | None:
    """The photo `platform` can send: a public URL, or a file id of that same platform."""
    if message.photo_url and message.photo_platform in (None, platform):
        return message.photo_url
    return None


def without_foreign_photo(
    message: OutMessage, platform: str, lang: str = DEFAULT_LANGUAGE, *, can_upload: bool = False
) -> OutMessage:
    """`message` as `platform` can send it: another platform's file id is dropped and the text
    says where the photo can be seen. Never hand a foreign file id (nor a Telegram file URL,
    which carries the bot token) to another platform. A channel that `can_upload` keeps the
    message's `photo_upload` instead of the foreign id, without a note."""
    if message.photo_upload is not None:
        if can_upload:
            if usable_photo(message, platform) is None:
                message = replace(message, photo_url=None, photo_platform=None)
            return message
        message = replace(message, photo_upload=None)
    if not message.photo_url or usable_photo(message, platform) is not None:
        return message
    origin = message.photo_platform or ""
    note = t("photo_foreign_note", lang, platform=PLATFORM_NAMES.get(origin, origin))
    if message.markup == HTML:
        note = html.escape(note, quote=False)
    text = f"{message.text}\n\n{note}" if message.text.strip() else note
    return replace(message, text=text, photo_url=None, photo_platform=None)


@dataclass(frozen=True)
class Capabilities:
    markup: str = HTML
    max_text: int = 4096
    max_caption: int = 1024
    buttons: bool = True
    menus: bool = False  # buttons drawn as numbered text menus (Zalo): texts say what to type


class Channel(Protocol):
    """A platform that can send to a chat. Every method raises only ChannelError subclasses."""

    platform: str
    capabilities: Capabilities

    async def send(self, chat_id: str, message: OutMessage) -> str:
        """Send and return the platform's message id."""
        ...

    async def edit(self, chat_id: str, message_id: str, message: OutMessage) -> None: ...

    async def answer_press(self, press_id: str, text: str | None = None) -> None: ...


@runtime_checkable
class Downloads(Protocol):
    """A channel that can fetch a file a user sent it (a photo), by the reference its events
    carry (a Telegram file id, a Zalo photo URL). Raises only ChannelError subclasses:
    Rejected for a file that will never come (gone, too large, refused host), Transient for
    trouble worth another try."""

    platform: str

    async def download(self, file_ref: str, *, max_bytes: int, timeout: float = 30.0) -> bytes:
        """The file's bytes: at most `max_bytes`, within `timeout` seconds."""


def downloader(channel: object) -> Downloads | None:
    """The channel's download side, looking through wrappers that keep the platform's channel
    as `inner` (bot/adapters/zalo/menus.py); None when the platform cannot download."""
    for _ in range(4):
        if isinstance(channel, Downloads):
            return channel
        channel = getattr(channel, "inner", None)
        if channel is None:
            return None
    return None


class ChannelError(Exception):
    """Base of the errors adapters raise; `description` is safe to store and show."""

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


class RateLimited(ChannelError):
    """Wait `retry_after` seconds; `scope` is 'chat' or 'global'. Not a failure."""

    def __init__(self, description: str, retry_after: float, scope: str = "global") -> None:
        super().__init__(description)
        self.retry_after = retry_after
        self.scope = scope


class RecipientGone(ChannelError):
    """Blocked, deactivated, chat not found: permanent for this recipient."""


class ChatMoved(ChannelError):
    """The group became a supergroup: same subscriber, new chat id; send again there."""

    def __init__(self, description: str, new_chat_id: str) -> None:
        super().__init__(description)
        self.new_chat_id = new_chat_id


class Rejected(ChannelError):
    """The platform refused this message (bad request); `reason` says how to fall back."""

    def __init__(self, description: str, reason: RejectReason = RejectReason.OTHER) -> None:
        super().__init__(description)
        self.reason = reason


class Transient(ChannelError):
    """5xx, timeouts, network trouble: try again later."""


class Fatal(ChannelError):
    """The channel itself is misconfigured (e.g. invalid token): stop and tell the operator."""
