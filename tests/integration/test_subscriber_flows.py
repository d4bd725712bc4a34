"""The subscriber flows (onboarding, topics and sources, deep links, digests, quiet hours)
against the fake Bot API: the real Dialog, a real SQLite store, and
python-telegram-bot's HTTP client reading updates (UpdatePoller) and sending replies.

Clock: 15:00 in Vietnam unless a test moves it (digests, quiet hours).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pytest

from bot.adapters.telegram.adapter import TelegramChannel, UpdatePoller, make_bot
from bot.dialog.events import Event
from bot.dialog.respond import carry_out
from bot.dialog.router import Dialog, install_admin_check
from jobs.route.fanout import fan_out_articles, queue_announcement, queue_due_digests
from jobs.route.match import fold
from jobs.send.deliverer import Deliverer
from storage.kinds import AnnouncementStatus, OutboxKind
from storage.records import NewArticle
from storage.store import Store
from tests.fakes.telegram_api import JSON, FakeTelegram

NOW = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)  # 15:00 in Vietnam
CHAT = 701


class AdminAwareTelegram(FakeTelegram):
    """FakeTelegram plus getChatMember: `admins` maps a group chat to its admin user ids."""

    admins: ClassVar[dict[int, set[int]]] = {}

    def _m_getchatmember(self, params: JSON) -> JSON:
        chat, user = int(params["chat_id"]), int(params["user_id"])
        status = "administrator" if user in self.admins.get(chat, set()) else "member"
        return {"status": status, "user": {"id": user, "is_bot": False, "first_name": "U"}}


@dataclass
class Rig:
    tg: AdminAwareTelegram
    store: Store
    channel: TelegramChannel
    now: list[datetime]

    async def say(self, text: str, chat: int = CHAT, **kw: Any) -> Any:
        before = len(self.tg.messages_to(chat))
        self.tg.user_sends(chat, text, **kw)
        await self.tg.async_wait_until(lambda: len(self.tg.messages_to(chat)) > before)
        return self.tg.messages_to(chat)[-1]

    async def press(self, message: Any, data: str, chat: int = CHAT, **kw: Any) -> JSON:
        """Press a button; returns the message as it reads after the press was answered."""
        answered = len(self.tg.answered_callbacks)
        self.tg.user_presses(chat, message.message_id, data, **kw)
        await self.tg.async_wait_until(lambda: len(self.tg.answered_callbacks) > answered)
        await asyncio.sleep(0.05)  # the edit or reply goes out right after the answer
        return self.tg.current_message(chat, message.message_id) or {}

    async def article(self, feed_id: int, guid: str, title: str, **kw: Any) -> int:
        new = NewArticle(
            guid=guid,
            link=f"https://p.example/{guid}",
            title=title,
            summary=kw.get("summary", "Tóm tắt."),
            body=None,
            image_url=kw.get("image"),
            categories=tuple(kw.get("categories", ())),
            published_at=NOW,
        )
        [row] = await self.store.articles.add(feed_id, [new], now=self.now[0], seen=[False])
        return row.id

    async def deliver(self) -> int:
        """Run the real deliverer, at the rig's clock, until nothing is due; rows handled."""
        deliverer = Deliverer(
            self.store, {"telegram": self.channel}, rate=None, clock=lambda: self.now[0]
        )
        return await deliverer.run_until_idle()


@pytest.fixture
async def rig(tmp_path: object) -> AsyncIterator[Rig]:
    with AdminAwareTelegram(token="123:TEST") as tg:
        store = Store.open(f"sqlite:///{tmp_path}/flows.db")
        await store.migrate()
        bot = make_bot(tg.token, tg.api_url)
        await bot.initialize()
        channel = TelegramChannel(bot)
        now = [NOW]
        dialog = Dialog(store, capabilities=lambda _p: channel.capabilities, clock=lambda: now[0])
        install_admin_check(dialog, "telegram", channel.is_admin)

        async def handle(event: Event) -> None:
            await carry_out(channel, event, await dialog.handle(event))

        stop = asyncio.Event()
        task = asyncio.create_task(UpdatePoller(bot, handle, timeout=1).run(stop))
        try:
            yield Rig(tg, store, channel, now)
        finally:
            stop.set()
            await asyncio.wait_for(task, 10)
            await bot.shutdown()
            await store.aclose()


