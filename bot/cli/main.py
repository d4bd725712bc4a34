"""The `bantin` command line (typer). Every command works on the configured database whether
the bot is running or not, and bad settings end with one line per problem and exit status 2.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import IO, Annotated, Any, TypeVar

import httpx
import typer

from bot.app.compose import build_app, run_app, stop_on_signals
from bot.cli.common import err, run_sync, settings_or_exit, with_store
from bot.cli.outbox import broadcasts, deliveries_app
from bot.cli.staff import audit, feedback_csv, parse_since, staff_app, write_feedback_xlsx
from bot.cli.subscribers import qr, topics_app
from jobs.enrich.page import extract_main_text, fetch_article_text
from jobs.enrich.summarize import summarize
from jobs.i18n import t
from jobs.ingest.fetch import make_client, redact_url
from jobs.ingest.opml import OpmlError, OpmlFeed, parse_opml, to_opml
from jobs.render import format_date
from jobs.route.announce import submit
from jobs.route.fanout import fan_out_articles
from storage.audit import CLI_ACTOR
from storage.db import safe_url
from storage.preferences import extra
from storage.records import Feed
from storage.store import Store

T = TypeVar("T")

app = typer.Typer(
    name="bantin",
    help="bantin — bản tin: feeds → Vietnamese summaries → Telegram subscribers.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
feeds_app = typer.Typer(help="Manage feeds.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
feedback_app = typer.Typer(help="Citizens' feedback.", no_args_is_help=True)
app.add_typer(feeds_app, name="feeds")
app.add_typer(db_app, name="db")
app.add_typer(feedback_app, name="feedback")
app.add_typer(deliveries_app, name="deliveries")
app.add_typer(staff_app, name="staff")
app.command("audit")(audit)
app.command("broadcasts")(broadcasts)
app.add_typer(topics_app, name="topics")
app.command("qr")(qr)

log = logging.getLogger("bantin.cli")


# -- run ---------------------------------------------------------------------------------------


@app.command()
def run() -> None:
    """Run the bot, the scheduler and the deliverer (console mode without a token)."""
    settings = settings_or_exit()
    raise typer.Exit(run_sync(run_app(settings)))


@app.command()
def serve() -> None:
    """Webhooks (Telegram, Zalo), /healthz and /metrics on BANTIN_LISTEN (scale-out)."""
    from bot.app.roles import run_serve

    raise typer.Exit(run_sync(run_serve(settings_or_exit())))


@app.command()
def scheduler() -> None:
    """Feeds, digests and timers; one is active, others stand by (scale-out, PostgreSQL)."""
    from bot.app.roles import run_scheduler

    raise typer.Exit(run_sync(run_scheduler(settings_or_exit())))


@app.command()
def worker() -> None:
    """Deliver the outbox; run as many as you like (scale-out, PostgreSQL)."""
    from bot.app.roles import run_worker

    raise typer.Exit(run_sync(run_worker(settings_or_exit())))


@app.command()
def healthcheck(
    url: Annotated[str, typer.Option(help="The /healthz to ask (default: this role's).")] = "",
    role: Annotated[str, typer.Option(help="run, serve, scheduler or worker.")] = "",
) -> None:
    """Ask a running process's /healthz (Docker HEALTHCHECK); exit 0 when healthy.

    Without --url: BANTIN_METRICS_PORT if set, else BANTIN_LISTEN for `serve`; `bantin run`
    without a metrics port serves no HTTP, and then the database itself is asked.
    """
    settings = settings_or_exit()
    if not url:
        if settings.metrics_port is not None:
            url = f"http://127.0.0.1:{settings.metrics_port}/healthz"
        elif role == "serve":
            url = f"http://127.0.0.1:{int(settings.listen.rpartition(':')[2])}/healthz"
    if not url:

        async def ping(store: Store) -> None:
            await store.ping()

        run_sync(with_store(settings, ping))  # an unreachable database exits 2 with the reason
        typer.echo("database ok")
        raise typer.Exit(0)
    try:
        response = httpx.get(url, timeout=5.0)
    except httpx.HTTPError as exc:
        err(f"{url}: {type(exc).__name__}")
        raise typer.Exit(1) from None
    typer.echo(response.text)
    raise typer.Exit(0 if response.status_code == 200 else 1)


# -- db ----------------------------------------------------------------------------------------


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every database migration (safe to run again)."""
    from storage.migrate import current_revision

    settings = settings_or_exit()

    async def work(store: Store) -> str | None:
        return await current_revision(store.engine)

    revision = run_sync(with_store(settings, work))
    typer.echo(t("cli_db_upgraded", url=safe_url(settings.database_url), revision=revision))


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
            await store.staff.audit.record(CLI_ACTOR, "feed.add", f"feed:{feed.id}", feed.shown_url)
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
            await store.staff.audit.record(CLI_ACTOR, "feed.remove", f"feed:{feed_id}")
        return removed

    if not run_sync(with_store(settings, work)):
        err(t("cli_feed_missing", id=feed_id))
        raise typer.Exit(1)
    typer.echo(t("cli_feed_removed", id=feed_id))


