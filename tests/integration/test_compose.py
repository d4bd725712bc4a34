"""The composition root builds each part once, on first use, and closes only what it built.

This is what lets every CLI command start from the same root as the long-running roles: a
command that reads the database opens no HTTP client, `bantin poll` starts no channel and
`bantin deliver` no poller (bot/app/compose.py)."""

from __future__ import annotations

from pathlib import Path

from bot.app.compose import App, compose
from bot.app.settings import Settings
from tests.integration.test_hardening_secrets import TOKEN


def _settings(tmp_path: Path) -> Settings:
    return Settings(
        database_url=f"sqlite:///{tmp_path}/c.db",
        telegram_token=TOKEN,
        telegram_api_url="http://127.0.0.1:9",  # never asked: nothing here starts the bot
    )


async def test_the_store_alone_builds_nothing_else(tmp_path: Path) -> None:
    app = await compose(_settings(tmp_path))
    try:
        assert await app.store.feeds.all() == []
        assert app.built == set()
    finally:
        await app.aclose()


async def test_polling_builds_the_poller_and_no_channel(tmp_path: Path) -> None:
    app = await compose(_settings(tmp_path))
    try:
        assert app.poller is app.poller  # once
        assert app.built == {"client", "poller"}
    finally:
        await app.aclose()


async def test_delivering_builds_the_deliverer_and_its_channels_only(tmp_path: Path) -> None:
    app = await compose(_settings(tmp_path))
    try:
        assert app.deliverer is app.deliverer
        assert set(app.channels) == {"telegram"} and app.bot is not None
        assert app.built == {"channels", "deliverer", "media"}  # media: composer photos
    finally:
        await app.aclose()


async def test_the_parts_share_one_set_of_channels(tmp_path: Path) -> None:
    app: App = await compose(_settings(tmp_path))
    try:
        channels = app.channels
        for part in (app.deliverer, app.dialog, app.progress, app.staff_target):
            del part  # each built on first use, over the channels already built
        assert app.channels is channels and app.bot is app.bot
        assert app.staff_target is None  # no staff chat configured
        assert app.built == {
            "channels",
            "deliverer",
            "dialog",
            "media",
            "progress",
            "staff_target",
        }
    finally:
        await app.aclose()
