"""`bantin feeds ...`: add, list and remove feeds, and move them in and out as OPML (the
format feed readers and portals exchange)."""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from bot.cli.common import PROGRESS_EVERY, err, run_sync, settings_or_exit, with_store
from jobs.i18n import t
from jobs.ingest.opml import OpmlError, OpmlFeed, parse_opml, to_opml
from jobs.render.markup import format_date
from storage.audit import CLI_ACTOR
from storage.records import Feed
from storage.store import Store

feeds_app = typer.Typer(help="Manage feeds.", no_args_is_help=True)


# -- feeds -------------------------------------------------------------------------------------


@feeds_app.command("add")
def feeds_add(
    url: str,
    name: Annotated[str | None, typer.Option(help="Display name")] = None,
    category: Annotated[str | None, typer.Option(help="Category")] = None,
) -> None:
    """Add a feed by URL (http, https or file)."""
    if not url.startswith(("http://", "https://", "file://")):
        err(t("cli_feed_bad_url", url=url))
        raise typer.Exit(2)
    settings = settings_or_exit()

    async def work(store: Store) -> tuple[Feed, bool]:
        feed, created = await store.feeds.add(url, name=name, category=category)
        if created:
            await store.audit.record(CLI_ACTOR, "feed.add", f"feed:{feed.id}", feed.shown_url)
        return feed, created

    feed, created = run_sync(with_store(settings, work))
    shown = feed.shown_url  # user:password@ stays with the fetcher
    typer.echo(t("cli_feed_added" if created else "cli_feed_exists", id=feed.id, url=shown))


def _status(feed: Feed) -> str:
    if not feed.enabled:
        return t("cli_status_disabled")
    if feed.consecutive_errors:
        return t("cli_status_failing", n=feed.consecutive_errors)
    if feed.last_success_at is None:
        return t("cli_status_new")
    return t("cli_status_ok")


@feeds_app.command("list")
def feeds_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """List feeds with status, last success, last error, next poll and article count."""
    settings = settings_or_exit()

    async def work(store: Store) -> list[Feed]:
        return await store.feeds.all()

    feeds = run_sync(with_store(settings, work))
    if as_json:
        typer.echo(json.dumps([_feed_json(f) for f in feeds], ensure_ascii=False, indent=2))
        return
    if not feeds:
        typer.echo(t("cli_no_feeds"))
        return
    typer.echo(t("cli_feeds_header"))
    for f in feeds:
        typer.echo(
            f"{f.id:<3} {_status(f):<10} {f.article_count:>4}  "
            f"{format_date(f.last_success_at) or '—':<16}  {format_date(f.next_poll_at) or '—':<16}"
            f"  {f.label}"
        )
        if f.last_error:
            typer.echo(t("cli_last_error", error=f.last_error))


def _feed_json(f: Feed) -> dict[str, Any]:
    def iso(d: datetime | None) -> str | None:
        return d.isoformat() if d else None

    return {
        "id": f.id,
        "url": f.shown_url,
        "name": f.name,
        "category": f.category,
        "status": _status(f),
        "articles": f.article_count,
        "last_success": iso(f.last_success_at),
        "last_error": f.last_error,
        "consecutive_errors": f.consecutive_errors,
        "next_poll": iso(f.next_poll_at),
    }


@feeds_app.command("remove")
def feeds_remove(feed_id: int) -> None:
    """Remove a feed and its articles."""
    settings = settings_or_exit()

    async def work(store: Store) -> bool:
        removed = await store.feeds.remove(feed_id)
        if removed:
            await store.audit.record(CLI_ACTOR, "feed.remove", f"feed:{feed_id}")
        return removed

    if not run_sync(with_store(settings, work)):
        err(t("cli_feed_missing", id=feed_id))
        raise typer.Exit(1)
    typer.echo(t("cli_feed_removed", id=feed_id))


# -- OPML ------------------------------------------------------------------------------------------

MAX_OPML_BYTES = 50_000_000


@feeds_app.command("import-opml")
def feeds_import_opml(
    file: Annotated[Path, typer.Argument(help="OPML file (from a feed reader or export-opml)")],
) -> None:
    """Add every feed of an OPML file; folders become categories, known URLs are skipped."""
    try:
        with file.open("rb") as f:
            data = f.read(MAX_OPML_BYTES + 1)
    except OSError as exc:
        err(t("cli_opml_unreadable", path=file, error=exc.strerror or type(exc).__name__))
        raise typer.Exit(2) from None
    try:
        if len(data) > MAX_OPML_BYTES:
            raise OpmlError(f"larger than {MAX_OPML_BYTES // 1_000_000} MB")
        found = parse_opml(data)
    except OpmlError as exc:
        err(t("cli_opml_invalid", path=file, error=exc))
        raise typer.Exit(2) from None
    settings = settings_or_exit()

    async def work(store: Store) -> tuple[int, int]:
        known = {f.url for f in await store.feeds.all()}
        added = skipped = 0
        last = time.monotonic()
        for done, feed in enumerate(found.feeds, 1):
            if feed.url in known:
                skipped += 1
            else:
                _, created = await store.feeds.add(feed.url, name=feed.name, category=feed.category)
                added += created
                skipped += not created
            if time.monotonic() - last >= PROGRESS_EVERY:
                last = time.monotonic()
                err(t("cli_opml_progress", done=done, total=len(found.feeds)))
        if added:
            await store.audit.record(CLI_ACTOR, "feed.import", str(file)[:100], f"{added}")
        return added, skipped

    added, skipped = run_sync(with_store(settings, work))
    typer.echo(t("cli_opml_imported", added=added, skipped=skipped, invalid=len(found.invalid)))


@feeds_app.command("export-opml")
def feeds_export_opml(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to a file instead of stdout")
    ] = None,
    with_credentials: Annotated[
        bool,
        typer.Option(
            "--with-credentials",
            help="Keep user:password@ in feed addresses (a backup for this operator only)",
        ),
    ] = False,
) -> None:
    """Every feed as OPML 2.0 (UTF-8), categories as folders, names kept. Addresses lose
    their user:password@ unless --with-credentials."""
    from bot.app.compose import utcnow

    settings = settings_or_exit()

    async def work(store: Store) -> list[Feed]:
        return await store.feeds.all()

    feeds = run_sync(with_store(settings, work))
    data = to_opml(
        [OpmlFeed(f.url, f.name, f.category) for f in feeds],
        now=utcnow(),
        keep_credentials=with_credentials,
    )
    if output is None:
        out = getattr(sys.stdout, "buffer", None)
        if out is not None:
            out.write(data)
        else:
            sys.stdout.write(data.decode("utf-8"))
        sys.stdout.flush()
    else:
        output.write_bytes(data)
        err(t("cli_opml_exported", count=len(feeds), path=output))
