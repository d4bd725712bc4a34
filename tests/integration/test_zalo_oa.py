"""Zalo OA against FakeZaloOA on loopback and a real SQLite file: the 7-day rule, the rotating
token pair (crashes included), the expired-token retry, and signed webhooks."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from aiohttp import web

from bot.adapters.zalo.bot_platform import start_webhook_server
from bot.adapters.zalo.menus import MenuChannel
from bot.adapters.zalo.official_account import (
    PLATFORM,
    OAWebhook,
    OutsideWindow,
    TokenKeeper,
    ZaloOAChannel,
)
from bot.dialog.events import Command, Event, Text
from jobs.channel import Fatal
from jobs.route.fanout import queue_announcement
from jobs.send.deliverer import Deliverer
from storage.store import Store
from storage.zalo import ZaloRepo
from tests.fakes.net import free_port
from tests.fakes.zalo_oa_api import FakeZaloOA


def now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
def oa() -> Iterator[FakeZaloOA]:
    with FakeZaloOA() as fake:
        yield fake


@pytest.fixture
async def repo(store: Store) -> ZaloRepo:
    return store.zalo


class Started:
    """One "process": its own HTTP client, keeper and channel over the shared database."""

    def __init__(self, oa: FakeZaloOA, repo: ZaloRepo, **keeper_args: object) -> None:
        self.http = httpx.AsyncClient()
        self.keeper = TokenKeeper(
            repo,
            self.http,
            app_id=oa.app_id,
            secret_key=oa.secret_key,
            oauth_url=oa.url,
            clock=now,
            **keeper_args,  # type: ignore[arg-type]
        )
        self.channel = ZaloOAChannel(self.keeper, repo, self.http, api_url=oa.url, clock=now)

    async def aclose(self) -> None:
        await self.http.aclose()


@pytest.fixture
async def process(oa: FakeZaloOA, repo: ZaloRepo) -> AsyncIterator[Started]:
    started = Started(oa, repo)
    yield started
    await started.aclose()


async def seeded(oa: FakeZaloOA, started: Started) -> tuple[str, str]:
    access, refresh = oa.authorize()
    await started.keeper.seed(access, refresh)
    return access, refresh


# -- the 7-day rule ------------------------------------------------------------------------------


async def test_outside_the_7_day_window_is_skipped_with_reason_not_retried(
    oa: FakeZaloOA, repo: ZaloRepo, store: Store, process: Started
) -> None:
    await seeded(oa, process)
    recent, stale = "u-recent", "u-stale"
    for user, days in ((recent, 1), (stale, 8)):
        oa.follow(user, at=time.time() - days * 86400)
        await repo.touch_contact(PLATFORM, user, now() - timedelta(days=days))
        await store.subscribers.subscribe(PLATFORM, user)
    ann = await store.announcements.create("Lịch cắt điện", created_by="t")
    await store.announcements.transition(ann.id, frm="draft", to="queued", now=now())
    assert await queue_announcement(store, ann.id, now=now()) == 2
    channel = MenuChannel(process.channel, repo, clock=now)
    deliverer = Deliverer(store, {PLATFORM: channel}, rate=20, clock=now)
    await deliverer.run_until_idle()
    assert [m.user_id for m in oa.sent] == [recent]  # no call at all for the stale user
    by_status = await store.deliveries.counts(kind="announcement")
    assert by_status == {"sent": 1, "cancelled": 1}  # recorded with its reason, never retried
    stale_sub = await store.subscribers.get(PLATFORM, stale)
    assert stale_sub is not None and stale_sub.active  # they come back by writing to the OA
    assert await store.deliveries.next_due_at() is None


async def test_zalo_refusing_for_the_window_is_the_same_skip(
    oa: FakeZaloOA, repo: ZaloRepo, process: Started
) -> None:
    """Our record says recent, Zalo knows better (-230): OutsideWindow all the same."""
    await seeded(oa, process)
    oa.follow("u1", at=time.time() - 9 * 86400)
    await repo.touch_contact(PLATFORM, "u1", now() - timedelta(hours=1))
    with pytest.raises(OutsideWindow):
        await process.channel.send("u1", _text("Xin chào"))


# -- tokens --------------------------------------------------------------------------------------


async def test_refresh_before_expiry_rotates_and_stores_the_pair(
    oa: FakeZaloOA, repo: ZaloRepo, process: Started
) -> None:
    _, refresh = await seeded(oa, process)
    tokens = await repo.tokens(oa.app_id)
    assert tokens is not None
    await repo.set_expiry(oa.app_id, tokens.generation, now() + timedelta(hours=2))  # near
    process.keeper.current = None
    oa.follow("u1")
    await repo.touch_contact(PLATFORM, "u1", now())
    await process.channel.send("u1", _text("Tin mới"))
    stored = await repo.tokens(oa.app_id)
    assert stored is not None and stored.generation == tokens.generation + 1
    assert oa.refreshes == 1 and not oa.valid_refresh(refresh)  # single use: spent
    assert oa.valid_refresh(stored.refresh_token)  # the new one is what we stored
    assert oa.sent[-1].access_token == stored.access_token  # used only after it was stored
    assert stored.expires_at is not None and stored.expires_at > now() + timedelta(hours=24)
    assert "AT-" not in repr(stored) and "RT-" not in repr(stored)


async def test_expired_token_answer_refreshes_then_retries_once(
    oa: FakeZaloOA, repo: ZaloRepo, process: Started
) -> None:
    access, _ = await seeded(oa, process)
    oa.follow("u1")
    await repo.touch_contact(PLATFORM, "u1", now())
    oa.expire(access)
    await process.channel.send("u1", _text("Tin mới"))
    assert oa.refreshes == 1 and len(oa.sent) == 1
    assert oa.sent[0].access_token != access


async def test_two_processes_refresh_once(oa: FakeZaloOA, repo: ZaloRepo) -> None:
    """Two senders on one database see the token expire together: one spends the refresh
    token, the other takes the stored result (a second spend would be refused)."""
    one, two = Started(oa, repo), Started(oa, repo)
    try:
        access, refresh = await seeded(oa, one)
        await two.keeper.seed(access, refresh)  # the same settings: storage is kept
        generation = (await repo.tokens(oa.app_id)).generation  # type: ignore[union-attr]
        got = await asyncio.gather(one.keeper.refresh(generation), two.keeper.refresh(generation))
        assert got[0] == got[1] and oa.refreshes == 1 and oa.refused_refreshes == 0
    finally:
        await one.aclose()
        await two.aclose()


async def test_crash_before_the_refresh_reached_zalo_is_survived(
    oa: FakeZaloOA, repo: ZaloRepo
) -> None:
    """The claim was written, then the process died: the next start finds the stored access
    token expired (getoa answers -220), takes over the stale claim and refreshes."""
    first = Started(oa, repo)
    access, _ = await seeded(oa, first)
    tokens = await repo.tokens(oa.app_id)
    assert tokens is not None
    assert await repo.begin_refresh(oa.app_id, tokens.generation, now(), timedelta(seconds=60))
    await first.aclose()  # crash
    oa.expire(access)
    second = Started(oa, repo, claim_stale=timedelta(milliseconds=200))
    try:
        await second.keeper.seed(access, _refresh_of(tokens))
        await asyncio.sleep(0.3)
        await second.channel.verify()
        stored = await repo.tokens(oa.app_id)
        assert stored is not None and stored.generation == tokens.generation + 1
        assert stored.refresh_started_at is None and oa.refreshes == 1
    finally:
        await second.aclose()


async def test_crash_after_zalo_answered_before_the_store_committed(
    oa: FakeZaloOA, repo: ZaloRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worst window: Zalo spent the refresh token, our store never committed. The next
    start goes on with the still-valid access token (we refresh hours early), records why the
    refresh fails, and a new operator-issued refresh token re-seeds storage."""
    first = Started(oa, repo)
    access, refresh = await seeded(oa, first)
    tokens = await repo.tokens(oa.app_id)
    assert tokens is not None
    await repo.set_expiry(oa.app_id, tokens.generation, now() + timedelta(hours=3))
    first.keeper.current = None

    async def crash(*args: object, **kwargs: object) -> bool:
        raise SystemExit("power cut between Zalo's answer and our commit")

    monkeypatch.setattr(repo, "store_refreshed", crash)
    oa.follow("u1")
    await repo.touch_contact(PLATFORM, "u1", now())
    with pytest.raises(SystemExit):
        await first.channel.send("u1", _text("Tin"))
    await first.aclose()
    monkeypatch.undo()
    assert oa.refreshes == 1 and not oa.valid_refresh(refresh)  # Zalo rotated; we lost it

    second = Started(oa, repo, claim_stale=timedelta(milliseconds=1))
    try:
        await second.keeper.seed(access, refresh)  # same settings as before: nothing re-seeded
        await second.channel.verify()  # the old access token still works
        await second.channel.send("u1", _text("Vẫn gửi được"))
        assert oa.sent[-1].text == "Vẫn gửi được" and oa.sent[-1].access_token == access
        stored = await repo.tokens(oa.app_id)
        assert stored is not None and stored.last_error and "-14014" in stored.last_error
        with pytest.raises(Fatal) as err:  # once the old token expires: a clear instruction
            oa.expire(access)
            await second.channel.send("u1", _text("Hết hạn"))
        assert "BANTIN_ZALO_OA_REFRESH_TOKEN" in err.value.description
        assert access not in err.value.description and refresh not in err.value.description
        new_access, new_refresh = oa.authorize()  # the operator re-authorizes
        await second.keeper.seed(new_access, new_refresh)
        await second.channel.send("u1", _text("Đã cấp quyền lại"))
        assert oa.sent[-1].access_token == new_access
    finally:
        await second.aclose()


