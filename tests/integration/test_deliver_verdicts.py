"""The deliverer carries out each verdict (jobs/send/verdict.py) on a real outbox.

The channel is the in-memory FakeChannel told to raise one ChannelError: what the platform
answered is fixed, so each test shows one verdict's effect on rows and subscribers. The mapping
of real platform answers to these errors is tested against the fake platform servers
(test_deliver_telegram.py, test_zalo_oa.py).
"""

from __future__ import annotations

from datetime import UTC, datetime

from jobs.channel import (
    HTML,
    PLAIN,
    ChatMoved,
    RateLimited,
    RecipientGone,
    Rejected,
    Transient,
)
from jobs.route.fanout import queue_announcement
from jobs.send.deliverer import Deliverer
from storage.kinds import AnnouncementStatus, RejectReason
from storage.records import Delivery
from storage.store import Store
from tests.fakes.channel import FakeChannel

TEXT = "Lịch tiếp dân <tháng 12> & lịch trực"


def clock() -> datetime:
    return datetime.now(UTC)


async def _announce(store: Store, chats: list[str]) -> None:
    for chat in chats:
        await store.subscribers.subscribe("telegram", chat)
    ann = await store.announcements.create(TEXT, created_by="test")
    await store.announcements.transition(
        ann.id, frm=AnnouncementStatus.DRAFT, to=AnnouncementStatus.QUEUED, now=clock()
    )
    await queue_announcement(store, ann.id, now=clock())


async def _deliver(store: Store, channel: FakeChannel, **kw: object) -> None:
    deliverer = Deliverer(
        store,
        {"telegram": channel},
        rate=None,
        clock=clock,
        backoff=lambda attempt: 0.05,
        **kw,  # type: ignore[arg-type]
    )
    await deliverer.run_until_idle()


async def _rows(store: Store) -> list[Delivery]:
    return await store.deliveries.all()


async def test_sent_rows_record_the_platform_id(store: Store) -> None:
    channel = FakeChannel()
    await _announce(store, ["1", "2"])
    await _deliver(store, channel)
    assert sorted(s.chat_id for s in channel.sent) == ["1", "2"]
    assert {r.status for r in await _rows(store)} == {"sent"}


async def test_moved_chat_is_sent_to_its_new_id_and_remembered(store: Store) -> None:
    channel = FakeChannel()
    channel.fail_chat("-100", ChatMoved("group upgraded", "-1001"))
    await _announce(store, ["-100"])
    await _deliver(store, channel)
    assert [s.chat_id for s in channel.sent] == ["-1001"]
    assert await store.subscribers.get("telegram", "-1001") is not None
    assert [r.status for r in await _rows(store)] == ["sent"]


async def test_refused_markup_goes_again_as_plain_text_once(store: Store) -> None:
    channel = FakeChannel()
    channel.fail_next(Rejected("can't parse entities", RejectReason.PARSE))
    await _announce(store, ["1"])
    await _deliver(store, channel)
    assert [m.markup for _, m in channel.attempts] == [HTML, PLAIN]
    (sent,) = channel.sent
    assert TEXT in sent.message.text and "<b>" not in sent.message.text  # words kept, no tags
    assert [r.status for r in await _rows(store)] == ["sent"]


async def test_plain_text_refused_too_is_dead(store: Store) -> None:
    channel = FakeChannel()
    channel.fail_next(Rejected("can't parse entities", RejectReason.PARSE), times=2)
    await _announce(store, ["1"])
    await _deliver(store, channel)
    assert not channel.sent and len(channel.attempts) == 2
    (row,) = await _rows(store)
    assert row.status == "dead" and row.last_error == "can't parse entities"


async def test_gone_recipient_is_blocked_and_unsubscribed(store: Store) -> None:
    channel = FakeChannel()
    channel.fail_chat("1", RecipientGone("Forbidden: bot was blocked by the user"))
    await _announce(store, ["1", "2"])
    await _deliver(store, channel)
    assert [s.chat_id for s in channel.sent] == ["2"]
    gone = await store.subscribers.get("telegram", "1")
    assert gone is not None and not gone.active
    statuses = {r.subscriber_id == gone.id: r.status for r in await _rows(store)}
    assert statuses == {True: "blocked", False: "sent"}


async def test_closed_window_cancels_without_retrying(store: Store) -> None:
    channel = FakeChannel()
    channel.fail_chat("1", Rejected("outside the 7-day window", RejectReason.WINDOW))
    await _announce(store, ["1"])
    await _deliver(store, channel)
    assert len(channel.attempts) == 1
    (row,) = await _rows(store)
    assert row.status == "cancelled" and row.attempts == 0


async def test_transient_trouble_is_retried(store: Store) -> None:
    channel = FakeChannel()
    channel.fail_next(Transient("502 Bad Gateway"))
    await _announce(store, ["1"])
    await _deliver(store, channel)
    assert len(channel.attempts) == 2 and [s.chat_id for s in channel.sent] == ["1"]
    (row,) = await _rows(store)
    assert row.status == "sent" and row.attempts == 1


async def test_lasting_trouble_is_dead_lettered_after_the_last_attempt(store: Store) -> None:
    channel = FakeChannel()
    channel.fail_chat("1", Transient("timed out"))
    await _announce(store, ["1"])
    await _deliver(store, channel, max_attempts=3)
    assert not channel.sent and len(channel.attempts) == 3
    (row,) = await _rows(store)
    assert row.status == "dead" and row.attempts == 3 and row.last_error == "timed out"


async def test_rate_limit_waits_without_counting_an_attempt(store: Store) -> None:
    channel = FakeChannel()
    channel.fail_next(RateLimited("Too Many Requests: retry after 1", 0.2, scope="chat"))
    await _announce(store, ["1"])
    await _deliver(store, channel)
    assert [s.chat_id for s in channel.sent] == ["1"]
    (row,) = await _rows(store)
    assert row.status == "sent" and row.attempts == 0
