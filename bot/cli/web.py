"""`bantin web-login <platform:user_id>`: the operator prints a one-time sign-in link to the web
console for a staff member (e.g. the first admin, before any chat works)."""

from __future__ import annotations

from typing import Annotated

import typer

from bot.app.compose import utcnow
from bot.cli.common import err, run_sync, settings_or_exit, with_store
from bot.web.links import current_base, issue_login_link
from jobs.i18n import t
from storage.audit import CLI_ACTOR, actor_of
from storage.store import Store


def web_login(
    who: Annotated[
        str, typer.Argument(help="platform:user_id of a staff member, e.g. telegram:123")
    ],
) -> None:
    """Print a one-time sign-in link to the web console (valid 10 minutes, used once)."""
    platform, sep, user_id = who.partition(":")
    if not sep or not platform or not user_id or len(user_id) > 100:
        err(t("web_cli_bad_identity", who=who))
        raise typer.Exit(2)
    settings = settings_or_exit()

    async def work(store: Store) -> str | None:
        if await store.staff.role_of(platform, user_id) is None:
            return None
        base = await current_base(store, settings.public_url, settings.listen)
        now = utcnow()
        url = await issue_login_link(store, platform, user_id, base=base, now=now)
        await store.audit.record(CLI_ACTOR, "web.link", actor_of(platform, user_id), now=now)
        return url

    url = run_sync(with_store(settings, work))
    if url is None:
        err(t("web_cli_not_staff", who=who))
        raise typer.Exit(1)
    typer.echo(url)