# -- webhook -------------------------------------------------------------------------------------


async def test_signed_events_only(oa: FakeZaloOA, repo: ZaloRepo, store: Store) -> None:
    got: list[Event] = []

    async def handle(event: Event) -> None:
        got.append(event)

    hook = OAWebhook(
        app_id=oa.app_id, secret=oa.oa_secret, repo=repo, store=store, handle=handle, clock=now
    )
    runner = await start_webhook_server(f"127.0.0.1:{free_port()}", {"/zalo/oa": hook})
    try:
        url = _url(runner) + "/zalo/oa"
        forged = oa.text_event("u9", "Tin giả")
        assert await oa.send_event(url, forged, signature="mac=" + "0" * 64) == 401
        tampered_body, headers = oa.signed(oa.text_event("u9", "Xin chào"))
        async with httpx.AsyncClient() as client:
            bad = await client.post(
                url, content=tampered_body.replace(b"u9", b"u8"), headers=headers
            )
        assert bad.status_code == 401
        assert await repo.last_contact(PLATFORM, "u9") is None and not got

        event = oa.text_event("u9", "Xin chào")
        assert await oa.send_event(url, event) == 200
        assert await oa.send_event(url, event) == 200  # Zalo's retry of the same event
        assert await oa.send_event(url, oa.follow_event("u7")) == 200
        await _until(lambda: len(got) >= 2)
        await asyncio.sleep(0.1)
        assert [type(e) for e in got] == [Text, Command]  # the retry was dropped
        assert isinstance(got[1], Command) and got[1].name == "start"
        assert await repo.last_contact(PLATFORM, "u9") is not None

        await store.subscribers.subscribe(PLATFORM, "u7")
        assert await oa.send_event(url, oa.follow_event("u7", "unfollow")) == 200
        sub = await store.subscribers.get(PLATFORM, "u7")
        assert sub is not None and not sub.active
    finally:
        await runner.cleanup()


def _text(text: str) -> object:
    from jobs.channel import PLAIN, OutMessage

    return OutMessage(text=text, markup=PLAIN)


def _refresh_of(tokens: object) -> str:
    return tokens.refresh_token  # type: ignore[attr-defined,no-any-return]


def _url(runner: web.AppRunner) -> str:
    site = next(iter(runner.sites))
    return site.name  # "http://127.0.0.1:PORT"


async def _until(condition: object, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not met"
        await asyncio.sleep(0.01)