async def setup_topics(rig: Rig) -> tuple[int, int, int]:
    feed, _ = await rig.store.feeds.add("https://a.example/rss", name="Huyện A")
    topic = await rig.store.topics.add("An ninh")
    await rig.store.topics.map(fold("AN NINH - Quốc phòng"), topic.id)
    other = await rig.store.topics.add("Giáo dục")
    return feed.id, topic.id, other.id


async def test_onboarding_then_topic_and_source_choice(rig: Rig) -> None:
    feed, topic, _ = await setup_topics(rig)
    welcome = await rig.say("/start", first_name="Lan")
    assert "Xin chào Lan" in welcome.plain_text and "Nhận tất cả tin" in str(welcome.buttons)
    # One tap keeps everything.
    done = await rig.press(welcome, "st:ok")
    assert "mọi tin" in done["text"]
    prefs = await rig.store.preferences.get(1)
    assert prefs.all_news
    # Choose a topic, then a source, from /caidat.
    screen = await rig.say("/caidat")
    assert "tất cả tin" in screen.plain_text
    shown = await rig.press(screen, "st:topics")
    assert "An ninh" in str(shown["reply_markup"])
    await rig.press(screen, f"st:t:{topic}")
    await rig.press(screen, "st:home")
    await rig.press(screen, "st:feeds")
    after = await rig.press(screen, f"st:f:{feed}")
    assert "✅ Huyện A" in str(after["reply_markup"])
    prefs = await rig.store.preferences.get(1)
    assert not prefs.all_news and prefs.topics == {topic} and prefs.feeds == {feed}
    # Fan-out follows the mix: a topic article from another feed arrives, others do not.
    other_feed, _ = await rig.store.feeds.add("https://b.example/rss", name="Huyện B")
    wanted = await rig.article(other_feed.id, "x1", "Tuần tra", categories=["An ninh - quốc phòng"])
    unwanted = await rig.article(other_feed.id, "x2", "Khai giảng", categories=["Giáo dục"])
    await fan_out_articles(rig.store, now=rig.now[0])
    items = {r.item_id for r in await rig.store.deliveries.all() if r.kind == OutboxKind.ARTICLE}
    assert wanted in items and unwanted not in items
    # "All news" forgets the mix.
    await rig.press(screen, "st:all")
    assert (await rig.store.preferences.get(1)).all_news


async def test_deep_link_subscribes_to_a_topic(rig: Rig) -> None:
    _, topic, _ = await setup_topics(rig)
    reply = await rig.say(f"/start t{topic}")
    assert "An ninh" in reply.plain_text and "Xin chào" in reply.plain_text
    prefs = await rig.store.preferences.get(1)
    assert prefs.topics == {topic} and not prefs.all_news
    bad = await rig.say("/start t999")
    assert "không còn hợp lệ" in bad.plain_text


async def test_keywords_with_and_without_diacritics(rig: Rig) -> None:
    feed, _ = await rig.store.feeds.add("https://a.example/rss")
    await rig.say("/start")
    added = await rig.say("/tukhoa an ninh, -xổ số")
    assert "an ninh" in added.plain_text
    listed = await rig.say("/keywords")
    assert "an ninh" in listed.plain_text and "xổ số" in listed.plain_text
    yes = await rig.article(feed.id, "k1", "Bảo đảm AN NINH dịp Tết")
    plain = await rig.article(feed.id, "k2", "Bao dam an ninh nong thon")
    no = await rig.article(feed.id, "k3", "An ninh và xo so kien thiet")
    off = await rig.article(feed.id, "k4", "Anh hùng lao động")
    await fan_out_articles(rig.store, now=rig.now[0])
    items = {r.item_id for r in await rig.store.deliveries.all() if r.kind == OutboxKind.ARTICLE}
    assert items == {yes, plain} and no not in items and off not in items
    removed = await rig.say("/tukhoa xoa an ninh")
    assert "Đã bỏ" in removed.plain_text


