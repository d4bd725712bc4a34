"""Files a citizen sent the bot (getFile, then the file URL) and photos we upload (sendPhoto as
multipart), kept apart from the adapter's send path.

The file URL carries the bot token (`…/file/bot<token>/<path>`), so no URL and no aiohttp
error text leaves this module: failures are described by what happened only. A download is
bounded in size (the declared size is checked before, the bytes read are counted during) and
in time. Telegram's own limit for bots is 20 MB; ours (BANTIN_MEDIA_MAX_BYTES) is lower.
"""

from __future__ import annotations

from typing import Any

from telegram import Bot, InputFile
from telegram.constants import ParseMode

from jobs.channel import HTML, OutMessage, PhotoUpload, Rejected
from jobs.media.download import fetch_bounded


async def download(bot: Bot, file_ref: str, *, max_bytes: int, timeout: float = 30.0) -> bytes:
    """The bytes of the file `file_ref` (a file id from an update). Raises TelegramError for
    getFile's refusals (the adapter translates them), Rejected for a file too large or gone,
    Transient for network trouble."""
    info = await bot.do_api_request("getFile", api_kwargs={"file_id": file_ref})
    path = info.get("file_path") if isinstance(info, dict) else None
    size = info.get("file_size") if isinstance(info, dict) else None
    if isinstance(size, int) and size > max_bytes:
        raise Rejected(f"Telegram file too large ({size} bytes, at most {max_bytes})")
    if not isinstance(path, str) or not path or ".." in path.split("/"):
        raise Rejected("Telegram gave no path for this file (too large or expired)")
    return await fetch_bounded(
        f"{bot.base_file_url}/{path}", max_bytes=max_bytes, timeout=timeout, what="Telegram file"
    )


async def send_upload(
    bot: Bot, params: dict[str, object], message: OutMessage, upload: PhotoUpload
) -> Any:
    """sendPhoto with our stored bytes as a multipart upload and the text as caption; the
    Bot API's answer (a dict). `params` are the adapter's sendMessage parameters."""
    photo: dict[str, object] = {
        k: v for k, v in params.items() if k not in ("text", "link_preview_options")
    }
    photo["caption"] = params["text"]
    if message.markup == HTML:
        photo["parse_mode"] = ParseMode.HTML.value
    photo["photo"] = InputFile(upload.data, filename=upload.filename, attach=False)
    return await bot.do_api_request("sendPhoto", api_kwargs=photo)
