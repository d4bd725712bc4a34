"""The citizen's side of a case (#15) on a real SQLite store: the guided intake on Telegram
(events parsed from the fake Bot API) and on Zalo (events parsed by the adapters, numbered
menus), consent asked once, /phananh, /xoadulieu, satisfaction and reopening, the OA window."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event as sa_event

from bot.adapters.telegram.adapter import TelegramChannel, make_bot, to_event
from bot.adapters.zalo import bot_platform
from bot.adapters.zalo.official_account import attachment_of
from bot.dialog.events import Command, Event, Press, Text, Who
from bot.dialog.menus import with_menu
from bot.dialog.router import Dialog
from jobs.channel import HTML, PLAIN, Capabilities, Rejected
from jobs.render.case_notices import render_case_event
from jobs.render.messages import render_answer
from jobs.send.deliverer import Deliverer
from storage.kinds import CaseEventKind, DeliveryStatus, OutboxKind, RejectReason, TicketState
from storage.records import NewArticle
from storage.store import Store
from tests.fakes.channel import FakeChannel
from tests.fakes.telegram_api import FakeTelegram

# Friday 4 December 2026, 10:00 in Hà Nội.
NOW = datetime(2026, 12, 4, 3, 0, tzinfo=UTC)
TG = Capabilities(markup=HTML)
ZALO = Capabilities(markup=PLAIN, max_text=1800, buttons=True, menus=True)
CITIZEN = Who("telegram", "501", "501", display_name="Nguyễn Văn A")
OTHER = Who("telegram", "502", "502", display_name="Trần Thị B")
ZALO_CITIZEN = Who("zalo", "z77", "z77", display_name="Lê C")


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def dialog(store: Store, clock: Clock) -> Dialog:
    caps = {"telegram": TG, "zalo": ZALO, "zalo_oa": ZALO}
    return Dialog(store, capabilities=lambda p: caps[p], clock=clock)


@pytest.fixture
async def channel(telegram_api: FakeTelegram) -> AsyncIterator[TelegramChannel]:
    bot = make_bot(telegram_api.token, telegram_api.api_url)
    await bot.initialize()
    yield TelegramChannel(bot)
    await bot.shutdown()


async def _roads(store: Store) -> tuple[int, int]:
    unit = await store.units.add("Phòng Quản lý đô thị")
    assert unit is not None
    category = await store.units.add_category("Giao thông", unit_id=unit.id, deadline_days=2)
    assert category is not None
    await store.units.add_category("Môi trường", unit_id=None, deadline_days=5)
    return unit.id, category.id


_seen: dict[int, int] = {}


async def _events(channel: TelegramChannel) -> list[Event]:
    """The updates queued since the last call (each batch confirmed, as the poller does)."""
    updates = await channel.bot.get_updates(timeout=0, offset=_seen.get(id(channel)))
    if updates:
        _seen[id(channel)] = updates[-1].update_id + 1
    events = [to_event(u) for u in updates]
    assert all(e is not None for e in events)
    return [e for e in events if e is not None]


async def test_telegram_case_with_category_two_photos_and_a_place(
    store: Store, dialog: Dialog, channel: TelegramChannel, telegram_api: FakeTelegram
) -> None:
    unit_id, roads = await _roads(store)
    start = await dialog.handle(Command(CITIZEN, "guiphananh"))
    [choice] = start.replies
    data = [b.data for row in choice.buttons for b in row]
    assert data == [f"ci:cat:{roads}", data[1], "ci:cat:0", "ci:x"]
    assert "Bấm" not in choice.text and "gõ số" not in choice.text
    prompt = await dialog.handle(Press(CITIZEN, f"ci:cat:{roads}"))
    assert "Giao thông" in prompt.replies[0].text and "3 ảnh" in prompt.replies[0].text

    tg = telegram_api
    tg.user_sends(501, "Ổ gà lớn trước số 12 Lê Lợi", photo="hole-1")
    tg.user_sends(501, "", photo="hole-2")
    tg.user_shares_location(501, 21.0285, 105.8542)
    words, photo2, place = await _events(channel)
    assert isinstance(place, Text) and place.place is not None
    await dialog.handle(words)
    await dialog.handle(photo2)
    asked = await dialog.handle(place)  # consent first: nothing kept before the answer
    assert "13/2023" in asked.replies[0].text
    assert [b.data for b in asked.replies[0].buttons[0]] == ["ci:ok", "ci:no"]
    agreed = await dialog.handle(Press(CITIZEN, "ci:ok"))
    assert "2/3 ảnh, có vị trí" in agreed.replies[-1].text
    done = await dialog.handle(Press(CITIZEN, "ci:send"))
    assert done.wake_feedback

    [case] = await store.cases.for_subscriber((await _sub(store, CITIZEN)).id)
    assert case.category_id == roads and case.unit_id == unit_id
    assert case.text == "Ổ gà lớn trước số 12 Lê Lợi"
    assert (case.place_lat, case.place_lon) == (21.0285, 105.8542)
    # Two working days after Friday: the end of Tuesday (Saturday and Sunday do not count).
    assert case.due_at is not None and case.due_at.astimezone(UTC) == datetime(
        2026, 12, 8, 10, 0, tzinfo=UTC
    )
    photos = await store.photos.of_case(case.id)
    assert len(photos) == 2 and all(p.platform == "telegram" for p in photos)
    thanks = done.replies[0].text
    assert case.shown_code in thanks and "08/12/2026" in thanks and f"#{case.id}" in thanks
    assert (await store.subscribers.get_by_id(case.subscriber_id)).consent_at == NOW  # type: ignore[union-attr]

    # Consent is asked once: the next case's place is kept without a question.
    await dialog.handle(Command(CITIZEN, "guiphananh"))
    await dialog.handle(Press(CITIZEN, "ci:cat:0"))
    await dialog.handle(Text(CITIZEN, "Đèn đường hỏng"))
    tg.user_shares_location(501, 21.03, 105.85)
    [again] = await _events(channel)
    kept = await dialog.handle(again)
    assert "13/2023" not in kept.replies[0].text and "có vị trí" in kept.replies[0].text
    await dialog.handle(Text(CITIZEN, "xong"))
    second = (await store.cases.for_subscriber(case.subscriber_id))[0]
    assert second.place_lat == 21.03 and second.category_id is None


async def _sub(store: Store, who: Who):  # type: ignore[no-untyped-def]
    sub = await store.subscribers.get(who.platform, who.chat_id)
    assert sub is not None
    return sub


async def test_zalo_case_by_numbers_with_two_photos_and_a_place(
    store: Store, dialog: Dialog
) -> None:
    _, roads = await _roads(store)
    start = await dialog.handle(Command(ZALO_CITIZEN, "guiphananh"))
    [choice] = start.replies
    assert "gõ số" in choice.text and "Bấm" not in choice.text
    lines, options = with_menu(choice)  # what the Zalo adapter prints and remembers
    assert "1. Giao thông" in lines and options[0] == f"ci:cat:{roads}"
    prompt = await dialog.handle(Press(ZALO_CITIZEN, options[0]))  # the citizen typed "1"
    assert "xong" in prompt.replies[0].text
    # Zalo Bot Platform events, parsed by the adapter: two photos and a location.
    photo = {"message": {"chat": {"id": "z77"}, "from": {"id": "z77"}, "message_id": "m1"}}

    def image(url: str, caption: str = "") -> Event:
        update = {"event_name": "message.image.received", **photo}
        update["message"] = {**photo["message"], "photo": url, "caption": caption}
        event = bot_platform.to_event(update)
        assert isinstance(event, Text) and event.photo == url
        return event

    await dialog.handle(image("https://f1.zdn.vn/a.jpg", "Rác ùn ứ ở chợ"))
    await dialog.handle(image("https://f1.zdn.vn/b.jpg"))
    oa_photo, oa_place = attachment_of(
        {
            "attachments": [
                {
                    "type": "location",
                    "payload": {"coordinates": {"latitude": "10.77", "longitude": "106.7"}},
                }
            ]
        }
    )
    assert oa_photo is None and oa_place is not None
    asked = await dialog.handle(Text(ZALO_CITIZEN, "", place=oa_place))
    _, consent_options = with_menu(asked.replies[0])
    assert consent_options == ["ci:ok", "ci:no"]
    refused = await dialog.handle(Press(ZALO_CITIZEN, "ci:no"))  # "2": no place kept
    assert "không lưu vị trí" in refused.replies[0].text
    done = await dialog.handle(Text(ZALO_CITIZEN, "Xong"))
    assert done.wake_feedback and "Hạn trả lời" in done.replies[0].text
    sub = await _sub(store, ZALO_CITIZEN)
    [case] = await store.cases.for_subscriber(sub.id)
    assert case.category_id == roads and case.text == "Rác ùn ứ ở chợ" and not case.has_place
    assert [p.file_ref for p in await store.photos.of_case(case.id)] == [
        "https://f1.zdn.vn/a.jpg",
        "https://f1.zdn.vn/b.jpg",
    ]
    assert sub.consent_at is None


async def test_zalo_texts_say_what_to_type(dialog: Dialog) -> None:
    welcome = await dialog.handle(Command(ZALO_CITIZEN, "start"))
    assert "Bấm" not in welcome.replies[0].text and "PH" in welcome.replies[0].text
    helped = await dialog.handle(Command(ZALO_CITIZEN, "help"))
    assert "bấm «Gửi phản hồi»" not in helped.replies[0].text and "PH 12" in helped.replies[0].text
    assert "/guiphananh" in helped.replies[0].text
    tg_help = await dialog.handle(Command(CITIZEN, "help"))
    assert "bấm «Gửi phản hồi»" in tg_help.replies[0].text


async def test_plain_message_is_offered_then_filed_and_cancel_works(
    store: Store, dialog: Dialog
) -> None:
    offer = await dialog.handle(Text(CITIZEN, "Cống thoát nước bị tắc"))
    assert not offer.wake_feedback and await store.feedback.count() == 0
    assert [b.data for row in offer.replies[0].buttons for b in row] == ["ci:new", "ci:x"]
    await dialog.handle(Press(CITIZEN, "ci:new"))  # no categories: straight to writing
    done = await dialog.handle(Press(CITIZEN, "ci:send"))
    assert done.wake_feedback
    [case] = await store.feedback.unforwarded()
    assert case.text == "Cống thoát nước bị tắc"
    await dialog.handle(Command(CITIZEN, "guiphananh"))
    await dialog.handle(Text(CITIZEN, "thôi"))
    out = await dialog.handle(Command(CITIZEN, "huy"))
    assert "hủy" in out.replies[0].text.lower()
    assert await store.feedback.count() == 1


async def test_phananh_lists_and_shows_a_thread_without_notes(
    store: Store, dialog: Dialog, clock: Clock
) -> None:
    await dialog.handle(Command(CITIZEN, "guiphananh"))
    await dialog.handle(Text(CITIZEN, "Cây đổ chắn đường"))
    await dialog.handle(Text(CITIZEN, "xong"))
    sub = await _sub(store, CITIZEN)
    [case] = await store.cases.for_subscriber(sub.id)
    await store.cases.note(case.id, actor="telegram:900", text="NỘI BỘ: gọi đội cây xanh", now=NOW)
    await store.feedback.add_answer(case.id, staff_user="telegram:900", text="Đã dọn", now=NOW)
    listed = await dialog.handle(Command(CITIZEN, "phananh"))
    assert case.shown_code in listed.replies[0].text
    assert "đã trả lời" in listed.replies[0].text
    thread = await dialog.handle(Command(CITIZEN, "phananh", case.shown_code.lower()))
    text = thread.replies[0].text
    assert "Cây đổ chắn đường" in text and "Đã dọn" in text and "NỘI BỘ" not in text
    # Another citizen's code reads exactly like a code that does not exist.
    other = await dialog.handle(Command(OTHER, "phananh", case.shown_code))
    missing = await dialog.handle(Command(OTHER, "phananh", "PA99999"))
    group = Who("telegram", "-100", "501", chat_type="group")  # a group's list would leak
    team = await store.subscribers.ensure("telegram", "-100", chat_type="group")
    shared = await store.feedback.add(team.id, None, "Lời của một thành viên khác", now=NOW)
    in_group = await dialog.handle(Command(group, "phananh"))
    assert shared.shown_code not in in_group.replies[0].text
    assert "Cây đổ" not in other.replies[0].text
    assert other.replies[0].text.replace(case.shown_code, "X") == missing.replies[0].text.replace(
        "PA99999", "X"
    )


async def _closed_case(store: Store, dialog: Dialog) -> tuple[int, int]:
    await dialog.handle(Command(CITIZEN, "guiphananh"))
    await dialog.handle(Text(CITIZEN, "Nước sinh hoạt đục"))
    await dialog.handle(Text(CITIZEN, "xong"))
    sub = await _sub(store, CITIZEN)
    [case] = await store.cases.for_subscriber(sub.id)
    await store.cases.close(case.id, actor="telegram:900", now=NOW)
    return case.id, sub.id


async def test_closed_notice_asks_satisfaction_and_unsatisfied_reopens(
    store: Store, dialog: Dialog, clock: Clock
) -> None:
    case_id, sub_id = await _closed_case(store, dialog)
    [row] = [r for r in await store.deliveries.all() if r.kind == OutboxKind.CASE_NOTICE]
    sub = await store.subscribers.get_by_id(sub_id)
    assert sub is not None
    notice = await render_case_event(store, row, sub, TG)
    assert notice is not None and "đã được đóng" in notice.text
    data = [b.data for b in notice.buttons[0]]
    assert data == [f"sat:{case_id}:1", f"sat:{case_id}:2"]
    zalo_notice = await render_case_event(store, row, sub, ZALO)
    assert zalo_notice is not None and "Gõ 1" in zalo_notice.text
    assert with_menu(zalo_notice)[1] == data
    # A forged press on someone else's case changes nothing.
    forged = await dialog.handle(Press(OTHER, f"sat:{case_id}:2"))
    assert forged.toast and (await store.cases.get(case_id)).status == TicketState.CLOSED  # type: ignore[union-attr]
    clock.now = NOW + timedelta(days=6)
    out = await dialog.handle(Press(CITIZEN, f"sat:{case_id}:2"))
    assert out.wake_feedback and "mở lại" in out.replies[0].text
    case = await store.cases.get(case_id)
    assert case is not None and case.status == TicketState.IN_PROGRESS
    kinds = [e.kind for e in await store.cases.history(case_id)]
    assert kinds[-2:] == [CaseEventKind.SATISFACTION, CaseEventKind.REOPENED]


async def test_unsatisfied_after_seven_days_does_not_reopen(
    store: Store, dialog: Dialog, clock: Clock
) -> None:
    case_id, _ = await _closed_case(store, dialog)
    clock.now = NOW + timedelta(days=8)
    out = await dialog.handle(Press(CITIZEN, f"sat:{case_id}:2"))
    assert "7 ngày" in out.replies[0].text and not out.wake_feedback
    case = await store.cases.get(case_id)
    assert case is not None and case.status == TicketState.CLOSED
    assert case.satisfaction == "unsatisfied"
    happy = await dialog.handle(Press(CITIZEN, f"sat:{case_id}:1"))
    assert "Cảm ơn" in happy.replies[0].text


async def test_xoadulieu_erases_personal_data_and_keeps_the_counts(
    store: Store, dialog: Dialog
) -> None:
    await dialog.handle(Command(CITIZEN, "guiphananh"))
    await dialog.handle(Text(CITIZEN, "0912 345 678"))  # a phone: consent first
    await dialog.handle(Press(CITIZEN, "ci:ok"))
    await dialog.handle(Text(CITIZEN, "Vỉa hè bị lấn chiếm", photo="tg-photo-1"))
    await dialog.handle(Text(CITIZEN, "https://maps.google.com/?q=21.0301,105.8520"))
    await dialog.handle(Text(CITIZEN, "xong"))
    await dialog.handle(Text(OTHER, "Ồn ào ban đêm"))
    await dialog.handle(Press(OTHER, "ci:new"))
    await dialog.handle(Press(OTHER, "ci:send"))
    sub = await _sub(store, CITIZEN)
    assert sub.phone == "0912345678" and sub.display_name == "Nguyễn Văn A"
    [case] = await store.cases.for_subscriber(sub.id)
    assert case.has_place and len(await store.photos.of_case(case.id)) == 1
    before = (await store.feedback.count(), await store.feedback.count_by_status())

    asked = await dialog.handle(Command(CITIZEN, "xoadulieu"))
    assert [b.data for b in asked.replies[0].buttons[0]] == ["xd:ok", "xd:no"]
    assert (await _sub(store, CITIZEN)).phone is not None  # nothing before the confirmation
    erased = []

    async def erase_photos(subscriber_id: int) -> int:
        erased.append(subscriber_id)
        return 0

    dialog.ctx.erase_photos = erase_photos
    done = await dialog.handle(Press(CITIZEN, "xd:ok"))
    assert "Đã xóa" in done.replies[0].text and erased == [sub.id]
    # the next message carries the name again: it is not stored again
    await dialog.handle(Command(CITIZEN, "help"))
    await dialog.handle(Command(CITIZEN, "start"))
    gone = await _sub(store, CITIZEN)
    assert gone.phone is None and gone.display_name is None and gone.consent_at is None
    assert gone.erased_at is not None
    case = await store.cases.get(case.id)  # type: ignore[assignment]
    assert case is not None and not case.has_place and case.photo_file_id is None
    assert await store.photos.of_case(case.id) == []
    [photo] = await store.photos.of_case(case.id, with_erased=True)
    assert photo.file_ref is None and photo.erased_at is not None
    assert (await store.feedback.count(), await store.feedback.count_by_status()) == before
    assert CaseEventKind.ERASED in [e.kind for e in await store.cases.history(case.id)]
    [audit] = [a for a in await store.audit.recent(limit=10) if a.action == "privacy.erase"]
    assert audit.target == f"subscriber:{sub.id}"
    other = await _sub(store, OTHER)
    assert other.display_name == "Trần Thị B"


async def test_answer_shows_the_case_code(store: Store, dialog: Dialog) -> None:
    await dialog.handle(Text(CITIZEN, "Hỏi thủ tục"))
    await dialog.handle(Press(CITIZEN, "ci:new"))
    await dialog.handle(Press(CITIZEN, "ci:send"))
    [case] = await store.feedback.unforwarded()
    answer = await store.feedback.add_answer(case.id, staff_user="t:1", text="Mời", now=NOW)
    assert answer is not None
    context = await store.feedback.answer_context(answer.id)
    assert context is not None
    for caps in (TG, ZALO):
        shown = render_answer(context, "vi", caps)
        assert case.shown_code in shown.text and f"#{case.id}" in shown.text


async def test_oa_window_holds_a_notice_until_the_citizen_writes(
    store: Store, dialog: Dialog
) -> None:
    oa = Who("zalo_oa", "u1", "u1")
    await dialog.handle(Text(oa, "Đường tối"))
    await dialog.handle(Press(oa, "ci:new"))
    await dialog.handle(Press(oa, "ci:send"))
    [case] = await store.feedback.unforwarded()
    await store.cases.take(case.id, actor="telegram:900", now=NOW)
    channel = FakeChannel("zalo_oa", Capabilities(markup=PLAIN, buttons=False))
    channel.fail_chat("u1", Rejected("outside the 7-day window", RejectReason.WINDOW))
    deliverer = Deliverer(store, {"zalo_oa": channel}, rate=None, clock=lambda: NOW)
    await deliverer.run_until_idle()
    [row] = await store.deliveries.all()
    assert row.kind == OutboxKind.CASE_NOTICE and row.status == DeliveryStatus.HELD
    assert await store.privacy.held_notices(case.id) == 1  # the staff card can show it
    channel.heal("u1")
    assert await store.deliveries.release_held(case.subscriber_id, NOW) == 1
    # (a new deliverer: this one's per-chat pacing waits on a clock the test keeps still)
    await Deliverer(store, {"zalo_oa": channel}, rate=None, clock=lambda: NOW).run_until_idle()
    [row] = await store.deliveries.all()
    assert row.status == DeliveryStatus.SENT and case.shown_code in channel.texts("u1")[0]
    assert await store.privacy.held_notices(case.id) == 0


async def test_words_on_a_merged_case_go_to_the_case_it_follows(
    store: Store, dialog: Dialog
) -> None:
    for who, words in ((CITIZEN, "Mất điện khu A"), (OTHER, "Khu A mất điện từ sáng")):
        await dialog.handle(Text(who, words))
        await dialog.handle(Press(who, "ci:new"))
        await dialog.handle(Press(who, "ci:send"))
    mine, theirs = await store.feedback.unforwarded()
    answer = await store.feedback.add_answer(
        mine.id, staff_user="t:1", text="Đang kiểm tra", now=NOW
    )
    assert answer is not None
    sub = await _sub(store, CITIZEN)
    await store.deliveries.enqueue_one(sub.id, OutboxKind.ANSWER, answer.id, now=NOW)
    [row] = await store.deliveries.claim_due(now=NOW, limit=1, lease_seconds=60)
    await store.deliveries.mark_sent(row.id, message_id="77", now=NOW)
    merged = await store.cases.merge(mine.id, into_code=theirs.shown_code, actor="t:1", now=NOW)
    assert merged.__class__.__name__ == "Changed"
    out = await dialog.handle(Text(CITIZEN, "Vẫn chưa có điện", reply_to="77"))
    assert theirs.shown_code in out.replies[0].text
    [reply] = [m for m in await store.feedback.messages(theirs.id) if m.author == "citizen"]
    assert reply.text == "Vẫn chưa có điện"
    # the other citizen's view of their case never shows the merged-in citizen's words
    shown = await dialog.handle(Command(OTHER, "phananh", theirs.shown_code))
    assert "Vẫn chưa có điện" not in shown.replies[0].text
    own = await dialog.handle(Command(CITIZEN, "phananh", mine.shown_code))
    assert theirs.shown_code in own.replies[0].text and "gộp" in own.replies[0].text


async def test_oa_events_release_held_notices_and_carry_photos_and_places(
    store: Store,
) -> None:
    """The OA adapter: a citizen's image or location event reaches the dialog as a Text with
    its photo or place, and any of their events releases what the 7-day window held."""
    from bot.adapters.zalo.official_account import PLATFORM, OAWebhook

    events: list[Event] = []

    async def handle(event: Event) -> None:
        events.append(event)

    webhook = OAWebhook(
        app_id="app", secret="s", repo=store.zalo, store=store, handle=handle, clock=lambda: NOW
    )
    sub = await store.subscribers.ensure(PLATFORM, "u1")
    case = await store.feedback.add(sub.id, None, "Đèn hỏng", now=NOW)
    await store.cases.take(case.id, actor="telegram:900", now=NOW)
    [row] = await store.deliveries.all()
    await store.deliveries.hold(row.id, reason="outside the 7-day window")
    url = "https://f20-zpc.zdn.vn/photo.jpg"
    image = {"type": "image", "payload": {"url": url}}
    await webhook.accept(
        {
            "event_name": "user_send_image",
            "sender": {"id": "u1"},
            "message": {"msg_id": "m1", "text": "Ảnh hiện trường", "attachments": [image]},
        },
        NOW,
    )
    [row] = await store.deliveries.all()
    assert row.status == DeliveryStatus.PENDING
    where = {"latitude": 10.77, "longitude": 106.7}
    await webhook.accept(
        {
            "event_name": "user_send_location",
            "sender": {"id": "u1"},
            "message": {"attachments": [{"type": "location", "payload": {"coordinates": where}}]},
        },
        NOW,
    )
    photo, place = events
    assert isinstance(photo, Text) and photo.photo == url and photo.text == "Ảnh hiện trường"
    assert isinstance(place, Text) and place.place is not None
    assert (place.place.latitude, place.place.longitude) == (10.77, 106.7)


async def test_zalo_citizen_answers_the_satisfaction_question_with_a_number(
    store: Store, dialog: Dialog, clock: Clock
) -> None:
    """The closed notice goes out through Zalo's numbered menus; the citizen types "2"."""
    from bot.adapters.zalo.menus import MenuChannel

    await dialog.handle(Command(ZALO_CITIZEN, "guiphananh"))
    await dialog.handle(Text(ZALO_CITIZEN, "Cầu yếu"))
    await dialog.handle(Text(ZALO_CITIZEN, "xong"))
    sub = await _sub(store, ZALO_CITIZEN)
    [case] = await store.cases.for_subscriber(sub.id)
    await store.cases.close(case.id, actor="telegram:900", now=NOW)
    inner = FakeChannel("zalo", Capabilities(markup=PLAIN, max_text=2000, buttons=False))
    menus = MenuChannel(inner, store.zalo, clock=clock)
    await Deliverer(store, {"zalo": menus}, rate=None, clock=clock).run_until_idle()
    [notice] = inner.texts("z77")
    assert "Gõ 1 nếu hài lòng" in notice and notice.endswith("1. Hài lòng\n2. Chưa hài lòng")
    clock.now = NOW + timedelta(days=1)
    pressed = await menus.resolve(Text(ZALO_CITIZEN, "2"))
    assert isinstance(pressed, Press) and pressed.data == f"sat:{case.id}:2"
    out = await dialog.handle(pressed)
    assert "mở lại" in out.replies[0].text
    reopened = await store.cases.get(case.id)
    assert reopened is not None and reopened.status == TicketState.IN_PROGRESS


