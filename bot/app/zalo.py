"""Starting Zalo in a process: admins from settings, the OA's tokens, the Bot's update polling
or the webhook routes (Bot and OA) for the caller's web server.

Stopping needs nothing here: the webhook server is a listener the runner stops (its cleanup
drains the replies its handlers queued), and `App.aclose` closes the Zalo channels.
"""

from __future__ import annotations

import asyncio
import logging

from bot.app.compose import App
from bot.app.settings import Settings
from jobs.channel import ChannelError, Fatal
from storage.staff import ADMIN

log = logging.getLogger(__name__)


async def start_zalo(
    app: App, stop: asyncio.Event, tasks: list[asyncio.Task[None]]
) -> dict[str, object]:
    """Zalo admins from settings; the OA's tokens seeded and checked; the Bot's update polling
    (its task appended to `tasks`), or the webhook server (Bot with BANTIN_ZALO_WEBHOOK_URL,
    OA events) when configured. Returns the webhook routes (path → handler)."""
    from bot.adapters.zalo import bot_platform as zalo_bot
    from bot.adapters.zalo import official_account as zalo_oa
    from bot.adapters.zalo.menus import MenuChannel, menu_aware

    settings = app.settings
    bot_channel = app.channels.get(zalo_bot.PLATFORM)
    oa_channel = app.channels.get(zalo_oa.PLATFORM)
    if bot_channel is None and oa_channel is None:
        return {}
    repo = app.store.zalo
    for admin in settings.zalo_admin_ids:
        await app.store.staff.ensure(zalo_bot.PLATFORM, admin, role=ADMIN, added_by="settings")
    routes: dict[str, object] = {}
    if isinstance(bot_channel, MenuChannel) and isinstance(
        bot_channel.inner, zalo_bot.ZaloBotChannel
    ):
        client = bot_channel.inner.client
        # A webhook stores the work before its 200 and sends the replies after (drained at
        # stop); polling does both at once.
        bot_replies = zalo_bot.reply_queues(app.loops, "zalo-bot-replies")
        webhook = bool(settings.zalo_webhook_url and settings.zalo_webhook_secret is not None)
        intake = zalo_bot.UpdateIntake(
            repo,
            menu_aware(
                bot_channel, zalo_bot.deferring(app.take, bot_replies) if webhook else app.handle
            ),
            clock=app.clock,
            dead=app.store.dead_updates,
        )
        try:
            await client.get_me()
            if settings.zalo_webhook_url and settings.zalo_webhook_secret is not None:
                secret = settings.zalo_webhook_secret.get_secret_value()
                routes["/zalo/bot"] = zalo_bot.webhook_handler(secret, intake, replies=bot_replies)
                await client.set_webhook(settings.zalo_webhook_url, secret)
            else:
                poller = zalo_bot.ZaloBotPoller(client, intake)
                await poller.prepare()
                tasks.append(app.start_loop("zalo-updates", poller.run, stop))
        except Fatal:
            raise
        except Exception as err:
            raise Fatal(f"cannot reach Zalo: {type(err).__name__}") from None
    if isinstance(oa_channel, MenuChannel) and isinstance(oa_channel.inner, zalo_oa.ZaloOAChannel):
        oa = oa_channel.inner
        assert settings.zalo_oa_refresh_token is not None and settings.zalo_oa_app_id is not None
        access = settings.zalo_oa_access_token
        await oa.keeper.seed(
            access.get_secret_value() if access else None,
            settings.zalo_oa_refresh_token.get_secret_value(),
        )
        try:
            await oa.verify()  # an expired stored token is refreshed here, at start
        except ChannelError as err:
            log.error("Zalo OA not usable yet", extra={"error": err.description})
        oa_secret = settings.zalo_oa_webhook_secret
        if oa_secret is not None:
            oa_replies = zalo_bot.reply_queues(app.loops, "zalo-oa-replies")  # drained at stop
            routes["/zalo/oa"] = zalo_oa.OAWebhook(
                app_id=settings.zalo_oa_app_id,
                secret=oa_secret.get_secret_value(),
                repo=repo,
                store=app.store,
                handle=menu_aware(oa_channel, zalo_bot.deferring(app.take, oa_replies)),
                clock=app.clock,
                max_age=settings.zalo_oa_event_max_age,
                replies=oa_replies,
            )
    return routes


async def serve_zalo_routes(settings: Settings, routes: dict[str, object]) -> object | None:
    """`bantin run` serves Zalo's webhooks on BANTIN_ZALO_WEBHOOK_LISTEN (`bantin serve` mounts
    them beside Telegram's instead). Returns the server to stop, if one started."""
    from bot.adapters.zalo import bot_platform as zalo_bot

    if routes and settings.zalo_webhook_listen:
        return await zalo_bot.start_webhook_server(settings.zalo_webhook_listen, routes)  # type: ignore[arg-type]
    if routes:
        log.warning("Zalo webhooks configured but BANTIN_ZALO_WEBHOOK_LISTEN is not set")
    return None
