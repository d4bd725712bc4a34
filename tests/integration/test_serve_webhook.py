"""`bantin serve` with a Telegram webhook, in-process against the fake Bot API.

Telegram posts updates to /telegram with the secret it was given in setWebhook; anything
without that secret is refused before it is read and changes nothing. A handled update is
stored before the 200, replied to after it, and a retried update id is handled once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from bot.adapters.telegram.webhook import SECRET_HEADER
from tests.fakes.served import SECRET, Served, serving
from tests.fakes.telegram_api import FakeTelegram


@pytest.fixture
async def served(tmp_path: Path, telegram_api: FakeTelegram) -> AsyncIterator[Served]:
    async with serving(tmp_path, telegram_api) as served:
        yield served


async def test_serve_registers_the_webhook_with_its_secret(served: Served) -> None:
    url, secret = served.tg.webhook
    assert url == "https://bantin.example.vn/telegram"
    assert secret == SECRET


@pytest.mark.parametrize("secret", [None, "", "wrong-secret", SECRET + "x", SECRET[:-1]])
async def test_wrong_or_missing_secret_is_rejected_and_changes_nothing(
    served: Served, secret: str | None
) -> None:
    served.tg.user_sends(501, "/start")
    (update,) = served.tg.take_updates()
    response = await served.post(update, secret=secret)
    assert response.status_code == 401
    await asyncio.sleep(0.3)
    assert await served.subscribers() == 0
    assert served.tg.sent == []
    # the same update with the right secret is then handled: nothing was marked as seen
    assert (await served.post(update)).status_code == 200
    assert await served.subscribers() == 1


async def test_start_by_webhook_subscribes_and_replies(served: Served) -> None:
    served.tg.user_sends(502, "/start", first_name="Lan")
    (update,) = served.tg.take_updates()
    response = await served.post(update)
    assert response.status_code == 200
    assert await served.subscribers() == 1  # stored before the answer
    replies = await served.tg.async_wait_until_count(1)
    assert replies[0].chat_id == 502


async def test_a_retried_update_is_handled_once(served: Served) -> None:
    served.tg.user_sends(503, "/start")
    (update,) = served.tg.take_updates()
    first, second = await asyncio.gather(served.post(update), served.post(update))
    assert first.status_code == second.status_code == 200
    assert (await served.post(update)).status_code == 200
    await served.tg.async_wait_until_count(1)
    await asyncio.sleep(0.5)
    assert len(served.tg.messages_to(503)) == 1


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'{"no_update_id": 1}'])
async def test_a_body_that_is_not_an_update_is_refused(served: Served, body: bytes) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.post(
            served.url + "/telegram", content=body, headers={SECRET_HEADER: SECRET}
        )
    assert response.status_code == 400
    assert await served.subscribers() == 0


async def test_serve_also_answers_healthz_and_metrics(served: Served) -> None:
    async with httpx.AsyncClient() as client:
        metrics = await client.get(served.url + "/metrics")
        health = await client.get(served.url + "/healthz")
    assert metrics.status_code == 200
    assert "bantin_" in metrics.text
    # No scheduler runs here: its heartbeat is shown, not judged (restarting serve won't help).
    assert health.status_code == 200, health.text
    assert health.json()["checks"]["scheduler"]["judged"] is False