async def test_category_by_number_when_the_menu_is_gone(store: Store, dialog: Dialog) -> None:
    _, roads = await _roads(store)
    await dialog.handle(Command(ZALO_CITIZEN, "guiphananh"))
    chosen = await dialog.handle(Text(ZALO_CITIZEN, "1"))  # reached the dialog as text
    assert "Giao thông" in chosen.replies[0].text
    unsure = await dialog.handle(Command(ZALO_CITIZEN, "guiphananh"))
    assert unsure.replies
    await dialog.handle(Text(ZALO_CITIZEN, "3"))  # the one after the two categories
    await dialog.handle(Text(ZALO_CITIZEN, "Hỏi về thủ tục"))
    await dialog.handle(Text(ZALO_CITIZEN, "xong"))
    [case] = await store.cases.for_subscriber((await _sub(store, ZALO_CITIZEN)).id)
    assert case.category_id is None and case.text == "Hỏi về thủ tục"
    assert roads


async def test_on_the_wire_telegram_buttons_work(
    store: Store, dialog: Dialog, channel: TelegramChannel, telegram_api: FakeTelegram
) -> None:
    """Replies and notices go out through the real adapter to the fake Bot API, and the
    citizen presses the inline buttons they carry: category, «Gửi», «Chưa hài lòng»."""
    from bot.dialog.respond import carry_out

    tg = telegram_api
    _, roads = await _roads(store)

    async def step() -> None:
        for event in await _events(channel):
            await carry_out(channel, event, await dialog.handle(event))

    tg.user_sends(501, "/guiphananh")
    await step()
    [choice] = tg.messages_to(501)
    assert choice.callback_data[0] == f"ci:cat:{roads}"
    tg.user_presses(501, int(choice.message_id), f"ci:cat:{roads}")
    await step()
    tg.user_sends(501, "Biển báo bị đổ")
    await step()
    status = tg.messages_to(501)[-1]
    assert status.callback_data == ["ci:send", "ci:x"]
    tg.user_presses(501, int(status.message_id), "ci:send")
    await step()
    assert "Mã phản hồi #" in tg.messages_to(501)[-1].plain_text
    [case] = await store.cases.for_subscriber((await _sub(store, CITIZEN)).id)
    await store.cases.close(case.id, actor="telegram:900", now=NOW)
    await Deliverer(store, {"telegram": channel}, rate=None, clock=lambda: NOW).run_until_idle()
    closed = tg.messages_to(501)[-1]
    assert closed.callback_data == [f"sat:{case.id}:1", f"sat:{case.id}:2"]
    tg.user_presses(501, int(closed.message_id), f"sat:{case.id}:2")
    await step()
    assert "mở lại" in tg.messages_to(501)[-1].plain_text


