"""`bantin deliveries …` and `bantin broadcasts`: the outbox as operators see it.

Dead letters (rows whose retries ran out or that a platform refused) are listed with their
last error and can be re-queued; broadcasts show queued / sent / failed / blocked, rate, ETA.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from bot.cli.common import err, run_sync, settings_or_exit, with_store
from jobs.i18n import DEFAULT_LANGUAGE, t
from jobs.render.cards import progress_params
from jobs.render.markup import format_date
from jobs.send.pacing import Shortfall
from jobs.staff.progress import Progress, broadcast_progress
from storage.kinds import DeliveryStatus
from storage.records import Announcement, Delivery
from storage.store import Store

NOTICE_EVERY = 30.0  # seconds between two notices while the rate stays out of reach


class ShortfallNotice:
    """`bantin deliver`'s line when the configured rate cannot be reached and why (the round
    trip times the rate needs more sends in flight than BANTIN_SEND_CONCURRENCY): once when it
    appears, then at most every NOTICE_EVERY seconds while it lasts."""

    def __init__(self) -> None:
        self._last: float | None = None

    def line(self, shortfall: Shortfall | None, now: float) -> str | None:
        if shortfall is None:
            self._last = None
            return None
        if self._last is not None and now - self._last < NOTICE_EVERY:
            return None
        self._last = now
        return t(
            "send_tuning_shortfall",
            rate=f"{shortfall.rate:g}",
            round_trip_ms=round(shortfall.round_trip * 1000),
            needed=shortfall.needed,
            bound=shortfall.bound,
            reachable=round(shortfall.reachable),
        )


deliveries_app = typer.Typer(help="The outbox: dead letters and retries.", no_args_is_help=True)


@deliveries_app.command("failed")
def deliveries_failed(
    limit: Annotated[int, typer.Option(help="At most this many rows")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """List dead letters: rows that will not be retried, with their last error."""
    settings = settings_or_exit()

    async def work(store: Store) -> list[Delivery]:
        return await store.deliveries.all(status=DeliveryStatus.DEAD, limit=limit)

    rows = run_sync(with_store(settings, work))
    if as_json:
        typer.echo(json.dumps([_delivery_json(r) for r in rows], ensure_ascii=False, indent=2))
        return
    if not rows:
        typer.echo(t("cli_no_dead_letters"))
        return
    typer.echo(t("cli_dead_header"))
    for r in rows:
        typer.echo(
            f"{r.id:<8} {r.kind:<13} {r.item_id:<6} {r.subscriber_id:<8} {r.attempts:<3} "
            f"{r.last_error or ''}"
        )


def _delivery_json(r: Delivery) -> dict[str, Any]:
    return {
        "id": r.id,
        "kind": r.kind,
        "item": r.item_id,
        "subscriber": r.subscriber_id,
        "attempts": r.attempts,
        "last_error": r.last_error,
        "created_at": r.created_at.isoformat(),
    }


@deliveries_app.command("retry")
def deliveries_retry(
    delivery_id: Annotated[int | None, typer.Argument(help="Dead letter to re-queue")] = None,
    all_rows: Annotated[bool, typer.Option("--all", help="Re-queue every dead letter")] = False,
) -> None:
    """Re-queue one dead letter by id, or all of them with --all."""
    if (delivery_id is None) == (not all_rows):
        err(t("cli_retry_usage"))
        raise typer.Exit(2)
    settings = settings_or_exit()

    async def work(store: Store) -> int:
        return await store.deliveries.retry_dead(delivery_id, now=datetime.now(UTC))

    count = run_sync(with_store(settings, work))
    if delivery_id is not None and count == 0:
        err(t("cli_retry_missing", id=delivery_id))
        raise typer.Exit(1)
    typer.echo(t("cli_retry_done", count=count))


def broadcasts(
    limit: Annotated[int, typer.Option(help="How many recent broadcasts")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Recent broadcasts with queued / sent / failed / blocked counts, rate and ETA."""
    settings = settings_or_exit()

    async def work(store: Store) -> list[tuple[Announcement, Progress]]:
        now = datetime.now(UTC)
        out = []
        for ann in await store.announcements.recent(limit):
            out.append((ann, await broadcast_progress(store, ann.id, now)))
        return out

    rows = run_sync(with_store(settings, work))
    if as_json:
        typer.echo(
            json.dumps([_broadcast_json(a, p) for a, p in rows], ensure_ascii=False, indent=2)
        )
        return
    if not rows:
        typer.echo(t("cli_no_broadcasts"))
        return
    for ann, p in rows:
        when = format_date(ann.queued_at or ann.created_at)
        text = ann.text[:60].replace("\n", " ")
        typer.echo(
            t(
                "cli_broadcast_line",
                id=ann.id,
                status=ann.status,
                when=when,
                text=text,
                **progress_params(p, DEFAULT_LANGUAGE),
            )
        )


def _broadcast_json(ann: Announcement, p: Progress) -> dict[str, Any]:
    return {
        "id": ann.id,
        "status": ann.status,
        "text": ann.text,
        "created_by": ann.created_by,
        "queued_at": ann.queued_at.isoformat() if ann.queued_at else None,
        "finished_at": ann.finished_at.isoformat() if ann.finished_at else None,
        "queued": p.queued,
        "sent": p.sent,
        "failed": p.failed,
        "blocked": p.blocked,
        "cancelled": p.cancelled,
        "remaining": p.remaining,
        "rate": round(p.rate, 2),
        "eta_seconds": None if p.eta_seconds is None else round(p.eta_seconds, 1),
    }
