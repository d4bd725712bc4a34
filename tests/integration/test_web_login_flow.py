"""/web and /dangnhap in chat, `bantin web-login`'s storage side, and the one-time link rules,
on a real SQLite file: staff only, private chats only, used once, expires, bound to the asker."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.dialog.events import Command, Who
from bot.dialog.router import Dialog
from bot.web import links
from jobs.channel import HTML, Capabilities
from jobs.i18n import t
from storage.staff import ADMIN, EDITOR
from storage.store import Store

NOW = datetime(2026, 12, 4, 8, 0, tzinfo=UTC)
BASE = "https://bantin.example.vn"


@pytest.fixture
def store(any_store: Store) -> Store:
    """A migrated store on a SQLite file, and on a scratch PostgreSQL database when configured
    (tests/integration/conftest.py)."""
    return any_store


def dialog(store: Store) -> Dialog:
    return Dialog(store, capabilities=lambda _p: Capabilities(markup=HTML), clock=lambda: NOW)


def token_of(text: str) -> str:
    match = re.search(r"/admin/login/(\S+)", text)
    assert match, text
    return match.group(1)


@pytest.mark.parametrize("command", ["web", "dangnhap"])
async def test_staff_get_a_link_that_signs_them_in_once(store: Store, command: str) -> None:
    await store.staff.ensure("telegram", "7", role=EDITOR)
    await store.state.set(links.BASE_URL_KEY, BASE)
    out = await dialog(store).handle(Command(Who("telegram", "7", "7"), command))
    [reply] = out.replies
    assert reply.text.count(BASE + "/admin/login/") == 1
    assert not reply.link_preview
    token = token_of(reply.text)
    assert await store.web.use_login_token(links.hash_token(token), now=NOW) == ("telegram", "7")
    assert await store.web.use_login_token(links.hash_token(token), now=NOW) is None
    [entry] = await store.audit.recent(action="web.link")
    assert entry.actor == "telegram:7"


async def test_a_citizen_gets_staff_only_and_no_link(store: Store) -> None:
    await store.state.set(links.BASE_URL_KEY, BASE)
    out = await dialog(store).handle(Command(Who("telegram", "8", "8"), "web"))
    assert [r.text for r in out.replies] == [t("staff_only", "vi")]


async def test_no_link_is_posted_in_a_group(store: Store) -> None:
    await store.staff.ensure("telegram", "7", role=ADMIN)
    await store.state.set(links.BASE_URL_KEY, BASE)
    out = await dialog(store).handle(
        Command(Who("telegram", "-100", "7", chat_type="group"), "web")
    )
    assert [r.text for r in out.replies] == [t("web_login_private_only", "vi")]


async def test_without_a_running_console_staff_are_told(store: Store) -> None:
    await store.staff.ensure("telegram", "7", role=ADMIN)
    out = await dialog(store).handle(Command(Who("telegram", "7", "7"), "web"))
    assert [r.text for r in out.replies] == [t("web_login_no_console", "vi")]


async def test_a_link_expires_after_ten_minutes(store: Store) -> None:
    url = await links.issue_login_link(store, "telegram", "7", base=BASE, now=NOW)
    token = token_of(url)
    late = NOW + links.LOGIN_TTL
    assert await store.web.use_login_token(links.hash_token(token), now=late) is None
    early = NOW + links.LOGIN_TTL - timedelta(seconds=1)
    assert await store.web.use_login_token(links.hash_token(token), now=early) == ("telegram", "7")


async def test_sessions_are_stored_hashed_and_revoked_per_member(store: Store) -> None:
    cookie = links.new_token()
    s = await store.web.add_session(
        links.hash_token(cookie), "telegram", "7", ADMIN, now=NOW, lifetime=timedelta(hours=12)
    )
    assert await store.web.session(cookie) is None, "looked up by hash only"
    assert (await store.web.session(links.hash_token(cookie))) == s
    assert await store.web.revoke_all("telegram", "7", NOW) == 1
    revoked = await store.web.session(links.hash_token(cookie))
    assert revoked is not None and revoked.revoked_at == NOW


async def test_current_base_prefers_the_public_url_then_the_running_console(store: Store) -> None:
    assert await links.current_base(store, None, "0.0.0.0:8080") == "http://127.0.0.1:8080"
    await store.state.set(links.BASE_URL_KEY, "http://10.0.0.5:8081")
    assert await links.current_base(store, None, "0.0.0.0:8080") == "http://10.0.0.5:8081"
    assert await links.current_base(store, BASE + "/", "0.0.0.0:8080") == BASE


def test_the_operator_prints_a_link_for_staff_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    from typer.testing import CliRunner

    from bot.cli.main import app

    url = f"sqlite:///{tmp_path}/cli.db"
    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    monkeypatch.setenv("BANTIN_DATABASE_URL", url)
    monkeypatch.setenv("BANTIN_PUBLIC_URL", BASE + "/")
    runner = CliRunner()
    refused = runner.invoke(app, ["web-login", "telegram:9"])
    assert refused.exit_code == 1
    assert runner.invoke(app, ["web-login", "telegram"]).exit_code == 2

    async def add_staff_then_use(link: str | None = None) -> tuple[str, str] | None:
        store = Store.open(url)
        try:
            if link is None:
                await store.staff.ensure("telegram", "9", role=EDITOR)
                return None
            now = datetime.now(UTC)
            return await store.web.use_login_token(links.hash_token(token_of(link)), now=now)
        finally:
            await store.aclose()

    asyncio.run(add_staff_then_use())
    printed = runner.invoke(app, ["web-login", "telegram:9"])
    assert printed.exit_code == 0, printed.output
    link = printed.output.strip()
    assert link.startswith(BASE + "/admin/login/")
    assert asyncio.run(add_staff_then_use(link)) == ("telegram", "9")


async def test_the_console_pages_queries(store: Store) -> None:
    """Subscriber search (name with LIKE wildcards taken literally, chat id, id), counts,
    dashboard series by day, topics, failing feeds without credentials, the audit log by page."""
    from bench.support import seed_subscribers

    await seed_subscribers(store, 3)
    odd, _ = await store.subscribers.subscribe("telegram", "55", display_name="Lê_Văn 100%")
    found = await store.web.find_subscribers("_Văn 100%")
    assert [r.subscriber.id for r in found] == [odd.id]
    assert [r.subscriber.id for r in await store.web.find_subscribers("%")] == [odd.id]
    assert [r.subscriber.id for r in await store.web.find_subscribers("55")] == [odd.id]
    assert [r.subscriber.id for r in await store.web.find_subscribers(str(odd.id))] == [odd.id]
    page = await store.web.find_subscribers("", limit=2)
    rest = await store.web.find_subscribers("", after_id=page[-1].subscriber.id)
    assert len(page) == 2 and len(rest) == 2
    await store.feedback.ban(odd.id, by="t", now=NOW)
    assert (await store.web.find_subscribers("55"))[0].banned
    assert await store.web.subscriber_counts() == {("telegram", True): 4}
    [(day, platform, n)] = await store.web.new_subscribers_by_day(NOW - timedelta(days=400))
    assert platform == "telegram" and n == 4 and re.fullmatch(r"\d{4}-\d{2}-\d{2}", day)
    topic = await store.topics.add("Y tế")
    await store.preferences.choose(odd.id, topic=topic.id, on=True)
    assert await store.web.topic_counts() == [("Y tế", 1)]
    feed, _ = await store.feeds.add("https://u:secret@portal.example/rss")
    await store.feeds.record_failure(feed.id, error="HTTP 500", now=NOW, next_poll_at=NOW)
    [(feed_id, shown, _name, errors)] = await store.web.failing_feeds()
    assert (feed_id, errors) == (feed.id, 1) and "secret" not in shown
    for i in range(3):
        await store.audit.record(f"telegram:{i}", f"feed.x{i}", now=NOW + timedelta(minutes=i))
    newest = await store.web.audit_page(action="feed.", limit=2)
    assert [e.action for e in newest] == ["feed.x2", "feed.x1"]
    older = await store.web.audit_page(action="feed.", before_id=newest[-1].id)
    assert [e.action for e in older] == ["feed.x0"]
    assert await store.web.audit_page(actor="telegram:1", until=NOW) == []
