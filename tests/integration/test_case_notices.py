"""What the citizen reads at each change of their case (jobs/render/case_notices.py), drawn
from the outbox rows storage/cases.py queues: code, unit, due date in Vietnamese format,
reason, the code to follow, the satisfaction question; Zalo's text says what to type."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import httpx

from bot.adapters.zalo.menus import MenuChannel
from bot.adapters.zalo.official_account import PLATFORM, OAWebhook, TokenKeeper, ZaloOAChannel
from bot.dialog.events import Event
from jobs.channel import HTML, PLAIN, Capabilities
from jobs.render.case_notices import render_case_event
from jobs.send.deliverer import Deliverer
from storage.feedback import CaseIntake, RateLimit
from storage.kinds import DeliveryStatus, OutboxKind
from storage.records import Feedback
from storage.store import Store
from tests.fakes.channel import FakeChannel
from tests.fakes.zalo_oa_api import FakeZaloOA

NOW = datetime(2026, 12, 4, 3, 0, tzinfo=UTC)
DUE = datetime(2026, 12, 8, 10, 0, tzinfo=UTC)  # 17:00 on Tuesday 8 December in Hà Nội
TG = Capabilities(markup=HTML)
ZALO = Capabilities(markup=PLAIN, buttons=True, menus=True)


async def _case(store: Store, chat: str = "701") -> Feedback:
    sub = await store.subscribers.ensure("telegram", chat)
    filed = await store.feedback.file(
        sub.id, None, "Cống tắc", limit=RateLimit(), now=NOW, intake=CaseIntake(due_at=DUE)
    )
    assert isinstance(filed, Feedback)
    return filed


async def _notices(store: Store, caps: Capabilities = TG, chat: str | None = None) -> list[str]:
    out = []
    for row in await store.deliveries.all():
        if row.kind != OutboxKind.CASE_NOTICE:
            continue
        if chat is not None:
            owner = await store.subscribers.get_by_id(row.subscriber_id)
            if owner is None or owner.chat_id != chat:
                continue
        sub = await store.subscribers.get_by_id(row.subscriber_id)
        assert sub is not None
        message = await render_case_event(store, row, sub, caps)
        assert message is not None
        out.append(message.text)
    return out


async def test_each_change_is_told_with_code_and_due_date(store: Store) -> None:
    case = await _case(store)
    parks = await store.units.add("Phòng Tài nguyên")
    assert parks is not None
    await store.cases.take(case.id, actor="telegram:900", now=NOW)
    await store.cases.start(case.id, actor="telegram:900", now=NOW)
    await store.cases.transfer(
        case.id, unit_id=parks.id, reason="đúng chuyên môn", actor="t:1", now=NOW
    )
    accepted, started, transferred = await _notices(store)
    assert case.shown_code in accepted and "08/12/2026" in accepted
    assert "đang được xử lý" in started
    assert "Phòng Tài nguyên" in transferred and "đúng chuyên môn" in transferred
    assert "08/12/2026" in transferred


async def test_merged_not_responsible_and_reopened(store: Store) -> None:
    first, second, third = (
        await _case(store, "701"),
        await _case(store, "702"),
        await _case(store, "703"),
    )
    await store.cases.merge(first.id, into_code=second.shown_code, actor="t:1", now=NOW)
    await store.cases.not_responsible(
        third.id, reason="Thuộc Công ty điện lực: gọi 1900 1006", actor="t:1", now=NOW
    )
    merged, refused = await _notices(store)
    assert first.shown_code in merged and f"theo dõi mã {second.shown_code}" in merged
    assert "không thuộc thẩm quyền" in refused and "1900 1006" in refused
    await store.cases.close(second.id, actor="t:1", now=NOW)
    sub = await store.subscribers.get("telegram", "702")
    assert sub is not None
    await store.cases.rate(second.id, sub.id, "unsatisfied", now=NOW)
    *_, closed, reopened = await _notices(store, chat="702")
    assert "hài lòng" in closed and "mở lại" in reopened
    # The citizen whose case was merged follows: told the state, never asked to rate it.
    *_, followed_closed, followed_reopened = await _notices(store, chat="701")
    assert second.shown_code in followed_closed and "hài lòng" not in followed_closed
    assert "gộp" in followed_reopened


async def test_zalo_closed_notice_says_which_number_to_type(store: Store) -> None:
    case = await _case(store)
    await store.cases.close(case.id, actor="t:1", now=NOW)
    [closed] = await _notices(store, ZALO)
    assert "Gõ 1 nếu hài lòng, gõ 2 nếu chưa hài lòng" in closed


async def test_the_deliverer_sends_the_notices(store: Store) -> None:
    case = await _case(store)
    await store.cases.take(case.id, actor="telegram:900", now=NOW)
    await store.cases.close(case.id, actor="telegram:900", now=NOW)
    channel = FakeChannel()
    deliverer = Deliverer(store, {"telegram": channel}, rate=None, clock=lambda: datetime.now(UTC))
    await deliverer.run_until_idle()  # (a running clock: two sends to one chat are paced)
    accepted, closed = channel.sent
    assert case.shown_code in accepted.message.text
    assert [b.data for b in closed.message.buttons[0]] == [
        f"sat:{case.id}:1",
        f"sat:{case.id}:2",
    ]


async def test_oa_notice_outside_the_window_is_held_until_the_citizen_writes(
    store: Store,
) -> None:
    """On the fake Zalo OA: the citizen last wrote 8 days ago, so the «đã tiếp nhận» notice
    is held (no call to Zalo) and shown to staff as waiting; their next message releases it."""

    def now() -> datetime:
        return datetime.now(UTC)

    async def handle(event: Event) -> None:
        return None

    with FakeZaloOA() as oa:
        async with httpx.AsyncClient() as http:
            keeper = TokenKeeper(
                store.zalo,
                http,
                app_id=oa.app_id,
                secret_key=oa.secret_key,
                oauth_url=oa.url,
                clock=now,
            )
            await keeper.seed(*oa.authorize())
            channel = MenuChannel(
                ZaloOAChannel(keeper, store.zalo, http, api_url=oa.url, clock=now),
                store.zalo,
                clock=now,
            )
            oa.follow("u-old", at=time.time() - 8 * 86400)
            await store.zalo.touch_contact(PLATFORM, "u-old", now() - timedelta(days=8))
            sub = await store.subscribers.ensure(PLATFORM, "u-old")
            case = await store.feedback.add(sub.id, None, "Ổ gà", now=now())
            await store.cases.take(case.id, actor="telegram:900", now=now())
            await Deliverer(store, {PLATFORM: channel}, rate=None, clock=now).run_until_idle()
            [row] = await store.deliveries.all()
            assert row.status == DeliveryStatus.HELD and oa.sent == []
            assert await store.privacy.held_notices(case.id) == 1

            webhook = OAWebhook(
                app_id=oa.app_id,
                secret=oa.secret_key,
                repo=store.zalo,
                store=store,
                handle=handle,
                clock=now,
            )
            oa.follow("u-old")  # Zalo's side: the citizen has just written
            await webhook.accept(oa.text_event("u-old", "Cho hỏi tiến độ"), now())
            await Deliverer(store, {PLATFORM: channel}, rate=None, clock=now).run_until_idle()
            [sent] = oa.sent
            assert sent.user_id == "u-old" and case.shown_code in sent.text
            assert await store.privacy.held_notices(case.id) == 0
