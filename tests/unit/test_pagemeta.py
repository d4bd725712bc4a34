"""Article pages' own publication dates, table-driven."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from jobs.enrich.pagemeta import page_published, parse_date

NOW = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("page", "expected"),
    [
        (
            '<meta property="article:published_time" content="2026-11-20T09:15:00+07:00">',
            datetime(2026, 11, 20, 2, 15, tzinfo=UTC),
        ),
        (
            '<meta itemprop="datePublished" content="2026-11-21">',
            datetime(2026, 11, 20, 17, 0, tzinfo=UTC),
        ),
        (
            '<script type="application/ld+json">{"@type": "NewsArticle", '
            '"datePublished": "2026-11-22T10:00:00Z"}</script>',
            datetime(2026, 11, 22, 10, 0, tzinfo=UTC),
        ),
        (
            '<time datetime="2026-11-23T08:00:00+07:00" pubdate>23/11</time>',
            datetime(2026, 11, 23, 1, 0, tzinfo=UTC),
        ),
        (
            '<meta name="pubdate" content="24/11/2026 14:30">',
            datetime(2026, 11, 24, 7, 30, tzinfo=UTC),
        ),
        ('<meta property="article:published_time" content="2027-05-01T00:00:00Z">', None),
        ('<meta property="article:published_time" content="không rõ">', None),
        ("<p>Không có ngày</p>", None),
        ("<meta content=", None),
    ],
)
def test_page_published(page: str, expected: datetime | None) -> None:
    assert page_published(page, now=NOW) == expected


def test_parse_date_rejects_impossible_dates() -> None:
    assert parse_date("31/02/2026") is None
    assert parse_date("") is None
