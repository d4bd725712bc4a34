"""Cards go to their unit's chat on that unit's platform: a Zalo unit's card reaches the Zalo
group (with the commands to type, no numbered menu), a unit on a platform with no channel is
set aside with a clear error told to the configured staff chat, a unit's group that Telegram
moved is followed and stored on the unit, one unit's chat being rate limited never holds
another's cards, a citizen's later message goes under the case's card, and a case's photos
follow its card. Real SQLite, python-telegram-bot against the fake Bot API and the Zalo Bot
adapter against FakeZaloBot, on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import event, text

from bot.adapters.telegram.adapter import TelegramChannel, make_bot
from bot.adapters.zalo.bot_platform import ZaloBotChannel, ZaloBotClient
from bot.adapters.zalo.menus import with_menus
from bot.app.compose import App, compose
from bot.app.settings import Settings
from bot.dialog.events import Command, Text, Who
from jobs.media.store import LocalMediaStore
from jobs.staff.forward import forward_feedback
from storage.cases import Changed
from storage.feedback import CaseIntake, RateLimit
from storage.records import Feedback, NewArticle
from storage.store import Store
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.zalo_bot_api import FakeZaloBot

NOW = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
STAFF_CHAT = "-900"
CHAT_A = "-1001"
CHAT_B = "-1002"
ZALO_GROUP = "zg-phuong"


def clock() -> datetime:
    return NOW


@pytest.fixture
def zalo() -> Iterator[FakeZaloBot]:
    with FakeZaloBot() as fake:
        yield fake


@pytest.fixture
async def zalo_channel(zalo: FakeZaloBot, store: Store) -> AsyncIterator[object]:
    client = ZaloBotClient(zalo.token, zalo.api_url)
    yield with_menus(ZaloBotChannel(client), store.zalo, clock=clock)
    await client.aclose()


@pytest.fixture
async def telegram(telegram_api: FakeTelegram) -> AsyncIterator[TelegramChannel]:
    bot = make_bot(telegram_api.token, telegram_api.api_url)
    await bot.initialize()
    yield TelegramChannel(bot)
    await bot.shutdown()


async def _case(store: Store, unit_id: int | None, text: str, chat: str = "501") -> Feedback:
    sub, _ = await store.subscribers.subscribe("telegram", chat, display_name="Dân")
    filed = await store.feedback.file(
        sub.id, None, text, limit=RateLimit(count=100), now=NOW, intake=CaseIntake(unit_id=unit_id)
    )
    assert isinstance(filed, Feedback)
    return filed


async def _unit(store: Store, name: str, platform: str | None, chat: str | None) -> int:
    unit = await store.units.add(name, platform=platform, chat_id=chat)
    assert unit is not None
    return unit.id


async def _app(tmp_path: Path, telegram_api: FakeTelegram, **extra: object) -> App:
    """A composed app on Telegram (the fake Bot API), its bot initialized, plus `extra` settings."""
    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/app.db",
        telegram_token=telegram_api.token,  # type: ignore[arg-type]
        telegram_api_url=telegram_api.api_url,
        media_dir=str(tmp_path / "media"),
        **extra,  # type: ignore[arg-type]
    )
    app = await compose(settings)
    bot = app.bot
    assert bot is not None
    await bot.initialize()  # type: ignore[attr-defined]
    return app


async def test_each_card_reaches_its_units_chat_on_its_platform(
    store: Store,
    telegram: TelegramChannel,
    telegram_api: FakeTelegram,
    zalo: FakeZaloBot,
    zalo_channel: object,
) -> None:
    tg = telegram_api
    ward = await _unit(store, "UBND phường", "zalo", ZALO_GROUP)
    urban = await _unit(store, "Phòng Quản lý đô thị", "telegram", CHAT_A)
    oa_unit = await _unit(store, "Tổ OA", "zalo_oa", "oa-group")
    to_ward = await _case(store, ward, "Cống tắc ở tổ 5")
    to_urban = await _case(store, urban, "Vỉa hè lấn chiếm")
    lost = await _case(store, oa_unit, "Không có kênh cho đơn vị này")
    default = await _case(store, None, "Không rõ lĩnh vực")

    channels = {"telegram": telegram, "zalo": zalo_channel}
    sent = await forward_feedback(
        store,
        telegram,
        STAFF_CHAT,
        clock=clock,
        channels=channels,  # type: ignore[dict-item]
    )
    assert sent == 3
    [zcard] = zalo.messages_to(ZALO_GROUP)
    assert to_ward.shown_code in zcard.text and "Cống tắc" in zcard.text
    assert f"{to_ward.shown_code} nhan" in zcard.text and f"{to_ward.shown_code} dong" in zcard.text
    assert "1. " not in zcard.text  # no numbered menu: it would answer only the latest card
    [tcard] = tg.messages_to(int(CHAT_A))
    assert to_urban.shown_code in tcard.plain_text
    staff = [m.plain_text for m in tg.messages_to(int(STAFF_CHAT))]
    assert any(default.shown_code in text for text in staff)
    # The case whose unit is on a platform without a channel: set aside, and said so.
    [notice] = [text for text in staff if f"#{lost.id}" in text]
    assert "Zalo OA" in notice and "Tổ OA" in notice
    dead = await store.feedback.get(lost.id)
    assert dead is not None and "Tổ OA" in (dead.forward_error or "")
    assert [c.id for c in await store.feedback.dead_cards()] == [lost.id]
    ward_case = await store.feedback.get(to_ward.id)
    assert ward_case is not None and ward_case.forwarded_chat_id == ZALO_GROUP

    # A citizen's later message goes to the case's unit chat, under its card.
    reply = await store.feedback.file_reply(
        to_urban.id, to_urban.subscriber_id, "Thêm: có cả xe máy", limit=RateLimit(100), now=NOW
    )
    assert reply is not None
    assert await forward_feedback(store, telegram, STAFF_CHAT, clock=clock, channels=channels) == 1  # type: ignore[arg-type]
    [_, later] = tg.messages_to(int(CHAT_A))
    assert "xe máy" in later.plain_text and to_urban.shown_code in later.plain_text
    assert later.reply_to_message_id == tcard.message_id


async def test_a_moved_unit_group_is_followed_and_a_busy_chat_holds_no_other(
    store: Store, telegram: TelegramChannel, telegram_api: FakeTelegram
) -> None:
    tg = telegram_api
    urban = await _unit(store, "Phòng Quản lý đô thị", "telegram", CHAT_A)
    nature = await _unit(store, "Phòng Tài nguyên", "telegram", CHAT_B)
    tg.fail(chat_id=int(CHAT_A), method=None, code=400, migrate_to_chat_id=-1009001, times=None)
    tg.fail(chat_id=int(CHAT_B), method="sendMessage", code=429, times=1)
    first = await _case(store, nature, "Khói bụi")
    moved = await _case(store, urban, "Đèn tín hiệu")
    assert await forward_feedback(store, telegram, STAFF_CHAT, clock=clock) == 1
    [card] = tg.messages_to(-1009001)
    assert moved.shown_code in card.plain_text
    unit = await store.units.get(urban)
    assert unit is not None and unit.chat_id == "-1009001"  # stored on the unit
    waiting = await store.feedback.get(first.id)
    assert waiting is not None and waiting.forwarded_at is None  # rate limited: next run
    assert await forward_feedback(store, telegram, STAFF_CHAT, clock=clock) == 1
    assert first.shown_code in tg.messages_to(int(CHAT_B))[0].plain_text


async def test_a_cases_photos_follow_its_card(
    store: Store, telegram: TelegramChannel, telegram_api: FakeTelegram
) -> None:
    tg = telegram_api
    urban = await _unit(store, "Phòng Quản lý đô thị", "telegram", CHAT_A)
    case = await _case(store, urban, "Ổ gà, có ảnh")
    for ref in ("photo-one", "photo-two", "photo-three"):
        await store.photos.record(case.id, "telegram", ref, now=NOW)
    assert await forward_feedback(store, telegram, STAFF_CHAT, clock=clock) == 1
    card, second, third = tg.messages_to(int(CHAT_A))
    assert (card.method, card.photo) == ("sendPhoto", "photo-one")
    assert "Ảnh: 3" in card.plain_text
    assert [(m.photo, m.reply_to_message_id) for m in (second, third)] == [
        ("photo-two", card.message_id),
        ("photo-three", card.message_id),
    ]
    assert "Ảnh 2/3" in second.plain_text


async def test_a_zalo_photo_is_uploaded_to_a_telegram_unit_chat(
    store: Store, telegram: TelegramChannel, telegram_api: FakeTelegram, tmp_path: Path
) -> None:
    """A Zalo citizen's photo means nothing to Telegram: the card carries our stored copy."""
    media = LocalMediaStore(tmp_path / "media")
    urban = await _unit(store, "Phòng Quản lý đô thị", "telegram", CHAT_A)
    sub, _ = await store.subscribers.subscribe("zalo", "z501", display_name="Dân Zalo")
    filed = await store.feedback.file(
        sub.id,
        None,
        "Cột điện nghiêng",
        limit=RateLimit(),
        now=NOW,
        intake=CaseIntake(unit_id=urban),
    )
    assert isinstance(filed, Feedback)
    photo = await store.photos.record(filed.id, "zalo", "https://zalo.example/p.jpg", now=NOW)
    key = await media.put(b"\xff\xd8stored-copy", "image/jpeg")
    await store.photos.mark_fetched(
        photo.id, media_key=key, content_type="image/jpeg", size=12, width=4, height=3, now=NOW
    )
    assert await forward_feedback(store, telegram, STAFF_CHAT, clock=clock, media=media) == 1
    [(chat, data, _name)] = telegram_api.uploads  # type: ignore[attr-defined]
    assert chat == int(CHAT_A) and data == b"\xff\xd8stored-copy"
    [card] = telegram_api.messages_to(int(CHAT_A))
    assert card.method == "sendPhoto" and filed.shown_code in card.plain_text
    assert "zalo.example" not in str(card.params)


