"""One bounded HTTP GET for the platforms' files (Telegram's file URL, Zalo's photo URLs).

Bounded in size (Content-Length checked first, the bytes counted while reading) and in time,
never following a redirect, and describing failures by what happened only: a Telegram file URL
carries the bot token and aiohttp's error texts name the URL, so neither is ever quoted."""

from __future__ import annotations

import asyncio

import aiohttp

from jobs.channel import Rejected, Transient
from jobs.ingest.address_guard import AddressRefused

CHUNK = 64 * 1024


async def fetch_bounded(
    url: str,
    *,
    max_bytes: int,
    timeout: float,
    what: str,
    connector: aiohttp.BaseConnector | None = None,
) -> bytes:
    """The body of `url`, at most `max_bytes`; Rejected when the file is gone or too large,
    Transient for anything worth another try. `connector` may carry an address guard."""
    failure: Exception
    try:
        async with (
            aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=timeout), connector=connector
            ) as session,
            session.get(url, allow_redirects=False) as response,
        ):
            if response.status in (403, 404, 410):
                raise Rejected(f"{what}: HTTP {response.status} (gone)")
            if response.status != 200:
                raise Transient(f"{what}: HTTP {response.status}")
            declared = response.content_length
            if declared is not None and declared > max_bytes:
                raise Rejected(f"{what} too large ({declared} bytes, at most {max_bytes})")
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.content.iter_chunked(CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise Rejected(f"{what} too large (more than {max_bytes} bytes)")
                chunks.append(chunk)
            return b"".join(chunks)
    except (Rejected, Transient):
        raise
    except asyncio.CancelledError:
        raise
    except TimeoutError:
        failure = Transient(f"{what}: timed out")
    except Exception as err:  # aiohttp's texts name the URL: described, never chained
        refused = _refusal(err)
        if refused is not None:
            failure = Rejected(f"{what} refused: {refused}")
        else:
            failure = Transient(f"{what}: {type(err).__name__}")
    raise failure


def _refusal(err: BaseException) -> AddressRefused | None:
    """The address guard's refusal behind `err`, if that is what stopped the connection."""
    seen: BaseException | None = err
    for _ in range(6):
        if seen is None:
            return None
        if isinstance(seen, AddressRefused):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None
