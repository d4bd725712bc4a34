"""A forged or absurd button press posted to `bantin serve`'s Telegram webhook: answered 200 with
a polite toast, and nothing in the database changes (no 500, no retry storm from Telegram)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.fakes.served import Served, serving
from tests.fakes.telegram_api import FakeTelegram

CHAT = 701


@pytest.fixture
async def served(tmp_path: Path, telegram_api: FakeTelegram) -> AsyncIterator[Served]:
    async with serving(tmp_path, telegram_api) as served:
        yield served


FORGED = [
    "st:t:424242",  # a topic that does not exist
    "st:f:424242",  # a source that does not exist
    f"st:t:{2**64}",  # past 64 bits
    "fb:99999999999999999999",
    "ib:r:99999999999999999999",
    "bc:ok:99999999999999999999",
    "bw:aud:1:t99999999999999999999",
    "fb:²",
    "zz:garbage",
]


async def test_forged_presses_answer_200_with_a_toast_and_change_nothing(served: Served) -> None:
    tg = served.tg
    store = served.app.store
    tg.user_sends(CHAT, "/start")
    (start,) = tg.take_updates()
    assert (await served.post(start)).status_code == 200
    [welcome] = await tg.async_wait_until_count(1)
    sub = await store.subscribers.get("telegram", str(CHAT))
    assert sub is not None
    prefs_before = await store.preferences.get(sub.id)
    for data in FORGED:
        query = tg.user_presses(CHAT, welcome.message_id, data, check_button=False)
        (update,) = tg.take_updates()
        response = await served.post(update)
        assert response.status_code == 200, (data, response.text)
        await tg.async_wait_until(
            lambda q=query: any(a.callback_query_id == q for a in tg.answered_callbacks),
            timeout=15,
        )
        [answer] = [a for a in tg.answered_callbacks if a.callback_query_id == query]
        polite = ("không còn dùng được", "chỉ dành cho cán bộ")  # or "staff only" for staff data
        assert answer.text and any(p in answer.text for p in polite), data
    assert await store.preferences.get(sub.id) == prefs_before
    assert await store.feedback.count() == 0
    assert await store.announcements.recent(5) == []
    assert len(tg.messages_to(CHAT)) == 1  # only the welcome: forged presses say nothing more