async def test_a_reopened_case_is_posted_again_and_held_notices_show(
    store: Store, telegram: TelegramChannel, telegram_api: FakeTelegram
) -> None:
    urban = await _unit(store, "Phòng Quản lý đô thị", "telegram", CHAT_A)
    case = await _case(store, urban, "Nước thải tràn")
    assert await forward_feedback(store, telegram, STAFF_CHAT, clock=clock) == 1
    assert isinstance(await store.cases.close(case.id, actor="telegram:1", now=NOW), Changed)
    assert await forward_feedback(store, telegram, STAFF_CHAT, clock=clock) == 0
    # The citizen is not satisfied: the case reopens and its card is posted again.
    reopened = await store.cases.rate(case.id, case.subscriber_id, "unsatisfied", now=NOW)
    assert isinstance(reopened, Changed)
    async with store.engine.begin() as conn:  # the Zalo OA window held the notices
        await conn.execute(text("UPDATE deliveries SET status = 'held'"))
    assert await forward_feedback(store, telegram, STAFF_CHAT, clock=clock) == 1
    first, again = telegram_api.messages_to(int(CHAT_A))
    assert case.shown_code in again.plain_text and "đang xử lý" in again.plain_text
    assert "thông báo cho người dân đang chờ" in again.plain_text
    assert "đang chờ" not in first.plain_text