# -- poll / deliver ------------------------------------------------------------------------------


@app.command()
def poll(
    once: Annotated[bool, typer.Option("--once", help="Fetch every feed once and exit")] = True,
) -> None:
    """Fetch every feed once, store new articles, queue them for subscribers, exit."""
    settings = settings_or_exit()

    async def work(store: Store) -> int:
        the_app = await build_app(settings, store)
        try:
            feeds = await store.feeds.all()
            report = await the_app.poller.poll([f for f in feeds if f.enabled])
            queued = await fan_out_articles(store, now=the_app.clock())
        finally:
            await the_app.poller.aclose()  # its worker processes
            await the_app.client.aclose()
        names = {f.id: f.label for f in feeds}
        for outcome in report.feeds:
            name = names.get(outcome.feed_id, "?")
            if outcome.error:
                typer.echo(
                    t("cli_poll_feed_error", id=outcome.feed_id, name=name, error=outcome.error)
                )
            elif outcome.not_modified:
                typer.echo(t("cli_poll_feed_304", id=outcome.feed_id, name=name))
            else:
                typer.echo(t("cli_poll_feed_ok", id=outcome.feed_id, name=name, new=outcome.new))
        typer.echo(
            t(
                "cli_poll_done",
                feeds=len(report.feeds),
                new=report.new,
                errors=len(report.errors),
                queued=queued,
            )
        )
        return 1 if report.feeds and len(report.errors) == len(report.feeds) else 0

    raise typer.Exit(run_sync(with_store(settings, work)))


@app.command()
def deliver(
    until_idle: Annotated[
        bool, typer.Option("--until-idle", help="Send every due message, then exit")
    ] = True,
) -> None:
    """Send every due outbox row (to Telegram, or printed in console mode), then exit."""
    settings = settings_or_exit()

    async def work(store: Store) -> None:
        the_app = await build_app(settings, store)
        bot = the_app.bot
        try:
            if bot is not None:
                await bot.initialize()  # type: ignore[attr-defined]
            progress = asyncio.create_task(_progress(the_app.deliverer))
            try:
                stop = asyncio.Event()
                stop_on_signals(stop)
                await the_app.deliverer.run_until_idle(stop)
            finally:
                progress.cancel()
            counts = await store.deliveries.counts()
            err(
                t(
                    "cli_deliver_done",
                    sent=the_app.deliverer.sent,
                    counts=json.dumps(counts, sort_keys=True),
                )
            )
        finally:
            await the_app.client.aclose()
            if bot is not None:
                await bot.shutdown()  # type: ignore[attr-defined]

    run_sync(with_store(settings, work))


async def _progress(deliverer: Any) -> None:
    last = -1
    while True:
        await asyncio.sleep(2.0)
        if deliverer.sent != last:
            last = deliverer.sent
            err(t("cli_deliver_progress", handled=last, sent=last))


# -- broadcast ------------------------------------------------------------------------------------


@app.command()
def broadcast(
    text: str,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation")] = False,
    urgent: Annotated[
        bool, typer.Option("--urgent", help="Go through subscribers' quiet hours")
    ] = False,
) -> None:
    """Queue an announcement to every active subscriber."""
    if not text.strip():
        err(t("cli_broadcast_empty"))
        raise typer.Exit(2)
    settings = settings_or_exit()

    async def count(store: Store) -> int:
        return (await store.subscribers.counts())["active"]

    if not yes:
        recipients = run_sync(with_store(settings, count))
        typer.echo(text)
        if not sys.stdin.isatty() or not typer.confirm(
            t("cli_broadcast_confirm", count=recipients)
        ):
            err(t("cli_broadcast_aborted"))
            raise typer.Exit(1)

    async def work(store: Store) -> tuple[int, int]:
        from bot.app.compose import utcnow

        ann = await store.announcements.create(text.strip(), created_by="cli")
        if urgent:
            await extra(store).announcements.set_urgent(ann.id)
        done = await submit(store, ann.id, by="cli", now=utcnow())
        return ann.id, done.count

    ident, queued = run_sync(with_store(settings, work))
    typer.echo(t("cli_broadcast_queued", id=ident, count=queued))


