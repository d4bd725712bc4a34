"""What a long-running role does once before it starts its loops: the database seeded from the
settings, the dialog told the operator's defaults, Telegram's long polling wired to the app."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from bot.adapters import console
from bot.app.compose import App
from bot.app.settings import Settings
from bot.dialog.router import install_admin_check
from storage.preferences import QUIET_DEFAULT_KEY
from storage.staff import ADMIN
from storage.store import Store

if TYPE_CHECKING:
    from bot.adapters.telegram.adapter import UpdatePoller


def sample_feed_url() -> str:
    """The bundled demo feed as a file:// URL."""
    path = Path(str(resources.files("bot").joinpath("data/sample_feed.xml")))
    return path.resolve().as_uri()


async def bootstrap(settings: Settings, store: Store) -> None:
    """Admins from settings, feeds from settings, and the console demo's subscriber."""
    for admin in settings.admin_ids:
        await store.staff.ensure("telegram", str(admin), role=ADMIN, added_by="settings")
    for url in settings.feeds:
        await store.feeds.add(url)
    await store.units.ensure_default(settings.default_unit_name)  # no units set up: the staff chat
    if settings.console_mode:
        if not settings.feeds and not await store.feeds.all():
            await store.feeds.add(sample_feed_url(), name="Cổng TTĐT huyện Chiêm Hóa (mẫu)")
        await store.subscribers.subscribe(
            console.PLATFORM, console.DEMO_CHAT, display_name="Người dùng thử"
        )
        await store.staff.ensure(
            console.PLATFORM, console.DEMO_CHAT, role=ADMIN, added_by="console"
        )


async def prepare_dialog(app: App) -> None:
    """The operator's default quiet hours (console demo: none, it shows what is sent now) and
    how the dialog asks Telegram who administers a group."""
    quiet_default = "off" if app.settings.console_mode else app.settings.quiet_hours
    await app.store.state.set(QUIET_DEFAULT_KEY, quiet_default)
    is_admin = getattr(app.channels.get("telegram"), "is_admin", None)
    if is_admin is not None:
        install_admin_check(app.dialog, "telegram", is_admin)


def telegram_poller(app: App) -> UpdatePoller:
    """Telegram long polling for `app`: the dialog's work, retried then kept as dead when it
    keeps failing (bot/adapters/intake.py), its replies run after it under supervision."""
    from bot.adapters.telegram.adapter import UpdatePoller

    return UpdatePoller(
        app.bot,  # type: ignore[arg-type]
        app.take,
        dead=app.store.dead_updates,
        clock=app.clock,
        loops=app.loops,
        seen=app.store.zalo,  # handled update ids: a redelivered one is answered once
    )