async def test_the_app_forwards_to_a_zalo_unit_beside_a_telegram_staff_chat(
    tmp_path: Path, telegram_api: FakeTelegram, zalo: FakeZaloBot
) -> None:
    """The composition root hands the forwarder every channel: with the staff chat on
    Telegram, a unit whose group is on Zalo still gets its cards there."""
    app = await _app(
        tmp_path,
        telegram_api,
        zalo_bot_token=zalo.token,
        zalo_api_url=zalo.api_url,
        staff_chat_id=int(STAFF_CHAT),
    )
    try:
        ward = await _unit(app.store, "UBND phường", "zalo", ZALO_GROUP)
        case = await _case(app.store, ward, "Cống tắc ở tổ 5")
        await app.forward()
        [card] = zalo.messages_to(ZALO_GROUP)
        assert case.shown_code in card.text and telegram_api.messages_to(int(STAFF_CHAT)) == []
    finally:
        await app.aclose()


async def test_a_units_chat_gets_its_cards_with_no_staff_chat_configured(
    tmp_path: Path, telegram_api: FakeTelegram
) -> None:
    """An office that set up its units' groups but no central staff chat: each unit's cards
    still reach its group; a case with no unit waits, unforwarded, for a staff chat."""
    app = await _app(tmp_path, telegram_api)
    try:
        ward = await _unit(app.store, "UBND phường", "telegram", CHAT_A)
        case = await _case(app.store, ward, "Cống tắc ở tổ 5")
        stray = await _case(app.store, None, "Đèn đường hỏng", chat="502")
        await app.forward()
        [card] = telegram_api.messages_to(int(CHAT_A))
        assert case.shown_code in card.text
        assert [f.id for f in await app.store.feedback.unforwarded()] == [stray.id]
    finally:
        await app.aclose()