# -- stats / feedback ---------------------------------------------------------------------


@app.command()
def stats(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
) -> None:
    """Feeds, articles, subscribers, deliveries by status, feedback."""
    settings = settings_or_exit()

    async def work(store: Store) -> dict[str, Any]:
        return {
            "feeds": await store.feeds.count(),
            "articles": await store.articles.count(),
            "subscribers": await store.subscribers.counts(),
            "deliveries": await store.deliveries.counts(),
            "feedback": await store.feedback.count(),
            "feedback_cards_refused": await store.feedback.dead_card_count(),
            "dead_updates": await store.dead_updates.count(),
        }

    data = run_sync(with_store(settings, work))
    if as_json:
        typer.echo(json.dumps(data, ensure_ascii=False, sort_keys=True))
    else:
        for key, value in data.items():
            typer.echo(f"{key}: {json.dumps(value, ensure_ascii=False)}")


@feedback_app.command("export")
def feedback_export(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to a file instead of stdout")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="csv or xlsx")] = "csv",
    since: Annotated[
        str | None, typer.Option(help="Only feedback from this day on (YYYY-MM-DD)")
    ] = None,
) -> None:
    """Feedback items: ticket, time, chat, article, status, text. CSV is UTF-8 with a BOM (to
    stdout unless --output); XLSX needs --output."""
    fmt = fmt.lower()
    if fmt not in ("csv", "xlsx"):
        err(t("cli_export_bad_format", format=fmt))
        raise typer.Exit(2)
    if fmt == "xlsx" and output is None:
        err(t("cli_export_xlsx_needs_file"))
        raise typer.Exit(2)
    start = parse_since(since)
    settings = settings_or_exit()

    async def work(store: Store) -> list[Any]:
        return await store.feedback.export_rows(since=start)

    rows = run_sync(with_store(settings, work))
    if fmt == "xlsx":
        assert output is not None
        write_feedback_xlsx(rows, output)
        err(t("cli_export_done", count=len(rows), path=output))
        return
    data = feedback_csv(rows)
    if output is None:
        sys.stdout.write(data)
        sys.stdout.flush()
    else:
        output.write_text(data, encoding="utf-8")
        err(t("cli_export_done", count=len(rows), path=output))


# -- summarize (JSON Lines on stdin) -------------------------------------------------------------

SUMMARIZE_WINDOW = 8  # url items fetched at once; output stays in input order
PROGRESS_EVERY = 2.0  # seconds between progress lines on stderr
MAX_CHARS_RANGE = (20, 10_000)


class _Progress:
    """Progress on stderr every PROGRESS_EVERY seconds; silent for inputs done before that."""

    def __init__(self, line_key: str) -> None:
        self.started = time.monotonic()
        self.last = self.started
        self.count = 0
        self.errors = 0
        self.shown = False
        self._key = line_key

    def tick(self, error: bool = False) -> None:
        self.count += 1
        self.errors += error
        now = time.monotonic()
        if now - self.last >= PROGRESS_EVERY:
            self.last = now
            self.shown = True
            rate = self.count / max(now - self.started, 1e-9)
            err(t(self._key, count=self.count, rate=rate, errors=self.errors))


@app.command("summarize")
def summarize_cmd(
    max_chars: Annotated[
        int | None,
        typer.Option("--max-chars", help="Longest summary (default: BANTIN_SUMMARY_CHARS, 400)"),
    ] = None,
) -> None:
    """Summarize JSON Lines from stdin and write them back to stdout with "summary" added.

    Each line is an object with "title" and "body" (plain text, one paragraph or sentence per
    line), or "html" (the main text is extracted), or "url" (the page is fetched from that host
    only, then extracted); "sapo" is optional. A line that cannot be summarized gets an "error"
    field instead. Output keeps the input order; no database is needed.
    """
    settings = settings_or_exit()
    limit = settings.summary_chars if max_chars is None else max_chars
    low, high = MAX_CHARS_RANGE
    if not low <= limit <= high:
        err(t("cli_summarize_max_chars", low=low, high=high))
        raise typer.Exit(2)
    progress = _Progress("cli_summarize_progress")
    asyncio.run(_summarize_stream(sys.stdin.buffer, limit, progress))
    if progress.shown:
        seconds = time.monotonic() - progress.started
        err(t("cli_summarize_done", count=progress.count, errors=progress.errors, seconds=seconds))


def _write_line(data: dict[str, Any]) -> None:
    line = json.dumps(data, ensure_ascii=False) + "\n"
    out = getattr(sys.stdout, "buffer", None)
    if out is not None:
        out.write(line.encode("utf-8"))
    else:
        sys.stdout.write(line)


