"""A case from start to end through a whole running bantin (`run_app`) and the fake Bot API:
a citizen files a case with a category, two photos and a place → the card lands in the chat
of the unit the category routes to → a staff member takes it, adds a note the citizen never
sees, answers with the unit's canned answer → the citizen is told each change and gets the
answer → the case is closed → the citizen answers «Chưa hài lòng» → it reopens for the unit,
whose chat gets the card again. Photos are downloaded, stripped and stored on the way."""

from __future__ import annotations

import asyncio
from contextlib import suppress
from io import BytesIO
from pathlib import Path

from PIL import Image

from bot.app.compose import App
from bot.app.roles import run_app
from bot.app.settings import Settings
from storage.kinds import TicketState
from storage.store import Store
from tests.fakes.telegram_api import FakeTelegram, SentMessage, _photo_sizes, put_file

ADMIN = 900
STAFF_CHAT = -500  # the configured staff chat: the default unit's
ROADS_CHAT = -600  # the unit «Phòng Quản lý đô thị»
CITIZEN = 501
NOTE = "BÍ MẬT NỘI BỘ: đã cử đội kiểm tra"


def _jpeg(colour: str) -> bytes:
    out = BytesIO()
    Image.new("RGB", (64, 48), colour).save(out, "JPEG")
    return out.getvalue()


async def _prepare(url: str) -> None:
    """What an admin sets up once: a unit with its chat, a category routed to it, a canned
    answer with placeholders."""
    store = Store.open(url)
    await store.migrate()
    unit = await store.units.add(
        "Phòng Quản lý đô thị", platform="telegram", chat_id=str(ROADS_CHAT)
    )
    assert unit is not None
    category = await store.units.add_category("Giao thông", unit_id=unit.id, deadline_days=3)
    assert category is not None
    canned = await store.units.add_canned(
        unit.id,
        "Đã sửa",
        "Phản ánh {ma_phan_anh} đã được xử lý: mặt đường đã vá xong.",
        created_by="cli",
    )
    assert canned is not None
    await store.aclose()


def _button(message: SentMessage, text: str) -> str:
    for button in message.buttons:
        if button["text"] == text:
            return str(button["callback_data"])
    raise AssertionError(f"no button {text!r} in {[b['text'] for b in message.buttons]}")


async def _until(condition: object, what: str) -> None:
    for _ in range(300):
        if await condition():  # type: ignore[operator]
            return
        await asyncio.sleep(0.05)
    raise AssertionError(what)


async def test_a_case_from_filing_to_reopening(tmp_path: Path, telegram_api: FakeTelegram) -> None:
    tg = telegram_api
    url = f"sqlite:///{tmp_path}/cases.db"
    await _prepare(url)
    for name, colour in (("hole-1", "red"), ("hole-2", "blue")):
        put_file(tg, _photo_sizes(name)[-1]["file_id"], _jpeg(colour))  # the largest size
    settings = Settings(
        database_url=url,
        telegram_token=tg.token,  # type: ignore[arg-type]
        telegram_api_url=tg.api_url,
        admin_ids=[ADMIN],
        staff_chat_id=STAFF_CHAT,
        feeds=[],
        send_rate=30,
        quiet_hours="off",
        media_dir=str(tmp_path / "media"),
        web_console=False,
    )
    stop = asyncio.Event()
    started: asyncio.Future[App] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(run_app(settings, stop=stop, on_start=started.set_result))
    try:
        app = await asyncio.wait_for(started, 20)
        await _walk(app, tg)
    finally:
        stop.set()
        with suppress(asyncio.CancelledError):
            assert await asyncio.wait_for(task, 30) == 0


