"""The event loop choice (bot/app/aio.py, BANTIN_EVENT_LOOP): uvloop where installed, asyncio on
request, and a clear settings error for a loop that cannot be had."""

from __future__ import annotations

import asyncio

import pytest

from bot.app import aio
from bot.app.settings import SettingsError, load_settings


async def _loop_module() -> str:
    return type(asyncio.get_running_loop()).__module__


def test_auto_runs_on_uvloop_where_installed() -> None:
    assert aio.uvloop_available()  # a dependency on every platform bantin targets
    assert aio.run(_loop_module()).startswith("uvloop")
    assert aio.loop_name() == "uvloop"


def test_asyncio_on_request() -> None:
    assert aio.run(_loop_module(), "asyncio").startswith("asyncio")
    assert aio.loop_name("asyncio") == "asyncio"


def test_auto_falls_back_without_uvloop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aio, "uvloop_available", lambda: False)
    assert aio.loop_factory("auto") is None
    assert aio.run(_loop_module()).startswith("asyncio")


def test_setting_is_checked(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    monkeypatch.chdir(str(tmp_path))
    monkeypatch.setenv("BANTIN_EVENT_LOOP", "ASYNCIO")
    assert load_settings().event_loop == "asyncio"
    monkeypatch.setenv("BANTIN_EVENT_LOOP", "trio")
    with pytest.raises(SettingsError, match="BANTIN_EVENT_LOOP"):
        load_settings()
    monkeypatch.setattr(aio, "uvloop_available", lambda: False)
    monkeypatch.setenv("BANTIN_EVENT_LOOP", "uvloop")
    with pytest.raises(SettingsError, match="uvloop is not installed"):
        load_settings()
