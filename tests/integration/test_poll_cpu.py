"""jobs.enrich.workers's ParseQueue: feeds grouped into worker jobs, and a slow feed failing
alone."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from bench.sample_feeds import make_feed
from jobs.enrich.summarize import summarize
from jobs.enrich.workers import (
    CpuDeadline,
    CpuPool,
    ParseQueue,
    PreparedFeed,
    parse_job,
    summary_source,
)
from jobs.ingest.decide import normalize_link
from jobs.ingest.parse import parse_feed

# Broken XML sends feedparser into its slow loose parser (~1 s per 250 KB).
BROKEN = (
    b'<?xml version="1.0"?><rss version="2.0"><channel><title>x</title>'
    + b"<item><title>a & b <i>c</title><description><p>x<br></description></item>" * 12000
)


async def test_feeds_queued_behind_busy_workers_share_jobs_and_all_parse() -> None:
    cpu = CpuPool(1, deadline=20)
    queue = ParseQueue(cpu, 1, max_group=4)
    jobs = 0
    real_run = cpu.run

    async def counting_run(fn, *args):  # type: ignore[no-untyped-def]
        nonlocal jobs
        jobs += 1
        return await real_run(fn, *args)

    cpu.run = counting_run  # type: ignore[method-assign]
    try:
        results = await asyncio.gather(
            *(queue.parse(make_feed(i), f"http://a.vn/{i}.xml", {}) for i in range(9))
        )
    finally:
        await cpu.aclose()
    parsed = [r for r in results if isinstance(r, PreparedFeed)]
    assert [(r.feed.title, len(r.feed.entries)) for r in parsed] == [
        (f"Cổng TTĐT số {i}", 20) for i in range(9)
    ]
    assert jobs <= 4  # 1 alone, then the 8 that queued meanwhile in groups of 4


async def test_a_slow_feed_in_a_group_fails_alone() -> None:
    cpu = CpuPool(1, deadline=0.5)
    queue = ParseQueue(cpu, 1, max_group=4)
    try:
        first = asyncio.ensure_future(queue.parse(make_feed(0), "http://a.vn/0.xml", {}))
        await asyncio.sleep(0)  # the first goes alone; the next three queue up as a group
        group = [
            queue.parse(make_feed(1), "http://a.vn/1.xml", {}),
            queue.parse(BROKEN, "http://a.vn/slow.xml", {}),
            queue.parse(make_feed(2), "http://a.vn/2.xml", {}),
        ]
        results = await asyncio.gather(first, *group, return_exceptions=True)
    finally:
        await cpu.aclose()
    good, one, slow, two = results
    assert isinstance(good, PreparedFeed) and isinstance(one, PreparedFeed)
    assert isinstance(two, PreparedFeed)
    assert isinstance(slow, CpuDeadline) and "longer than 0.5 s" in str(slow)


@pytest.mark.parametrize("workers", [0])
async def test_thread_mode_parses_too(workers: int) -> None:
    cpu = CpuPool(workers, deadline=20)
    queue = ParseQueue(cpu, workers)
    try:
        result = await queue.parse(make_feed(3), "http://a.vn/3.xml", {})
    finally:
        await cpu.aclose()
    assert isinstance(result, PreparedFeed) and len(result.texts) == 20


@pytest.mark.parametrize("backlog_keep", [None, 1])
def test_parse_job_keeps_every_field_of_the_parsed_entries(backlog_keep: int | None) -> None:
    body = make_feed(5)
    parsed = parse_feed(body, url="http://a.vn/5.xml")
    prepared = parse_job(body, "http://a.vn/5.xml", {}, backlog_keep)
    assert isinstance(prepared, PreparedFeed)
    with_text = set(prepared.texts)
    assert len(with_text) == (20 if backlog_keep is None else 1)
    expected = tuple(
        replace(e, link=normalize_link(e.link))
        if e.guid not in with_text
        else replace(e, link=normalize_link(e.link), summary_html="", content_html="")
        for e in parsed.entries
    )
    assert prepared.feed == replace(parsed, entries=expected)


def test_first_poll_jobs_summarize_the_entries_to_push_from_their_own_text() -> None:
    body = make_feed(6)
    prepared = parse_job(body, "http://a.vn/6.xml", {}, 1, 300)
    assert isinstance(prepared, PreparedFeed)
    (guid,) = prepared.summaries
    assert set(prepared.texts) == {guid}
    title = next(e.title for e in prepared.feed.entries if e.guid == guid)
    content, teaser = prepared.texts[guid]
    source, sapo = summary_source(content, teaser)
    assert prepared.summaries[guid] == summarize(title, source, sapo=sapo, max_chars=300)
    later = parse_job(body, "http://a.vn/6.xml", {}, None, None)  # a later poll: no guessing
    assert isinstance(later, PreparedFeed) and not later.summaries
