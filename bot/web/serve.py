"""Starting the console with a role: mount it on the listener's application, then record where
it is reached (the port actually bound) so /web in chat and `bantin web-login` build links on it,
and in console mode print a sign-in link for the demo admin."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, TextIO

from aiohttp import web

from bot.web import links

if TYPE_CHECKING:
    from bot.app.compose import App

log = logging.getLogger(__name__)


def mount(parent: web.Application, app: App) -> None:
    from bot.web.app import console_app

    async def to_console(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(links.PREFIX + "/")

    parent.router.add_get(links.PREFIX, to_console)  # before the sub-app, which claims /admin*
    base = links.base_url(app.settings.public_url, app.settings.listen)
    parent.add_subapp(links.PREFIX, console_app(app, base=base))


def listen_address(app: App) -> str:
    """BANTIN_LISTEN; in console mode (a newcomer's laptop) on 127.0.0.1 only."""
    listen = app.settings.listen
    if app.settings.console_mode:
        return "127.0.0.1:" + listen.rpartition(":")[2]
    return listen


async def started(app: App, server: object) -> str:
    """Record the console's address once it listens; returns it."""
    from bot.app.ops_http import bound_port

    runner = getattr(server, "runners", (server,))[0]
    port = bound_port(runner)  # type: ignore[arg-type]
    base = links.base_url(app.settings.public_url, listen_address(app), port)
    await app.store.state.set(links.BASE_URL_KEY, base)
    log.info("web console listening", extra={"url": base + links.PREFIX + "/"})
    return base


async def print_demo_link(app: App, base: str, out: TextIO) -> None:
    """Console mode: a sign-in link for the demo admin, printed where the demo chat is."""
    from bot.adapters import console
    from jobs.i18n import t

    url = await links.issue_login_link(
        app.store, console.PLATFORM, console.DEMO_CHAT, base=base, now=app.clock()
    )
    print(t("web_console_link", url=url), file=out, flush=True)


async def start(
    app: App,
    routes: dict[str, object] | None = None,
    *,
    judge_scheduler: bool = True,
    fatal: bool = True,
    out: TextIO | None = None,
) -> object | None:
    """The role's listener (bot/app/runner.py `start_metrics`) with the console mounted when
    BANTIN_WEB_CONSOLE is on. `bantin run` passes fatal=False: a console that cannot listen
    (the port is taken) is logged and the bot runs on without it."""
    from bot.app.runner import start_metrics

    if not app.settings.web_console:
        await app.store.state.set(links.BASE_URL_KEY, "")  # /web: "the console is not running"
        return await start_metrics(app, routes, judge_scheduler=judge_scheduler)
    try:
        server = await start_metrics(app, routes, judge_scheduler=judge_scheduler, console=True)
    except OSError as err:
        if fatal:
            raise
        log.error(
            "web console not started: cannot listen",
            extra={"listen": listen_address(app), "error": type(err).__name__},
        )
        await app.store.state.set(links.BASE_URL_KEY, "")
        return await start_metrics(app, routes, judge_scheduler=judge_scheduler)
    base = await started(app, server)
    if app.settings.console_mode and out is not None:
        await print_demo_link(app, base, out)
    return server
