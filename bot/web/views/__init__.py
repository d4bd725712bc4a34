"""The console's pages, one module per section; `add_routes` puts them on the sub-app."""

from __future__ import annotations

from aiohttp import web

from bot.web.views import auth, broadcasts, cases, dashboard, feeds, people, subscribers, units


def add_routes(sub: web.Application) -> None:
    for module in (auth, dashboard, cases, broadcasts, feeds, subscribers, people, units):
        module.add_routes(sub)
