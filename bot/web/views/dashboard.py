"""Tổng quan: subscribers by platform and over time, deliveries per day by status, cases
opened / answered / on time by unit (this month, storage/case_reports.py's figures), feeds
failing now. Each chart is drawn from a JSON block (uPlot, shipped in static/) and its numbers
sit in a table right under it, one click away (and readable without JavaScript)."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

from aiohttp import web

from bot.web.app import console, render
from jobs.render.markup import VIETNAM
from storage.kinds import AnnouncementStatus

DAYS = 30


def series(rows: list[tuple[str, str, int]], first: date, last: date) -> dict[str, object]:
    """(day, key, n) rows → {"days": [every day first..last], "series": {key: [n per day]}},
    0 where a day has no row (a chart and its table show quiet days too)."""
    days = [(first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]
    if not rows:
        return {"days": days, "series": {}}
    by_key: dict[str, dict[str, int]] = defaultdict(dict)
    for d, k, n in rows:
        by_key[k][d] = n
    return {
        "days": days,
        "series": {k: [v.get(d, 0) for d in days] for k, v in sorted(by_key.items())},
    }


def _summed(rows: list[tuple[str, str, int]]) -> list[tuple[str, str, int]]:
    """Rows with the same day and key added up (two units may share a display name)."""
    sums: dict[tuple[str, str], int] = defaultdict(int)
    for d, k, n in rows:
        sums[(d, k)] += n
    return [(d, k, n) for (d, k), n in sums.items()]


def running_totals(new: dict[str, object], start: dict[str, int]) -> dict[str, object]:
    """A per-day series of arrivals → the total each day, starting from `start` per key."""
    days: list[str] = new["days"]  # type: ignore[assignment]
    arrivals: dict[str, list[int]] = new["series"]  # type: ignore[assignment]
    totals: dict[str, list[int]] = {}
    for key in sorted(set(arrivals) | set(start)):
        total, line = start.get(key, 0), []
        for n in arrivals.get(key, [0] * len(days)):
            total += n
            line.append(total)
        totals[key] = line
    return {"days": days, "series": totals}


async def page(request: web.Request) -> web.Response:
    c = console(request)
    store = c.app.store
    now = c.now()
    since = now - timedelta(days=DAYS)
    arrivals = series(await store.web.new_subscribers_by_day(since), since.date(), now.date())
    subs = running_totals(arrivals, await store.web.active_before(since))
    sends = series(await store.web.deliveries_by_day(since), since.date(), now.date())
    counts = await store.web.subscriber_counts()
    running = [
        a
        for a in await store.announcements.recent(20)
        if a.status in (AnnouncementStatus.QUEUED, AnnouncementStatus.SCHEDULED)
        and a.finished_at is None
    ]
    units = {u.id: u.name for u in await store.units.all()}
    opened = [
        (d, units.get(u, f"#{u}") if u else "—", n)
        for d, u, n in await store.case_queue.opened_by_day(since)
    ]
    month = now.astimezone(VIETNAM).strftime("%Y-%m")
    report = await store.case_reports.month(month)
    return render(
        request,
        "dashboard.html",
        cases=series(_summed(opened), since.date(), now.date()),
        month=month,
        case_lines=report.units,
        case_total=report.total,
        counts=sorted(counts.items()),
        active=sum(n for (_, a), n in counts.items() if a),
        subs=subs,
        sends=sends,
        failing=await store.web.failing_feeds(),
        topics=await store.web.topic_counts(),
        running=running,
        outbox=await store.deliveries.counts(),
        feeds=await store.feeds.count(),
    )


def add_routes(sub: web.Application) -> None:
    sub.router.add_get("/", page)