async def test_zalo_citizen_adds_words_and_a_photo_to_their_open_case(
    store: Store, dialog: Dialog
) -> None:
    """Zalo has no replies: words after an answer are offered as a new case or as more on
    the case still open, and «Thêm vào PA…» (a number on Zalo) adds them there."""
    await dialog.handle(Command(ZALO_CITIZEN, "guiphananh"))
    await dialog.handle(Text(ZALO_CITIZEN, "Cột điện nghiêng"))
    await dialog.handle(Text(ZALO_CITIZEN, "xong"))
    [case] = await store.feedback.unforwarded()
    answer = await store.feedback.add_answer(case.id, staff_user="t:1", text="Cần ảnh", now=NOW)
    assert answer is not None
    context = await store.feedback.answer_context(answer.id)
    assert context is not None and "Thêm vào" in render_answer(context, "vi", ZALO).text
    offer = await dialog.handle(Text(ZALO_CITIZEN, "Ảnh đây", photo="https://f1.zdn.vn/c.jpg"))
    lines, options = with_menu(offer.replies[0])
    assert options == ["ci:new", f"ci:add:{case.id}", "ci:x"] and case.shown_code in lines
    out = await dialog.handle(Press(ZALO_CITIZEN, options[1]))  # the citizen typed "2"
    assert out.wake_feedback and case.shown_code in out.replies[0].text
    assert await store.feedback.count() == 1
    [reply] = [m for m in await store.feedback.messages(case.id) if m.author == "citizen"]
    assert reply.text == "Ảnh đây"
    [photo] = await store.photos.of_case(case.id)
    assert photo.message_id == reply.id
    now_case = await store.cases.get(case.id)
    assert now_case is not None and now_case.status == TicketState.IN_PROGRESS
    # someone else's case cannot be written to with a forged press
    await dialog.handle(Text(OTHER, "xen ngang"))
    forged = await dialog.handle(Press(OTHER, f"ci:add:{case.id}"))
    assert forged.toast and len(await store.feedback.messages(case.id)) == 2