async def _walk(app: App, tg: FakeTelegram) -> None:
    store = app.store
    # 1. The citizen files: category, words, two photos, a place (consent asked once), send.
    tg.user_sends(CITIZEN, "/start", first_name="Nguyễn Văn A")
    await tg.async_wait_for(lambda m: m.chat_id == CITIZEN)
    tg.user_sends(CITIZEN, "/guiphananh")
    menu = await tg.async_wait_for(
        lambda m: m.chat_id == CITIZEN and any(b["text"] == "Giao thông" for b in m.buttons)
    )
    tg.user_presses(CITIZEN, menu.message_id, _button(menu, "Giao thông"))
    await tg.async_wait_for(lambda m: m.chat_id == CITIZEN and "Giao thông" in m.plain_text)
    tg.user_sends(CITIZEN, "Ổ gà lớn trước số 12 Lê Lợi", photo="hole-1")
    tg.user_sends(CITIZEN, "", photo="hole-2")
    tg.user_shares_location(CITIZEN, 21.0285, 105.8542)
    consent = await tg.async_wait_for(lambda m: m.chat_id == CITIZEN and "13/2023" in m.plain_text)
    tg.user_presses(CITIZEN, consent.message_id, consent.buttons[0]["callback_data"])
    ready = await tg.async_wait_for(
        lambda m: m.chat_id == CITIZEN and "2/3 ảnh, có vị trí" in m.plain_text
    )
    tg.user_presses(CITIZEN, ready.message_id, "ci:send")
    thanks = await tg.async_wait_for(lambda m: m.chat_id == CITIZEN and "PA" in m.plain_text)
    [case] = await store.cases.for_subscriber(
        (await store.subscribers.get("telegram", str(CITIZEN))).id  # type: ignore[union-attr]
    )
    assert case.shown_code in thanks.plain_text
    assert (case.place_lat, case.place_lon) == (21.0285, 105.8542)

    # 2. The card lands in the unit's chat (not the default staff chat), with the photo and
    #    the place as a map link; the photos are fetched and stored without EXIF.
    card = await tg.async_wait_for(
        lambda m: m.chat_id == ROADS_CHAT and case.shown_code in m.plain_text, timeout=20
    )
    assert "openstreetmap.org" in (card.text or card.caption or "") + str(card.params)
    assert "Giao thông" in card.plain_text
    assert not [m for m in tg.messages_to(STAFF_CHAT) if case.shown_code in m.plain_text]

    async def stored() -> bool:
        await app.fetch_photos()  # the scheduler's media-fetch job, without its 30 s wait
        photos = await store.photos.of_case(case.id)
        return len(photos) == 2 and all(p.media_key for p in photos)

    await _until(stored, f"photos fetched: {await store.photos.of_case(case.id)}")

    # 3. Staff take it: the citizen is told a unit has it.
    tg.user_presses(ROADS_CHAT, card.message_id, f"cs:t:{case.id}", user_id=ADMIN)
    await tg.async_wait_for(
        lambda m: m.chat_id == CITIZEN and "Phòng Quản lý đô thị" in m.plain_text, timeout=15
    )

    # The card (a photo, its words the caption) now reads «đã tiếp nhận», edited in place.
    await tg.async_wait_until(
        lambda: any(
            e.chat_id == ROADS_CHAT
            and e.message_id == card.message_id
            and e.method == "editMessageCaption"
            and "đã tiếp nhận" in (e.text or "")
            for e in tg.edits
        )
    )

    # 4. An internal note: stored, never sent to the citizen.
    tg.user_presses(ROADS_CHAT, card.message_id, f"cs:n:{case.id}", user_id=ADMIN)
    await tg.async_wait_for(lambda m: m.chat_id == ROADS_CHAT and "ghi chú" in m.plain_text.lower())
    tg.user_sends(ROADS_CHAT, NOTE, user_id=ADMIN, chat_type="group")
    await tg.async_wait_for(lambda m: m.chat_id == ROADS_CHAT and "người dân không thấy" in m.text)

    # 5. The canned answer, filled and sent: the citizen gets it.
    tg.user_presses(ROADS_CHAT, card.message_id, f"ib:r:{case.id}", user_id=ADMIN)
    offer = await tg.async_wait_for(
        lambda m: m.chat_id == ROADS_CHAT and any("cs:a:" in b["callback_data"] for b in m.buttons)
    )
    pick = next(b["callback_data"] for b in offer.buttons if "cs:a:" in b["callback_data"])
    tg.user_presses(ROADS_CHAT, offer.message_id, pick, user_id=ADMIN)
    preview = await tg.async_wait_for(
        lambda m: m.chat_id == ROADS_CHAT and any("cs:s:" in b["callback_data"] for b in m.buttons)
    )
    tg.user_presses(
        ROADS_CHAT, preview.message_id, preview.buttons[0]["callback_data"], user_id=ADMIN
    )
    filled = f"Phản ánh {case.shown_code} đã được xử lý: mặt đường đã vá xong."
    await tg.async_wait_for(lambda m: m.chat_id == CITIZEN and filled in m.plain_text, timeout=15)

    # 6. Closed: the citizen is asked whether they are satisfied, and says no → reopened.
    tg.user_presses(ROADS_CHAT, card.message_id, f"ib:c:{case.id}", user_id=ADMIN)
    closed = await tg.async_wait_for(
        lambda m: (
            m.chat_id == CITIZEN and any(b["callback_data"].startswith("sat:") for b in m.buttons)
        ),
        timeout=15,
    )
    tg.user_presses(CITIZEN, closed.message_id, _button(closed, "Chưa hài lòng"))
    await tg.async_wait_for(lambda m: m.chat_id == CITIZEN and "mở lại" in m.plain_text, timeout=15)

    async def reopened() -> bool:
        fresh = await store.cases.get(case.id)
        return fresh is not None and fresh.status == TicketState.IN_PROGRESS

    await _until(reopened, "the case reopened")
    cards = [m for m in tg.messages_to(ROADS_CHAT) if m.message_id != card.message_id]
    await tg.async_wait_until(
        lambda: (
            len(
                [
                    m
                    for m in tg.messages_to(ROADS_CHAT)
                    if case.shown_code in m.plain_text and m.buttons
                ]
            )
            >= 2
        ),
        timeout=15,
    )
    assert cards  # the unit's chat heard about it again

    # The citizen never saw the note; every change is in the history.
    assert not any(NOTE in m.plain_text for m in tg.messages_to(CITIZEN))
    kinds = [e.kind for e in await store.cases.history(case.id)]
    for kind in ("created", "accepted", "answered", "closed", "satisfaction", "reopened"):
        assert kind in kinds, kinds
    actions = {e.action for e in await store.audit.recent()}
    assert {"case.take", "case.note", "feedback.answer", "feedback.close"} <= actions