async def test_digest_at_a_set_time(rig: Rig) -> None:
    feed, _ = await rig.store.feeds.add("https://a.example/rss", name="Huyện A")
    await rig.say("/start")
    screen = await rig.say("/caidat")
    await rig.press(screen, "st:times")
    saved = await rig.say("8:00, 17h")
    assert "08:00, 17:00" in saved.plain_text
    prefs = await rig.store.preferences.get(1)
    assert prefs.mode == "digest" and prefs.digest_times == ("08:00", "17:00")
    for n in range(3):
        await rig.article(feed.id, f"d{n}", f"Tin số {n} <&>")
    await fan_out_articles(rig.store, now=rig.now[0])  # 15:00: waits for 17:00
    assert not [r for r in await rig.store.deliveries.all() if r.kind == OutboxKind.ARTICLE]
    rig.now[0] = NOW + timedelta(hours=1, minutes=59)  # 16:59
    assert await queue_due_digests(rig.store, now=rig.now[0]) == 0
    rig.now[0] = NOW + timedelta(hours=2)  # 17:00
    assert await queue_due_digests(rig.store, now=rig.now[0]) == 1
    assert await queue_due_digests(rig.store, now=rig.now[0]) == 0  # once
    assert await rig.deliver() == 1
    digest = rig.tg.messages_to(CHAT)[-1]
    assert "Bản tin tổng hợp" in digest.plain_text and "3 tin" in digest.plain_text
    assert all(f"Tin số {n} <&>" in digest.plain_text for n in range(3))


async def test_quiet_hours_and_urgent_bypass(rig: Rig) -> None:
    await rig.store.state.set("quiet_hours_default", "22:00-06:00")
    await rig.say("/start")
    rig.now[0] = datetime(2026, 11, 28, 16, 0, tzinfo=UTC)  # 23:00 in Vietnam
    morning = datetime(2026, 11, 28, 23, 0, tzinfo=UTC)  # 06:00
    ann = await rig.store.announcements.create("Lịch họp", created_by="t")
    await rig.store.announcements.transition(
        ann.id, frm=AnnouncementStatus.DRAFT, to=AnnouncementStatus.QUEUED, now=rig.now[0]
    )
    await queue_announcement(rig.store, ann.id, now=rig.now[0])
    urgent = await rig.store.announcements.create("Cảnh báo lũ", created_by="t")
    await rig.store.announcements.set_urgent(urgent.id)
    await rig.store.announcements.transition(
        urgent.id, frm=AnnouncementStatus.DRAFT, to=AnnouncementStatus.QUEUED, now=rig.now[0]
    )
    await queue_announcement(rig.store, urgent.id, now=rig.now[0])
    rows = {
        r.item_id: r for r in await rig.store.deliveries.all() if r.kind == OutboxKind.ANNOUNCEMENT
    }
    assert rows[ann.id].next_attempt_at == morning
    assert rows[urgent.id].next_attempt_at == rig.now[0]
    # The subscriber turns quiet hours off: later pushes go at once.
    screen = await rig.say("/caidat")
    await rig.press(screen, "st:quiet")
    saved = await rig.say("tắt")
    assert "Giờ yên lặng: tắt" in saved.plain_text
    feed, _ = await rig.store.feeds.add("https://a.example/rss")
    art = await rig.article(feed.id, "q1", "Tin đêm")
    await fan_out_articles(rig.store, now=rig.now[0])
    [row] = [
        r
        for r in await rig.store.deliveries.all()
        if r.item_id == art and r.kind == OutboxKind.ARTICLE
    ]
    assert row.next_attempt_at == rig.now[0]


