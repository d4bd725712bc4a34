"""Personal data (#15, Decree 13/2023/NĐ-CP) on SQLite and PostgreSQL: consent gates a phone
and a place, /xoadulieu erases them with the display name and photos in one transaction,
and the monthly report counts the same before and after; the OA window's held notices."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.dialog.events import Command, Press, Text, Who
from bot.dialog.router import Dialog
from jobs.channel import HTML, Capabilities
from storage.kinds import CaseEventKind, DeliveryStatus
from storage.store import Store

NOW = datetime(2026, 12, 4, 3, 0, tzinfo=UTC)
CITIZEN = Who("telegram", "601", "601", display_name="Phạm Văn D")


async def test_place_and_phone_need_consent(any_store: Store) -> None:
    store = any_store
    sub = await store.subscribers.ensure("telegram", "601", display_name="D")
    case = await store.feedback.add(sub.id, None, "Ngập", now=NOW)
    assert not await store.privacy.set_phone(sub.id, "0912345678")
    assert not await store.privacy.set_place(case.id, sub.id, 21.0, 105.8, "Ngõ 5")
    await store.privacy.give_consent(sub.id, NOW)
    assert await store.privacy.set_phone(sub.id, "0912345678")
    assert await store.privacy.set_place(case.id, sub.id, 21.0, 105.8, "Ngõ 5")
    got = await store.subscribers.get_by_id(sub.id)
    assert got is not None and got.consent_at == NOW and got.phone == "0912345678"
    other = await store.subscribers.ensure("telegram", "602")
    assert not await store.privacy.set_place(case.id, other.id, 1.0, 1.0, None)  # not theirs


async def test_erasure_keeps_the_monthly_report(any_store: Store) -> None:
    store = any_store
    dialog = Dialog(store, capabilities=lambda _p: Capabilities(markup=HTML), clock=lambda: NOW)
    await dialog.handle(Command(CITIZEN, "guiphananh"))
    await dialog.handle(Text(CITIZEN, "+84 912 345 678"))
    await dialog.handle(Press(CITIZEN, "ci:ok"))
    await dialog.handle(Text(CITIZEN, "Rác thải ven sông", photo="file-a"))
    await dialog.handle(Text(CITIZEN, "21.0285, 105.8542"))
    await dialog.handle(Text(CITIZEN, "xong"))
    sub = await store.subscribers.get("telegram", "601")
    assert sub is not None and sub.phone == "+84912345678"
    [case] = await store.cases.for_subscriber(sub.id)
    await store.cases.close(case.id, actor="telegram:900", now=NOW)
    before = await store.case_reports.month("2026-12")

    await dialog.handle(Command(CITIZEN, "xoadulieu"))
    await dialog.handle(Press(CITIZEN, "xd:ok"))
    await dialog.handle(Command(CITIZEN, "start"))  # the name comes with it: not kept again
    gone = await store.subscribers.get_by_id(sub.id)
    assert gone is not None
    assert (gone.phone, gone.display_name, gone.consent_at) == (None, None, None)
    kept = await store.cases.get(case.id)
    assert kept is not None and kept.text == "Rác thải ven sông" and not kept.has_place
    assert kept.status == "closed"
    assert await store.photos.of_case(case.id) == []
    assert await store.case_reports.month("2026-12") == before
    history = [e.kind for e in await store.cases.history(case.id)]
    assert history[-1] == CaseEventKind.ERASED


async def test_held_notices_are_counted_and_released(any_store: Store) -> None:
    store = any_store
    sub = await store.subscribers.ensure("zalo_oa", "u9")
    case = await store.feedback.add(sub.id, None, "Ồn", now=NOW)
    await store.cases.take(case.id, actor="t", now=NOW)
    await store.cases.start(case.id, actor="t", now=NOW)
    rows = await store.deliveries.all()
    assert len(rows) == 2
    for row in rows:
        await store.deliveries.hold(row.id, reason="window")
    assert await store.privacy.held_notices(case.id) == 2
    assert await store.deliveries.release_held(sub.id, NOW) == 2
    assert {r.status for r in await store.deliveries.all()} == {DeliveryStatus.PENDING}
    assert await store.privacy.held_notices(case.id) == 0