async def test_a_filing_ends_the_writers_step_in_its_own_transaction(
    store: Store, dialog: Dialog
) -> None:
    """The text a citizen sends while waiting (after «Gửi phản hồi») is filed and their step
    ends in one transaction: a crash between two would leave them waiting, and their next
    message would be filed as another case. A refused text ends the step too."""
    feed, _ = await store.feeds.add("https://p.example/rss")
    [art] = await store.articles.add(
        feed.id,
        [NewArticle("g", "https://p.example/1", "Sửa đường", "Tóm tắt", None, None, (), NOW)],
        now=NOW,
        seen=[False],
    )
    await dialog.handle(Command(CITIZEN, "start"))
    await dialog.handle(Press(CITIZEN, f"fb:{art.id}"))
    sub = await store.subscribers.get("telegram", CITIZEN.chat_id)
    assert sub is not None
    assert (await store.subscribers.dialog_of(sub.id, CITIZEN.user_id))[0] == "feedback"
    commits: list[object] = []

    def committed(conn: object) -> None:
        commits.append(conn)

    sa_event.listen(store.engine.sync_engine, "commit", committed)
    try:
        out = await dialog.handle(Text(CITIZEN, "Đường trước nhà bị sụt"))
    finally:
        sa_event.remove(store.engine.sync_engine, "commit", committed)
    assert out.wake_feedback
    assert await store.subscribers.dialog_of(sub.id, CITIZEN.user_id) == (None, None)
    assert len(commits) == 2  # reading the writer; the case with the end of the step

    await store.feedback.ban(sub.id, by="t", now=NOW)
    await dialog.handle(Press(CITIZEN, f"fb:{art.id}"))  # refused at once: banned
    await store.subscribers.set_dialog(sub.id, "feedback", str(art.id), user=CITIZEN.user_id)
    refused = await dialog.handle(Text(CITIZEN, "Thêm nữa"))
    assert not refused.wake_feedback
    assert await store.subscribers.dialog_of(sub.id, CITIZEN.user_id) == (None, None)
