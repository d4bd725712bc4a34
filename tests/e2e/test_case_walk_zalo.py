"""The same walk as tests/e2e/test_case_walk.py on Zalo, where there are no buttons: a whole
running bantin against the fake Zalo Bot API and a fake Zalo photo CDN on loopback. The citizen
types numbers (category, consent, satisfaction) and sends two photos and a location; the staff
member types commands under the code (`PA00001 nhan`, `gc`, `mau`, `dong`)."""

from __future__ import annotations

import asyncio
import secrets
import time
from contextlib import suppress
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from bot.app.compose import App
from bot.app.roles import run_app
from bot.app.settings import Settings
from storage.kinds import TicketState
from storage.store import Store
from tests.fakes.zalo_bot_api import FakeZaloBot, FakeZaloCdn

ADMIN = "a0d1m1n"  # staff: the unit's cards come to this chat
CITIZEN = "c17a"
NOTE = "BÍ MẬT NỘI BỘ: đã cử đội kiểm tra"

pytestmark = pytest.mark.slow  # Zalo asks for a second between polls


def _jpeg(colour: str) -> bytes:
    out = BytesIO()
    Image.new("RGB", (64, 48), colour).save(out, "JPEG")
    return out.getvalue()


def _send_event(zb: FakeZaloBot, chat_id: str, event_name: str, **fields: Any) -> None:
    """Queue a non-text message (image, location) as Zalo's getUpdates hands it over."""
    update = {
        "event_name": event_name,
        "message": {
            "chat": {"id": chat_id, "chat_type": "PRIVATE"},
            "message_id": secrets.token_hex(10),
            "date": int(time.time() * 1000),
            "from": {"id": chat_id, "display_name": "Lê Văn C", "is_bot": False},
            **fields,
        },
    }
    with zb._cond:
        zb._state.updates.append(update)
    zb._poke()


async def _prepare(url: str) -> None:
    store = Store.open(url)
    await store.migrate()
    unit = await store.units.add("Phòng Quản lý đô thị", platform="zalo", chat_id=ADMIN)
    assert unit is not None
    assert await store.units.add_category("Giao thông", unit_id=unit.id, deadline_days=3)
    assert await store.units.add_canned(
        unit.id, "Đã sửa", "Phản ánh {ma_phan_anh} đã được xử lý xong.", created_by="cli"
    )
    await store.aclose()


async def test_a_case_on_zalo_from_filing_to_reopening(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/zalo-cases.db"
    await _prepare(url)
    with FakeZaloBot() as zb, FakeZaloCdn() as cdn:
        settings = Settings(
            database_url=url,
            zalo_bot_token=zb.token,  # type: ignore[arg-type]
            zalo_api_url=zb.api_url,
            zalo_admin_ids=[ADMIN],
            zalo_staff_chat_id=ADMIN,
            zalo_photo_hosts=[cdn.host],
            allow_private_hosts=["127.0.0.1"],  # the fake CDN is on loopback
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
            await _walk(app, zb, cdn)
        finally:
            stop.set()
            with suppress(asyncio.CancelledError):
                assert await asyncio.wait_for(task, 30) == 0


async def _walk(app: App, zb: FakeZaloBot, cdn: FakeZaloCdn) -> None:
    store = app.store
    zb.user_sends(CITIZEN, "/start", name="Lê Văn C")
    await zb.async_wait_for(lambda m: m.chat_id == CITIZEN, timeout=15)
    zb.user_sends(CITIZEN, "/guiphananh")
    menu = await zb.async_wait_for(
        lambda m: m.chat_id == CITIZEN and "Giao thông" in m.text, timeout=15
    )
    number = next(
        line.split(".")[0].strip() for line in menu.text.splitlines() if "Giao thông" in line
    )
    mark = len(zb.sent)
    zb.user_sends(CITIZEN, number)
    await zb.async_wait_for(
        lambda m: m.chat_id == CITIZEN and "Giao thông" in m.text, timeout=15, since=mark
    )
    zb.user_sends(CITIZEN, "Ổ gà lớn trước số 12 Lê Lợi")
    for name, colour in (("hole-1.jpg", "red"), ("hole-2.jpg", "blue")):
        _send_event(zb, CITIZEN, "message.image.received", photo=cdn.put(name, _jpeg(colour)))
    _send_event(
        zb,
        CITIZEN,
        "message.location.received",
        location={"latitude": 21.0285, "longitude": 105.8542},
    )
    consent = await zb.async_wait_for(
        lambda m: m.chat_id == CITIZEN and "13/2023" in m.text, timeout=20
    )
    agree = next(
        line.split(".")[0].strip()
        for line in consent.text.splitlines()
        if line.strip()[:1].isdigit() and "ồng ý" in line
    )
    zb.user_sends(CITIZEN, agree)
    await zb.async_wait_for(
        lambda m: m.chat_id == CITIZEN and "2/3 ảnh, có vị trí" in m.text, timeout=15
    )
    zb.user_sends(CITIZEN, "xong")
    thanks = await zb.async_wait_for(
        lambda m: m.chat_id == CITIZEN and "PA0" in m.text and "Hạn" in m.text, timeout=15
    )
    sub = await store.subscribers.get("zalo", CITIZEN)
    assert sub is not None
    [case] = await store.cases.for_subscriber(sub.id)
    code = case.shown_code
    assert code in thanks.text and case.place_lat == 21.0285

    # The card reaches the unit's chat (typed commands listed: Zalo has no buttons).
    card = await zb.async_wait_for(lambda m: m.chat_id == ADMIN and code in m.text, timeout=20)
    assert "openstreetmap.org" in card.text and "Giao thông" in card.text

    async def stored() -> bool:
        await app.fetch_photos()
        photos = await store.photos.of_case(case.id)
        return len(photos) == 2 and all(p.media_key for p in photos)

    for _ in range(100):
        if await stored():
            break
        await asyncio.sleep(0.1)
    assert await stored(), await store.photos.of_case(case.id)
    assert cdn.downloads == 2

    # Take, note, canned answer, close — each typed under the code.
    zb.user_sends(ADMIN, f"{code} nhan")
    await zb.async_wait_for(
        lambda m: m.chat_id == CITIZEN and "Phòng Quản lý đô thị" in m.text, timeout=15
    )
    zb.user_sends(ADMIN, f"{code} gc {NOTE}")
    await zb.async_wait_for(lambda m: m.chat_id == ADMIN and "người dân không thấy" in m.text)
    zb.user_sends(ADMIN, f"{code} mau 1")
    filled = f"Phản ánh {code} đã được xử lý xong."
    await zb.async_wait_for(lambda m: m.chat_id == CITIZEN and filled in m.text, timeout=20)
    zb.user_sends(ADMIN, f"{code} dong")
    await zb.async_wait_for(
        lambda m: m.chat_id == CITIZEN and "gõ 2 nếu chưa hài lòng" in m.text, timeout=20
    )
    mark = len(zb.sent)
    zb.user_sends(CITIZEN, "2")
    for _ in range(200):
        fresh = await store.cases.get(case.id)
        if fresh is not None and fresh.status == TicketState.IN_PROGRESS:
            break
        await asyncio.sleep(0.1)
    assert fresh is not None and fresh.status == TicketState.IN_PROGRESS, zb.sent[-4:]
    assert fresh.satisfaction == "unsatisfied"
    await zb.async_wait_for(
        lambda m: m.chat_id == CITIZEN and "mở lại" in m.text, timeout=15, since=mark
    )
    assert not any(NOTE in m.text for m in zb.sent if m.chat_id == CITIZEN)
