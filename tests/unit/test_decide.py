"""The poller's pure decisions, table-driven."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from jobs.ingest.decide import (
    MAX_BACKOFF,
    PollBounds,
    backlog_flags,
    cache_max_age,
    interleave_by_host,
    next_poll_after_failure,
    next_poll_after_success,
    normalize_link,
    retry_after,
    select_new,
    server_asked_to_wait,
)
from jobs.ingest.parse import ParsedEntry

NOW = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)


def entry(guid: str, link: str | None = None, published: datetime | None = None) -> ParsedEntry:
    return ParsedEntry(
        guid=guid,
        link=link,
        title=f"t-{guid}",
        summary_html="",
        content_html="",
        published=published,
        categories=(),
        image_url=None,
        author=None,
    )


@pytest.mark.parametrize(
    ("link", "expected"),
    [
        (None, None),
        ("", None),
        ("HTTPS://Portal.GOV.vn/a?utm_source=x&id=3#top", "https://portal.gov.vn/a?id=3"),
        ("https://p.vn", "https://p.vn/"),
        ("https://p.vn/a?fbclid=1", "https://p.vn/a"),
        ("not a url", "not a url"),
    ],
)
def test_normalize_link(link: str | None, expected: str | None) -> None:
    assert normalize_link(link) == expected


@pytest.mark.parametrize(
    ("entries", "known_guids", "known_links", "expected"),
    [
        ([entry("a"), entry("b")], set(), set(), ["a", "b"]),
        ([entry("a"), entry("b")], {"a"}, set(), ["b"]),
        # a regenerated GUID for a link already stored is not new
        ([entry("new-guid", "https://p.vn/1")], {"old-guid"}, {"https://p.vn/1"}, []),
        # duplicate GUIDs inside one feed: the first wins
        ([entry("a", "https://p.vn/1"), entry("a", "https://p.vn/2")], set(), set(), ["a"]),
        # the same link twice in one feed under two GUIDs
        ([entry("a", "https://p.vn/1"), entry("b", "https://p.vn/1#x")], set(), set(), ["a"]),
        # entries without links are told apart by GUID only
        ([entry("a"), entry("b")], set(), {"https://p.vn/1"}, ["a", "b"]),
    ],
)
def test_select_new(
    entries: list[ParsedEntry], known_guids: set[str], known_links: set[str], expected: list[str]
) -> None:
    assert [e.guid for e in select_new(entries, known_guids, known_links)] == expected


def test_first_poll_keeps_only_the_newest() -> None:
    items = [
        entry("old", published=NOW - timedelta(days=3)),
        entry("newest", published=NOW),
        entry("mid", published=NOW - timedelta(days=1)),
    ]
    assert backlog_flags(items, first_poll=True, keep=1) == [True, False, True]
    assert backlog_flags(items, first_poll=True, keep=2) == [True, False, False]
    assert backlog_flags(items, first_poll=True, keep=0) == [True, True, True]
    assert backlog_flags(items, first_poll=False, keep=1) == [False, False, False]


def test_first_poll_without_dates_keeps_the_first_listed() -> None:
    items = [entry("top"), entry("second"), entry("third")]
    assert backlog_flags(items, first_poll=True, keep=1) == [False, True, True]


def test_next_poll_after_success_jitters_and_respects_ttl() -> None:
    rnd = random.Random(1)
    for _ in range(50):
        due = next_poll_after_success(NOW, 300, rnd=rnd)
        assert timedelta(seconds=270) <= due - NOW <= timedelta(seconds=330)
    long_ttl = next_poll_after_success(NOW, 300, ttl_minutes=60, rnd=random.Random(2))
    assert timedelta(minutes=54) <= long_ttl - NOW <= timedelta(minutes=66)
    capped = next_poll_after_success(NOW, 300, ttl_minutes=3 * 24 * 60, rnd=random.Random(3))
    assert capped - NOW == timedelta(days=1)  # the operator's maximum wins


class NoJitter(random.Random):
    def uniform(self, a: float, b: float) -> float:
        return 1.0


BOUNDS = PollBounds(min_interval=60, max_interval=3600)


@pytest.mark.parametrize(
    ("interval", "hints", "expected"),
    [
        (300, {}, 300),
        (300, {"ttl_minutes": 10}, 600),  # <ttl> lengthens
        (300, {"ttl_minutes": 1}, 300),  # ... never shortens
        (300, {"max_age": 900}, 900),  # Cache-Control max-age lengthens
        (300, {"max_age": 0}, 300),
        (300, {"retry_after": 1200}, 1200),  # Retry-After on a 200/304 is a floor
        (300, {"ttl_minutes": 120}, 3600),  # clamped to the maximum
        (300, {"max_age": 999_999}, 3600),
        (10, {}, 60),  # and to the minimum
        (300, {"ttl_minutes": 10, "max_age": 1500, "retry_after": 700}, 1500),
    ],
)
def test_success_honours_server_hints_within_bounds(
    interval: int, hints: dict[str, float], expected: int
) -> None:
    due = next_poll_after_success(NOW, interval, bounds=BOUNDS, rnd=NoJitter(), **hints)
    assert due - NOW == timedelta(seconds=expected)


def test_retry_after_is_a_floor_the_jitter_cannot_undercut() -> None:
    rnd = random.Random(4)
    for _ in range(50):
        due = next_poll_after_success(NOW, 300, retry_after=310, rnd=rnd)
        assert due - NOW >= timedelta(seconds=310)


@pytest.mark.parametrize(
    ("errors", "retry", "bounds", "expected"),
    [
        (1, None, BOUNDS, 300),
        (4, None, BOUNDS, 2400),
        (5, None, BOUNDS, 3600),  # backoff capped at the operator's maximum when below a day
        (1, 1800.0, BOUNDS, 1800),  # Retry-After replaces the backoff...
        (6, 1800.0, BOUNDS, 1800),  # ... however many errors
        (1, 5.0, BOUNDS, 300),  # never sooner than the normal interval
        (1, 86400.0 * 3, BOUNDS, 3600),  # nor later than the maximum
        (30, None, PollBounds(60, 7 * 86400), 86400),  # one day at most, even if allowed more
    ],
)
def test_failure_delay(errors: int, retry: float | None, bounds: PollBounds, expected: int) -> None:
    due = next_poll_after_failure(NOW, 300, errors, retry_after=retry, bounds=bounds)
    assert due - NOW == timedelta(seconds=expected)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("max-age=600", 600),
        ("public, max-age=120, must-revalidate", 120),
        ('max-age="60"', 60),
        ("s-maxage=900", None),  # shared caches only
        ("no-cache, max-age=600", None),
        ("no-store", None),
        ("max-age=abc", None),
        ("", None),
    ],
)
def test_cache_max_age(header: str, expected: int | None) -> None:
    assert cache_max_age({"cache-control": header} if header else {}) == expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("120", 120.0),
        ("Sat, 28 Nov 2026 08:10:00 GMT", 600.0),
        ("Sat, 28 Nov 2026 07:00:00 GMT", 0.0),  # in the past: no wait
        ("soon", None),
        ("", None),
    ],
)
def test_retry_after(header: str, expected: float | None) -> None:
    assert retry_after({"retry-after": header} if header else {}, NOW) == expected


@pytest.mark.parametrize(
    ("status", "headers", "expected"),
    [
        (429, {"retry-after": "90"}, 90.0),
        (503, {"retry-after": "3600"}, 3600.0),
        (503, {}, None),  # no hint: ordinary backoff
        (500, {"retry-after": "90"}, None),
        (404, {"retry-after": "90"}, None),
    ],
)
def test_server_asked_to_wait(status: int, headers: dict[str, str], expected: float | None) -> None:
    assert server_asked_to_wait(status, headers, NOW) == expected


def test_interleave_by_host_round_robins_and_keeps_each_hosts_order() -> None:
    urls = [
        "https://a.gov.vn/1",
        "https://a.gov.vn/2",
        "https://A.gov.vn/3",
        "https://b.gov.vn/1",
        "file:///x.xml",
        "https://c.gov.vn/1",
        "https://b.gov.vn/2",
    ]
    assert interleave_by_host(urls) == [0, 3, 4, 5, 1, 6, 2]
    assert interleave_by_host([]) == []


@pytest.mark.parametrize(
    ("errors", "expected"),
    [
        (1, timedelta(seconds=300)),
        (2, timedelta(seconds=600)),
        (3, timedelta(seconds=1200)),
        (20, MAX_BACKOFF),
        (200, MAX_BACKOFF),
    ],
)
def test_failure_backoff_is_capped_at_a_day(errors: int, expected: timedelta) -> None:
    assert next_poll_after_failure(NOW, 300, errors) - NOW == expected


def test_select_new_on_links_normalized_already() -> None:
    """The poller's entries come from parse workers with normalized links: the same answer
    without normalizing again."""

    def entry(guid: str, link: str | None) -> ParsedEntry:
        return ParsedEntry(guid, link, guid.upper(), "", "", None, (), None, None)

    raw = [
        entry("a", "HTTPS://Portal.vn/x?utm_source=fb"),
        entry("b", "HTTPS://PORTAL.vn/y?utm_medium=zalo"),
        entry("c", None),
    ]
    done = [replace(e, link=normalize_link(e.link)) for e in raw]
    known = {"https://portal.vn/y"}
    fast = [e.guid for e in select_new(done, set(), known, normalized=True)]
    assert fast == [e.guid for e in select_new(raw, set(), known)] == ["a", "c"]
