"""The `bantin` command line (typer). Every command works on the configured database whether
the bot is running or not, and bad settings end with one line per problem and exit status 2.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from bot.app.compose import App
from bot.cli.cases import register as register_cases
from bot.cli.common import err, run_sync, settings_or_exit, with_app, with_store
from bot.cli.feeds import feeds_app
from bot.cli.outbox import ShortfallNotice, broadcasts, deliveries_app
from bot.cli.staff import audit, feedback_csv, parse_since, staff_app, write_feedback_xlsx
from bot.cli.subscribers import qr, topics_app
from bot.cli.summarize import summarize_cmd
from bot.cli.web import web_login
from jobs.i18n import t
from jobs.route.announce import submit
from jobs.route.fanout import fan_out_articles
from storage.db import safe_url
from storage.store import Store

app = typer.Typer(
    name="bantin",
    help="bantin — bản tin: feeds → Vietnamese summaries → Telegram subscribers.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
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
app.command("web-login")(web_login)
register_cases(app)  # units, categories, canned, cases (bot/cli/cases.py)


# -- run ---------------------------------------------------------------------------------------


@app.command()
def run() -> None:
    """Run the bot, the scheduler and the deliverer (console mode without a token)."""
    from bot.app.roles import run_app

    raise typer.Exit(run_sync(run_app(settings_or_exit())))


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


# -- poll / deliver ------------------------------------------------------------------------------


@app.command()
def poll(
    once: Annotated[bool, typer.Option("--once", help="Fetch every feed once and exit")] = True,
) -> None:
    """Fetch every feed once, store new articles, queue them for subscribers, exit."""
    settings = settings_or_exit()

    async def work(the_app: App) -> int:
        store = the_app.store
        feeds = await store.feeds.all()
        report = await the_app.poller.poll([f for f in feeds if f.enabled])
        queued = await fan_out_articles(store, now=the_app.clock())
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

    raise typer.Exit(run_sync(with_app(settings, work)))


@app.command()
def deliver(
    until_idle: Annotated[
        bool, typer.Option("--until-idle", help="Send every due message, then exit")
    ] = True,
) -> None:
    """Send every due outbox row (to Telegram, or printed in console mode), then exit."""
    settings = settings_or_exit()

    async def work(the_app: App) -> None:
        from bot.app.runner import reaching_telegram, stop_on_signals

        deliverer = the_app.deliverer  # and the channels it sends on; nothing else
        bot = the_app.bot
        if bot is not None:
            async with reaching_telegram(settings):
                await bot.initialize()  # type: ignore[attr-defined]
        progress = asyncio.create_task(_progress(deliverer))
        try:
            stop = asyncio.Event()
            stop_on_signals(stop)
            await deliverer.run_until_idle(stop)
        finally:
            progress.cancel()
        counts = await the_app.store.deliveries.counts()
        err(
            t(
                "cli_deliver_done",
                sent=deliverer.sent,
                counts=json.dumps(counts, sort_keys=True),
            )
        )

    run_sync(with_app(settings, work))


async def _progress(deliverer: Any) -> None:
    last = -1
    notice = ShortfallNotice()  # the rate out of reach, and why (bot/cli/outbox.py)
    while True:
        await asyncio.sleep(2.0)
        if deliverer.sent != last:
            last = deliverer.sent
            err(t("cli_deliver_progress", handled=last, sent=last))
        if line := notice.line(deliverer.shortfall, asyncio.get_running_loop().time()):
            err(line)


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
            await store.announcements.set_urgent(ann.id)
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


app.command("summarize")(summarize_cmd)  # bot/cli/summarize.py


def main() -> None:
    app()
