"""A subscriber's choices decide exactly what they receive.

Hypothesis draws subscribers (all news or a mix of topics and sources, include and exclude
keywords typed with or without diacritics, instant or digest, quiet hours) and articles; the
real fan-out (SQL and Python, on a real SQLite file) must queue exactly what a plain reference
model — written here without the product's helpers — says.
"""

from __future__ import annotations

import asyncio
import tempfile
import unicodedata
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from jobs.route.fanout import fan_out_articles
from storage.kinds import OutboxKind
from storage.models import DigestItemRow
from storage.records import NewArticle
from storage.store import Store

NOW = datetime(2026, 11, 28, 16, 0, tzinfo=UTC)  # 23:00 in Vietnam: inside 22:00-06:00
MORNING = datetime(2026, 11, 28, 23, 0, tzinfo=UTC)  # 06:00 in Vietnam
WORDS = ["an ninh", "An Ninh", "giao thông", "GIAO THONG", "đường", "duong", "lũ", "lu", "xã"]
CATEGORIES = ["An ninh", "Giao thông", "Thời sự"]


def ref_words(text: str) -> list[str]:
    """Reference folding, spelled out differently from jobs.route.match on purpose."""
    out = []
    for raw in text.replace("_", " ").split():
        plain = "".join(
            c
            for c in unicodedata.normalize("NFD", raw.lower().replace("đ", "d").replace("Đ", "d"))
            if unicodedata.category(c) != "Mn"
        )
        cleaned = "".join(c if c.isalnum() else " " for c in plain)
        out.extend(cleaned.split())
    return out


def ref_has(text: str, phrase: str) -> bool:
    hay, needle = ref_words(text), ref_words(phrase)
    return any(hay[i : i + len(needle)] == needle for i in range(len(hay) - len(needle) + 1))


subscriber = st.fixed_dictionaries(
    {
        "topics": st.sets(st.sampled_from([0, 1, 2]), max_size=2),
        "feeds": st.sets(st.sampled_from([0, 1]), max_size=2),
        "include": st.sets(st.sampled_from(WORDS), max_size=2),
        "exclude": st.sets(st.sampled_from(WORDS), max_size=1),
        "digest": st.booleans(),
        "quiet": st.sampled_from([None, "off", "01:00-02:00"]),
        "active": st.booleans(),
    }
)
article = st.fixed_dictionaries(
    {
        "feed": st.sampled_from([0, 1]),
        "title": st.lists(st.sampled_from([*WORDS, "tin", "mới", "Anh"]), min_size=1, max_size=5),
        "summary": st.lists(st.sampled_from([*WORDS, "họp"]), max_size=4),
        "categories": st.sets(st.sampled_from(CATEGORIES), max_size=2),
    }
)


# derandomize: CI replays the same examples every run (no flaky landings); explore locally
# with a random seed by removing it and raising max_examples.
@settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(subs=st.lists(subscriber, min_size=1, max_size=6), arts=st.lists(article, max_size=5))
def test_fan_out_matches_the_reference_model(subs: list[dict], arts: list[dict]) -> None:  # type: ignore[type-arg]
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(_check(f"sqlite:///{tmp}/p.db", subs, arts))


async def _check(url: str, subs: list[dict], arts: list[dict]) -> None:  # type: ignore[type-arg]
    store = Store.open(url)
    await store.migrate()
    try:
        await store.state.set("quiet_hours_default", "22:00-06:00")
        feeds = [(await store.feeds.add(f"https://p{i}.example/rss"))[0].id for i in range(2)]
        topics = [(await store.topics.add(n)).id for n in ("An ninh", "Giao thông", "Thời sự")]
        from jobs.route.match import fold

        for cat, topic in zip(CATEGORIES, topics, strict=True):
            await store.topics.map(fold(cat), topic)
        ids = []
        for n, s in enumerate(subs):
            sub, _ = await store.subscribers.subscribe("telegram", str(1000 + n))
            ids.append(sub.id)
            for t in s["topics"]:
                await store.preferences.choose(sub.id, topic=topics[t], on=True)
            for f in s["feeds"]:
                await store.preferences.choose(sub.id, feed=feeds[f], on=True)
            for w in s["include"]:
                await store.preferences.add_keyword(sub.id, w, exclude=False)
            for w in s["exclude"]:
                await store.preferences.add_keyword(sub.id, w, exclude=True)
            await store.preferences.update(
                sub.id, mode="digest" if s["digest"] else "instant", quiet_hours=s["quiet"]
            )
            if not s["active"]:
                await store.subscribers.deactivate(sub.id, "test")
        stored = []
        for n, a in enumerate(arts):
            new = NewArticle(
                guid=f"g{n}",
                link=f"https://p.example/{n}",
                title=" ".join(a["title"]),
                summary=" ".join(a["summary"]),
                body=None,
                image_url=None,
                categories=tuple(sorted(a["categories"])),
                published_at=NOW - timedelta(hours=1),
            )
            [row] = await store.articles.add(feeds[a["feed"]], [new], now=NOW, seen=[False])
            stored.append((row.id, a))
        await fan_out_articles(store, now=NOW)

        expected_now, expected_digest = set(), set()
        for sid, s in zip(ids, subs, strict=True):
            for aid, a in stored:
                text = " ".join(a["title"]) + "\n" + " ".join(a["summary"])
                scoped = (
                    (not s["topics"] and not s["feeds"])
                    or a["feed"] in s["feeds"]
                    or any(CATEGORIES[t] in a["categories"] for t in s["topics"])
                )
                # A word is either included or excluded: marking it again re-marks it, and
                # the excludes are added after the includes above.
                include = s["include"] - s["exclude"]
                ok = (
                    s["active"]
                    and scoped
                    and not any(ref_has(text, w) for w in s["exclude"])
                    and (not include or any(ref_has(text, w) for w in include))
                )
                if not ok:
                    continue
                if s["digest"]:
                    expected_digest.add((sid, aid))
                else:
                    # The default quiet hours (22-06) hold pushes made at 23:00 until 06:00.
                    held = s["quiet"] is None
                    expected_now.add((sid, aid, MORNING if held else NOW))
        rows = await store.deliveries.all(limit=10_000)
        got = {
            (r.subscriber_id, r.item_id, r.next_attempt_at)
            for r in rows
            if r.kind == OutboxKind.ARTICLE
        }
        assert got == expected_now
        async with store.engine.connect() as conn:
            items = (
                await conn.execute(select(DigestItemRow.subscriber_id, DigestItemRow.article_id))
            ).all()
        assert {(int(s), int(a)) for s, a in items} == expected_digest
    finally:
        await store.aclose()
