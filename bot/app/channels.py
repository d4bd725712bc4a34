"""The chat channels a process sends on, from the settings: Telegram, Zalo Bot, Zalo OA, or the
console when no platform is configured (the demo `make run` shows)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TextIO

import httpx

from bot.adapters import console
from bot.app.settings import Settings
from jobs.channel import Channel, Fatal, downloader
from storage.store import Store


def build_channels(
    settings: Settings,
    out: TextIO | None = None,
    *,
    store: Store | None = None,
    clock: Callable[[], datetime],
) -> tuple[dict[str, Channel], object | None]:
    """Every configured platform at once (Telegram, Zalo Bot, Zalo OA); the console channel
    only when none is. The second value is the Telegram Bot (started and shut down by the app).

    Zalo channels keep state in storage (seen ids, menus, OA tokens), so they need `store`.
    """
    if settings.console_mode:
        return {console.PLATFORM: console.ConsoleChannel(out)}, None
    channels: dict[str, Channel] = {}
    bot = None
    if settings.telegram_token is not None:
        from bot.adapters.telegram.adapter import TelegramChannel, make_bot

        bot = make_bot(
            settings.telegram_token.get_secret_value(),
            settings.telegram_api_url,
            pool_size=settings.send_concurrency + 4,
        )
        channels["telegram"] = TelegramChannel(bot, paid_broadcast=settings.paid_broadcast)
    if settings.zalo_bot_token is not None or settings.zalo_oa_enabled:
        if store is None:
            raise Fatal("Zalo channels need the database (build_channels(store=...))")
        channels.update(_zalo_channels(settings, store, clock))
    return channels, bot


def _zalo_channels(
    settings: Settings, store: Store, clock: Callable[[], datetime]
) -> dict[str, Channel]:
    """Zalo Bot and/or OA, each behind numbered menus (Zalo has no buttons)."""
    from bot.adapters.zalo import bot_platform as zalo_bot
    from bot.adapters.zalo import official_account as zalo_oa
    from bot.adapters.zalo.files import ZaloPhotos
    from bot.adapters.zalo.menus import with_menus

    repo = store.zalo
    out: dict[str, Channel] = {}
    if settings.zalo_bot_token is not None:
        client = zalo_bot.ZaloBotClient(
            settings.zalo_bot_token.get_secret_value(), settings.zalo_api_url
        )
        out[zalo_bot.PLATFORM] = with_menus(zalo_bot.ZaloBotChannel(client), repo, clock=clock)
    if settings.zalo_oa_enabled:
        assert settings.zalo_oa_app_id is not None and settings.zalo_oa_secret_key is not None
        http = httpx.AsyncClient(timeout=httpx.Timeout(20.0, connect=10.0))
        keeper = zalo_oa.TokenKeeper(
            repo,
            http,
            app_id=settings.zalo_oa_app_id,
            secret_key=settings.zalo_oa_secret_key.get_secret_value(),
            oauth_url=settings.zalo_oa_oauth_url,
            clock=clock,
        )
        oa = zalo_oa.ZaloOAChannel(
            keeper, repo, http, api_url=settings.zalo_oa_api_url, clock=clock
        )
        out[zalo_oa.PLATFORM] = with_menus(oa, repo, clock=clock)
    photos = ZaloPhotos(settings.zalo_photo_hosts, settings.allow_private_hosts)
    for source in filter(None, map(downloader, out.values())):  # photo URLs: files.py
        source.photos = photos  # type: ignore[attr-defined]
    return out
