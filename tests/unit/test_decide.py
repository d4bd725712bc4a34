"""The poller's pure decisions, table-driven."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from jobs.decide import (
    MAX_BACKOFF,
    backlog_flags,
    next_poll_after_failure,
    next_poll_after_success,
    normalize_link,
    select_new,
)
from jobs.parse import ParsedEntry

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
    assert timedelta(minutes=27) <= long_ttl - NOW <= timedelta(minutes=33)
    capped = next_poll_after_success(NOW, 300, ttl_minutes=24 * 60, rnd=random.Random(3))
    assert capped - NOW <= timedelta(seconds=300 * 6 * 1.1)


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