async def test_settings_language_switch_latest_and_search(rig: Rig) -> None:
    feed, _ = await rig.store.feeds.add("https://a.example/rss", name="Huyện A")
    await rig.say("/start")
    await rig.article(feed.id, "s1", "Đường sắt đô thị khởi công", summary="Dự án lớn.")
    await rig.article(feed.id, "s2", "Hội nghị an ninh", summary="Bảo đảm trật tự.")
    latest = await rig.say("/moinhat")
    assert "Hội nghị an ninh" in latest.plain_text and "Đường sắt" in latest.plain_text
    found = await rig.say("/tim duong sat")
    assert "Đường sắt đô thị" in found.plain_text and "an ninh" not in found.plain_text
    found = await rig.say("/search ĐƯỜNG SẮT")
    assert "Đường sắt đô thị" in found.plain_text
    none = await rig.say("/tim cầu treo")
    assert "Không tìm thấy" in none.plain_text
    screen = await rig.say("/caidat")
    switched = await rig.press(screen, "st:lang")
    assert "Switched to English" in switched["text"]
    assert (await rig.store.subscribers.get("telegram", str(CHAT))).language == "en"  # type: ignore[union-attr]
    back = await rig.say("/lang")
    assert "Tiếng Việt" in back.plain_text
    preview = await rig.press(screen, "st:preview")
    assert (await rig.store.preferences.get(1)).link_preview
    assert "Tắt xem trước" in str(preview["reply_markup"])


async def test_group_admin_rule(rig: Rig) -> None:
    group, admin, member = -4001, 11, 12
    rig.tg.admins = {group: {admin}}
    refused = await rig.say("/start", chat=group, user_id=member, chat_type="group")
    assert "quản trị viên" in refused.plain_text
    sub = await rig.store.subscribers.get("telegram", str(group))
    assert sub is None or not sub.active
    welcome = await rig.say("/start", chat=group, user_id=admin, chat_type="group")
    assert "Xin chào" in welcome.plain_text
    screen = await rig.say("/caidat", chat=group, user_id=admin, chat_type="group")
    answered = len(rig.tg.answered_callbacks)
    await rig.press(screen, "st:mode", chat=group, user_id=member)
    assert "quản trị viên" in (rig.tg.answered_callbacks[answered].text or "")
    sub = await rig.store.subscribers.get("telegram", str(group))
    assert sub is not None and (await rig.store.preferences.get(sub.id)).mode == "instant"
    await rig.press(screen, "st:mode", chat=group, user_id=admin)
    assert (await rig.store.preferences.get(sub.id)).mode == "digest"


async def test_photo_with_caption_and_fallback_to_text(rig: Rig) -> None:
    feed, _ = await rig.store.feeds.add("https://a.example/rss", name="Huyện A")
    await rig.say("/start")
    long = "Nội dung rất dài. " * 200
    await rig.article(
        feed.id, "p1", "Ảnh hội nghị", summary=long, image="https://img.example/1.jpg"
    )
    await fan_out_articles(rig.store, now=rig.now[0])
    assert await rig.deliver() == 1
    photo = rig.tg.messages_to(CHAT)[-1]
    assert photo.method == "sendPhoto" and photo.photo == "https://img.example/1.jpg"
    assert len(photo.plain_text) <= 1024 and "Ảnh hội nghị" in photo.plain_text
    rig.tg.fail(
        method="sendPhoto", code=400, description="Bad Request: failed to get HTTP URL content"
    )
    await rig.article(feed.id, "p2", "Ảnh hỏng", image="https://img.example/broken.jpg")
    await fan_out_articles(rig.store, now=rig.now[0])
    assert await rig.deliver() == 1
    text = rig.tg.messages_to(CHAT)[-1]
    assert text.method == "sendMessage" and "Ảnh hỏng" in text.plain_text