async def test_a_burst_of_filings_shares_forwarding_passes(
    tmp_path: Path, telegram_api: FakeTelegram
) -> None:
    """Thirty citizens write at once: each is answered only after a forwarding pass that began
    after their filing (their card is in the staff chat by then), but the filings share passes
    rather than running one each (a pass reads up to a hundred waiting cards: one per filing
    made a burst quadratic)."""
    app = await _app(tmp_path, telegram_api, staff_chat_id=int(STAFF_CHAT))
    passes: list[str] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        if "WHERE feedback.forwarded_at IS NULL" in statement:
            passes.append(statement)

    try:
        await app.store.migrate()
        feed, _ = await app.store.feeds.add("https://p.example/rss")
        [art] = await app.store.articles.add(
            feed.id,
            [NewArticle("g", "https://p.example/1", "Sửa đường", "Tóm tắt", None, None, (), NOW)],
            now=NOW,
            seen=[False],
        )
        citizens = [Who("telegram", str(600 + i), str(600 + i)) for i in range(30)]
        for who in citizens:
            await app.handle(Command(who, "start"))
        event.listen(app.store.engine.sync_engine, "before_cursor_execute", count)
        telegram_api.latency = 0.05  # a real round trip: a pass posting cards takes a while
        await asyncio.gather(
            *(app.handle(Text(who, f"PH {art.id} Ổ gà số {i}")) for i, who in enumerate(citizens))
        )
        cards = telegram_api.messages_to(int(STAFF_CHAT))
        assert len(cards) == 30 and await app.store.feedback.unforwarded() == []
        assert len(passes) <= 10, len(passes)
    finally:
        await app.aclose()


async def test_a_long_card_goes_as_text_with_every_photo_after_it(
    store: Store, telegram: TelegramChannel, telegram_api: FakeTelegram
) -> None:
    urban = await _unit(store, "Phòng Quản lý đô thị", "telegram", CHAT_A)
    case = await _case(store, urban, "Mô tả dài về vụ việc. " * 80)  # past a caption's 1024
    for ref in ("photo-one", "photo-two"):
        await store.photos.record(case.id, "telegram", ref, now=NOW)
    assert await forward_feedback(store, telegram, STAFF_CHAT, clock=clock) == 1
    card, *photos = telegram_api.messages_to(int(CHAT_A))
    assert card.method == "sendMessage" and "Ảnh: 2" in card.plain_text
    assert [(m.photo, m.reply_to_message_id) for m in photos] == [
        ("photo-one", card.message_id),
        ("photo-two", card.message_id),
    ]
    assert "Ảnh 1/2" in photos[0].plain_text
