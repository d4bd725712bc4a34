"""`bantin topics ...` (the category → topic map) and `bantin qr` (printable invitations).

Topics are what citizens choose from; feed categories are many and free-form, so the
operator maps them onto a short list. An invitation is a Telegram deep link
https://t.me/<bot>?start=<code> (bot/dialog/flows/subscription.py reads the code) drawn as a QR code
with segno, a small pure-Python library, so nothing native is needed to print one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bot.cli.common import err, run_sync, settings_or_exit, with_store
from bot.dialog.flows.subscription import deep_link_code
from jobs.i18n import t
from jobs.route.match import fold
from storage.records import Topic
from storage.store import Store

topics_app = typer.Typer(help="Topics citizens choose, and the feed categories under each.")


def invite_link(bot: str, code: str) -> str:
    return f"https://t.me/{bot.lstrip('@')}?start={code}"


async def _topic(store: Store, name: str) -> Topic:
    topic = await store.topics.find(name)
    if topic is None:
        err(t("cli_topic_missing", name=name))
        raise typer.Exit(1)
    return topic


@topics_app.command("add")
def topics_add(name: str) -> None:
    """Create a topic (e.g. "An ninh")."""
    settings = settings_or_exit()
    topic = run_sync(with_store(settings, lambda s: s.topics.add(name.strip()[:100])))
    typer.echo(t("cli_topic_added", id=topic.id, name=topic.name))


@topics_app.command("remove")
def topics_remove(topic: str) -> None:
    """Remove a topic (by id or name); subscribers who chose it keep their other choices."""
    settings = settings_or_exit()

    async def work(store: Store) -> int:
        found = await _topic(store, topic)
        await store.topics.remove(found.id)
        return found.id

    typer.echo(t("cli_topic_removed", id=run_sync(with_store(settings, work))))


@topics_app.command("map")
def topics_map(category: str, topic: str) -> None:
    """Put a feed category under a topic (case and diacritics do not matter)."""
    settings = settings_or_exit()

    async def work(store: Store) -> Topic:
        found = await _topic(store, topic)
        await store.topics.map(fold(category.strip()), found.id)
        return found

    found = run_sync(with_store(settings, work))
    typer.echo(t("cli_topic_mapped", category=category.strip(), name=found.name))


@topics_app.command("unmap")
def topics_unmap(category: str) -> None:
    """Take a feed category off its topic."""
    settings = settings_or_exit()
    run_sync(with_store(settings, lambda s: s.topics.unmap(fold(category.strip()))))
    typer.echo(t("cli_topic_unmapped", category=category.strip()))


@topics_app.command("list")
def topics_list(
    bot: Annotated[str | None, typer.Option(help="Bot username for invitation links")] = None,
) -> None:
    """Every topic, its categories and its invitation link."""
    settings = settings_or_exit()
    topics = run_sync(with_store(settings, lambda s: s.topics.all()))
    if not topics:
        typer.echo(t("cli_no_topics"))
        return
    name = bot or settings.bot_username or "<bot>"
    for topic in topics:
        link = invite_link(name, deep_link_code(topic=topic.id))
        cats = ", ".join(topic.categories) or "—"
        typer.echo(t("cli_topic_line", id=topic.id, name=topic.name, link=link, categories=cats))


def qr(
    out: Annotated[Path, typer.Option("--out", help="PNG file to write")],
    topic: Annotated[str | None, typer.Option(help="Topic id or name")] = None,
    source: Annotated[int | None, typer.Option(help="Feed id")] = None,
    bot: Annotated[str | None, typer.Option(help="Bot username (else BANTIN_BOT_USERNAME)")] = None,
    scale: Annotated[int, typer.Option(min=1, max=40, help="Pixels per module")] = 8,
) -> None:
    """Write a QR code of an invitation link that subscribes to a topic or a source."""
    import segno

    if (topic is None) == (source is None):
        err(t("cli_qr_usage"))
        raise typer.Exit(2)
    settings = settings_or_exit()
    name = bot or settings.bot_username
    if not name:
        err(t("cli_qr_no_username"))
        raise typer.Exit(2)

    async def code(store: Store) -> str:
        if topic is not None:
            return deep_link_code(topic=(await _topic(store, topic)).id)
        assert source is not None
        if await store.feeds.get(source) is None:
            err(t("cli_feed_missing", id=source))
            raise typer.Exit(1)
        return deep_link_code(feed=source)

    link = invite_link(name, run_sync(with_store(settings, code)))
    segno.make(link, error="m").save(str(out), kind="png", scale=scale, border=4)
    typer.echo(t("cli_qr_written", link=link, path=out))