async def _summarize_stream(stdin: IO[bytes], max_chars: int, progress: _Progress) -> None:
    """Read, summarize and write line by line; url items are fetched a few at a time.

    Items are finished in input order: plain ones at once, url ones as asyncio tasks kept in a
    window of SUMMARIZE_WINDOW, and a finished head of the queue is written as soon as it is done.
    While fetches are in flight, stdin is read in a thread so they keep going.
    """
    pending: deque[asyncio.Future[dict[str, Any]]] = deque()
    client: httpx.AsyncClient | None = None
    interactive = sys.stdin.isatty()

    def flush() -> None:
        while pending and pending[0].done():
            result = pending.popleft().result()
            _write_line(result)
            progress.tick(error="error" in result)
        if interactive:
            sys.stdout.flush()

    try:
        lineno = 0
        while True:
            if pending:
                raw = await asyncio.to_thread(stdin.readline)
            else:
                raw = stdin.readline()
            if not raw:
                break
            lineno += 1
            item = _parse_item(raw, lineno)
            if item is None:
                continue
            text = "" if "error" in item else _text_field(item)
            url = item.get("url")
            if not text and "error" not in item and isinstance(url, str) and url.strip():
                if client is None:
                    client = make_client()
                pending.append(
                    asyncio.ensure_future(_summarize_url(client, item, url.strip(), max_chars))
                )
            else:
                ready = asyncio.get_running_loop().create_future()
                ready.set_result(_guarded(_summarize_item, item, max_chars, text))
                pending.append(ready)
            if len(pending) >= SUMMARIZE_WINDOW:
                await asyncio.wait([pending[0]])
            flush()
        while pending:
            await asyncio.wait([pending[0]])
            flush()
    finally:
        for task in pending:
            task.cancel()
        if client is not None:
            await client.aclose()
        sys.stdout.flush()


def _parse_item(raw: bytes, lineno: int) -> dict[str, Any] | None:
    """One input line as an object, or {"line": n, "error": why}; None for a blank line."""
    text = raw.decode("utf-8", "replace").lstrip("\ufeff").strip()
    if not text:
        return None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return {"line": lineno, "error": t("cli_summarize_bad_json", line=lineno, error=exc.msg)}
    if not isinstance(data, dict):
        return {"line": lineno, "error": t("cli_summarize_not_object", line=lineno)}
    return data


def _text_field(item: dict[str, Any]) -> str:
    """The plain body (a string, or a list of paragraphs), else the main text of "html"."""
    body = item.get("body")
    if isinstance(body, list):
        body = "\n".join(str(p) for p in body if p)
    if isinstance(body, str) and body.strip():
        return body
    html = item.get("html")
    if isinstance(html, str) and html.strip():
        base = item.get("url")
        text = extract_main_text(html, base if isinstance(base, str) else "")
        return text or " "  # " ": html given but nothing in it
    return ""


def _guarded(
    fn: Callable[[dict[str, Any], int, str], dict[str, Any]],
    item: dict[str, Any],
    max_chars: int,
    text: str,
) -> dict[str, Any]:
    """One odd item must not end a long run: its error goes into its own output line."""
    try:
        return fn(item, max_chars, text)
    except Exception as exc:
        log.exception("summarize failed")
        return {**item, "error": t("cli_fatal", error=type(exc).__name__)}


def _summarize_item(item: dict[str, Any], max_chars: int, text: str) -> dict[str, Any]:
    """``item`` with "summary" added, or with "error" when ``text`` holds nothing."""
    if "error" in item:
        return item
    if not text.strip():
        error = "cli_summarize_no_main_text" if text else "cli_summarize_no_text"
        return {**item, "error": t(error)}
    title = item.get("title") if isinstance(item.get("title"), str) else ""
    sapo = item.get("sapo") if isinstance(item.get("sapo"), str) else None
    return {**item, "summary": summarize(title or "", text, sapo=sapo, max_chars=max_chars)}


async def _summarize_url(
    client: httpx.AsyncClient, item: dict[str, Any], url: str, max_chars: int
) -> dict[str, Any]:
    """Fetch with the URL's own host as the "feed" host: nothing else is trusted."""
    text = await fetch_article_text(client, url, feed_url=url)
    if not text:
        return {**item, "error": t("cli_summarize_fetch_failed", url=redact_url(url))}
    return await asyncio.to_thread(_guarded, _summarize_item, item, max_chars, text)


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
            await store.staff.audit.record(CLI_ACTOR, "feed.import", str(file)[:100], f"{added}")
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


def main() -> None:
    app()
