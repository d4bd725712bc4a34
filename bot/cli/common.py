"""Helpers shared by the command-line modules: settings with readable errors, running a
coroutine with Fatal turned into one line and exit status 1, the app composed and closed
(bot/app/compose.py: the one composition root; a command uses only the parts it touches, so a
command that reads the database builds no channel).

Whatever a command prints about a failure (a Fatal's line, an unexpected error's traceback)
is scrubbed of the configured secrets and of anything shaped like a bot token first, as log
lines are: exception texts from HTTP libraries can quote request URLs."""

from __future__ import annotations

import traceback
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import typer
from typer.exceptions import TyperException

from bot.app import aio
from bot.app.compose import App, compose
from bot.app.logs import redact, setup_logging
from bot.app.settings import Settings, SettingsError, load_settings
from jobs.channel import Fatal
from jobs.i18n import t
from storage.store import Store

T = TypeVar("T")

PROGRESS_EVERY = 2.0  # seconds between progress lines on stderr (long imports, summarize)


def err(text: str) -> None:
    typer.echo(text, err=True)


# The event loop the settings chose (BANTIN_EVENT_LOOP), for run_sync; commands load their
# settings before they run anything.
_event_loop = "auto"
# The secret settings' values, for scrubbing what run_sync prints.
_secrets: list[str] = []


def settings_or_exit() -> Settings:
    global _event_loop, _secrets
    try:
        settings = load_settings()
    except SettingsError as exc:
        err(t("cli_settings_invalid"))
        for line in exc.lines:
            err(f"  {line}")
        raise typer.Exit(2) from None
    setup_logging(settings.log_level, secrets=settings.secrets(), fmt=settings.log_format)
    _event_loop = settings.event_loop
    _secrets = settings.secrets()
    return settings


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    try:
        return aio.run(coro, _event_loop)
    except Fatal as exc:
        err(t("cli_fatal", error=redact(exc.description, _secrets)))
        raise typer.Exit(1) from None
    except (typer.Exit, typer.Abort, TyperException):
        raise
    except Exception as exc:  # what Python would print, scrubbed; same exit status
        err(redact("".join(traceback.format_exception(exc)), _secrets).rstrip())
        raise typer.Exit(1) from None


async def with_app(settings: Settings, work: Callable[[App], Awaitable[T]]) -> T:
    """`work` on the composed app, closed after (only what `work` built is there to close)."""
    app = await compose(settings)
    try:
        return await work(app)
    finally:
        await app.aclose()


async def with_store(settings: Settings, work: Callable[[Store], Awaitable[T]]) -> T:
    """`work` on the store alone: the app's other parts are never built."""
    return await with_app(settings, lambda app: work(app.store))
