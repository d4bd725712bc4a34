"""Photos a citizen sent on Zalo (Bot Platform or OA): their events carry a URL on Zalo's CDN,
which bantin downloads into its media store (jobs/media/fetcher.py).

Why a host list: the URL comes inside an event, and an event's content is whatever the
sender's client put there; fetching any URL would let a crafted event make the server fetch
from its own network. A photo is therefore fetched only from the hosts Zalo serves photos from
(BANTIN_ZALO_PHOTO_HOSTS, by default Zalo's CDN domains), over https, and the connection
still passes the address guard every outbound fetch passes (jobs/ingest/address_guard.py): a
listed name that resolves to a private address is refused too, unless the operator allowed
that host (BANTIN_ALLOW_PRIVATE_HOSTS). No redirect is followed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import aiohttp
import httpx

from bot.app.logs import redact
from jobs.channel import PhotoUpload, Rejected, Transient
from jobs.ingest.address_guard import (
    AddressPolicy,
    AddressRefused,
    GuardedResolver,
    _NetworkEntry,
    check_url,
    literal_address,
    parse_entry,
)
from jobs.media.download import fetch_bounded
from jobs.media.images import prepare

if TYPE_CHECKING:
    from bot.adapters.zalo.official_account import ZaloOAChannel

# Zalo's CDN (photo URLs look like https://f20-zpc.zdn.vn/… or https://s240-ava-talk.zadn.vn/…).
ZALO_PHOTO_HOSTS = ("*.zdn.vn", "*.zadn.vn", "*.zalo.me", "*.zaloapp.com")


class ZaloPhotos:
    """Downloads Zalo photo URLs from the allowed hosts only (see the module doc)."""

    def __init__(
        self, hosts: Sequence[str] = ZALO_PHOTO_HOSTS, private_hosts: Sequence[str] = ()
    ) -> None:
        self._hosts = [parse_entry(h) for h in hosts if h.strip()]
        self._policy = AddressPolicy.allowing(private_hosts)

    def allowed(self, url: str) -> bool:
        """Whether `url` is on a host Zalo serves photos from: https on a listed host, or
        plain http on a host listed with its port (a test server, an operator's proxy)."""
        try:
            parts = urlsplit(url)
            host = (parts.hostname or "").rstrip(".").lower()
            port = parts.port
        except ValueError:
            return False
        if not host or parts.username or parts.password or parts.scheme not in ("https", "http"):
            return False
        address = literal_address(host)
        for entry in self._hosts:
            if isinstance(entry, _NetworkEntry):
                matched = address is not None and entry.matches(address, port)
            else:
                matched = address is None and entry.matches(host, port)
            if matched and (parts.scheme == "https" or entry.port is not None):
                return True
        return False

    async def download(self, url: str, *, max_bytes: int, timeout: float = 30.0) -> bytes:
        if not self.allowed(url):
            raise Rejected("Zalo photo URL is not on a Zalo photo host (BANTIN_ZALO_PHOTO_HOSTS)")
        try:
            check_url(url, self._policy)
        except AddressRefused as err:
            raise Rejected(f"Zalo photo refused: {err}") from None
        connector = aiohttp.TCPConnector(resolver=GuardedResolver(self._policy), limit=4)
        return await fetch_bounded(
            url, max_bytes=max_bytes, timeout=timeout, what="Zalo photo", connector=connector
        )


# -- uploads to the OA (a photo another platform sent, as our stored copy) ---------------------

OA_UPLOAD_PATH = "/v2.0/oa/upload/image"
OA_MAX_UPLOAD = 1024 * 1024  # Zalo OA takes JPEG/PNG images up to 1 MB
OA_UPLOAD_SIDE = 1280  # a copy larger than the cap is made smaller once, to this long side


async def upload_oa_image(channel: ZaloOAChannel, upload: PhotoUpload) -> str:
    """Upload our stored copy to the OA (multipart `file`); its attachment id. A copy over
    Zalo's 1 MB limit is re-encoded smaller first. Raises ChannelError subclasses, like a send;
    an expired token is refreshed and the upload tried once more."""
    from bot.adapters.zalo.official_account import TOKEN_ERRORS, translate

    data, content_type = upload.data, upload.content_type
    if len(data) > OA_MAX_UPLOAD or content_type not in ("image/jpeg", "image/png"):
        smaller = await asyncio.to_thread(prepare, data, max_side=OA_UPLOAD_SIDE)
        data, content_type = smaller.data, smaller.content_type
        if len(data) > OA_MAX_UPLOAD:
            raise Rejected("photo too large for Zalo OA even when made smaller")
    for attempt in range(2):
        generation = (await channel.keeper._load()).generation
        token = await channel.keeper.access_token()
        form = {"file": (upload.filename, data, content_type)}
        failure: Transient | None = None
        try:
            response = await channel._http.post(
                f"{channel._api}{OA_UPLOAD_PATH}", files=form, headers={"access_token": token}
            )
            body = response.json()
        except httpx.TimeoutException:
            failure = Transient("Zalo OA upload: timed out")
        except (httpx.HTTPError, ValueError) as err:
            failure = Transient(f"Zalo OA upload: {type(err).__name__}")
        if failure is not None:
            raise failure
        if not isinstance(body, dict):
            raise Transient("Zalo OA upload: unexpected answer")
        code = body.get("error", 0)
        code = int(code) if isinstance(code, int) else -1
        if code == 0:
            attachment = (body.get("data") or {}).get("attachment_id")
            if not attachment:
                raise Transient("Zalo OA upload: no attachment id")
            return str(attachment)
        if code in TOKEN_ERRORS and attempt == 0:
            await channel.keeper.refresh(generation)
            continue
        message = redact(str(body.get("message") or ""), [token])
        raise translate(code, message, channel._clock())
    raise AssertionError("unreachable")


def with_image(payload: dict[str, Any], attachment_id: str | None) -> dict[str, Any]:
    """A consultation message payload carrying the uploaded image (a "media" template)."""
    if attachment_id is None:
        return payload
    message = dict(payload["message"])
    message["attachment"] = {
        "type": "template",
        "payload": {
            "template_type": "media",
            "elements": [{"media_type": "image", "attachment_id": attachment_id}],
        },
    }
    return {**payload, "message": message}
