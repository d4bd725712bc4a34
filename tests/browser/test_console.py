"""The staff web console in real headless Chromium, against `bantin run` and the fake Bot API.

What a person does, end to end: ask the bot for a link with /web and sign in with it; compose a
broadcast, see the Telegram and Zalo previews, confirm and watch the progress bar reach 100 %
while the fake subscribers receive it; and what must not happen: an editor on an admin page, a
POST without the CSRF token, a feed title's <script> running, a used or expired link working,
a session surviving logout or the member's demotion.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest

from bench.support import seed_subscribers
from bot.web import links
from storage.staff import ADMIN, EDITOR
from tests.browser.conftest import ADMIN_ID, ARTIFACTS, Running

pytestmark = pytest.mark.slow

LINK = re.compile(r"https?://\S+/admin/login/[A-Za-z0-9_%-]+")


async def link_for(run: Running, platform: str, user_id: str) -> str:
    now = run.app.clock()
    return await links.issue_login_link(run.app.store, platform, user_id, base=run.base, now=now)


async def sign_in(browser: Any, url: str) -> tuple[Any, Any]:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    await page.goto(url)
    await page.click("#signin")
    await page.wait_for_selector("#logout")
    return context, page


async def test_sign_in_with_the_link_the_bot_sent_then_broadcast_to_everyone(
    bantin: Running, browser: Any
) -> None:
    store, tg = bantin.app.store, bantin.telegram
    chats = await seed_subscribers(store, 25)

    tg.user_sends(ADMIN_ID, "/web", user_id=ADMIN_ID)
    sent = await tg.async_wait_for(
        lambda m: m.chat_id == ADMIN_ID and "/admin/login/" in (m.text or "")
    )
    match = LINK.search(sent.text or "")
    assert match, sent.text
    preview_options = sent.params.get("link_preview_options")
    assert preview_options == {"is_disabled": True}, (
        "no link preview: a preview fetch must not see it"
    )

    context, page = await sign_in(browser, match.group(0))
    assert await page.locator("h1").inner_text() == "Tổng quan"
    await page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)

    await page.click("nav >> text=Thông báo")
    await page.fill("#bc-text", "Lịch *cắt điện* ngày mai <b>không phải thẻ</b>")
    preview = page.locator(".bubble.tg")
    await preview.first.wait_for()
    assert "cắt điện" in await preview.first.inner_html()
    assert "<b>cắt điện</b>" in await preview.first.inner_html()
    assert "&lt;b&gt;không phải thẻ&lt;/b&gt;" in await preview.first.inner_html()
    assert "*cắt điện*" not in await page.locator(".bubble.plain").first.inner_text()
    assert await page.locator("#recipient-count").inner_text() == "25"
    await page.screenshot(path=str(ARTIFACTS / "composer.png"), full_page=True)

    await page.click("#bc-create")
    await page.wait_for_selector("#bc-confirm")
    await page.click("#bc-confirm")
    await page.wait_for_selector("#progress[data-done='1']", timeout=60_000)
    assert await page.locator("#bc-percent").inner_text() == "100"
    assert await page.locator("#bc-progress").get_attribute("value") == "100"
    await page.screenshot(path=str(ARTIFACTS / "broadcast-progress.png"), full_page=True)

    got = {m.chat_id for m in tg.sent if "cắt điện" in (m.plain_text or m.text or "")}
    assert got == set(chats)
    actions = [(e.actor, e.action) for e in await store.audit.recent(limit=20)]
    assert (f"telegram:{ADMIN_ID}", "broadcast.queue") in actions
    assert (f"telegram:{ADMIN_ID}", "web.login") in actions
    await context.close()


async def test_a_citizen_asking_for_a_link_gets_staff_only(bantin: Running) -> None:
    tg = bantin.telegram
    tg.user_sends(777, "/web", user_id=777)
    answer = await tg.async_wait_for(lambda m: m.chat_id == 777)
    assert "/admin/login/" not in (answer.text or "")
    assert await bantin.app.store.web.session("x") is None


async def test_an_editor_is_refused_admin_pages(bantin: Running, browser: Any) -> None:
    store = bantin.app.store
    await store.staff.ensure("telegram", "42", role=EDITOR, added_by="test")
    context, page = await sign_in(browser, await link_for(bantin, "telegram", "42"))
    assert await page.locator("nav >> text=Cán bộ").count() == 0
    for path in ("/admin/staff", "/admin/audit", "/admin/audit.csv"):
        response = await page.goto(bantin.base + path)
        assert response is not None and response.status == 403, path
    response = await page.goto(bantin.base + "/admin/broadcasts")
    assert response is not None and response.status == 200
    csrf = await page.locator("input[name=csrf]").first.get_attribute("value")
    added = await context.request.post(
        bantin.base + "/admin/feeds", form={"url": "https://portal.example/rss", "csrf": csrf}
    )
    assert added.status == 403, "feeds are changed by admins only"
    assert await store.feeds.all() == []
    assert await page.locator("#feed-add").count() == 0
    await context.close()


async def test_a_post_without_the_csrf_token_changes_nothing(bantin: Running, browser: Any) -> None:
    store = bantin.app.store
    context, page = await sign_in(browser, await link_for(bantin, "telegram", str(ADMIN_ID)))
    before = await store.staff.all()
    forged = await context.request.post(
        bantin.base + "/admin/staff",
        form={"platform": "telegram", "user_id": "666", "role": ADMIN},
    )
    assert forged.status == 403
    wrong = await context.request.post(
        bantin.base + "/admin/staff",
        form={"platform": "telegram", "user_id": "666", "role": ADMIN, "csrf": "0" * 64},
    )
    assert wrong.status == 403
    assert await store.staff.all() == before
    feeds_before = await store.feeds.all()
    status = await page.evaluate(
        """async (url) => (await fetch(url, {method: "POST",
             body: new URLSearchParams({url: "https://evil.example/feed"})})).status""",
        bantin.base + "/admin/feeds",
    )
    assert status == 403
    assert await store.feeds.all() == feeds_before
    await context.close()


async def test_script_in_a_feed_title_and_a_name_is_shown_as_text(
    bantin: Running, browser: Any
) -> None:
    store = bantin.app.store
    evil = "<script>window.__pwned = 1</script><img src=x onerror='window.__pwned=2'>"
    await store.feeds.add("https://portal.example/rss", name=evil)
    await store.subscribers.subscribe("telegram", "9001", display_name=evil)
    context, page = await sign_in(browser, await link_for(bantin, "telegram", str(ADMIN_ID)))
    await page.goto(bantin.base + "/admin/feeds")
    assert evil in await page.locator("#feeds").inner_text()
    await page.goto(bantin.base + "/admin/subscribers?q=9001")
    assert evil in await page.locator("#sub-rows").inner_text()
    assert await page.evaluate("window.__pwned") is None
    await context.close()


async def test_a_used_or_expired_link_is_refused(bantin: Running, browser: Any) -> None:
    url = await link_for(bantin, "telegram", str(ADMIN_ID))
    first, _ = await sign_in(browser, url)
    await first.close()
    again = await browser.new_context()
    page = await again.new_page()
    await page.goto(url)
    async with page.expect_response(lambda r: "/admin/login/" in r.url) as reply:
        await page.click("#signin")
    assert (await reply.value).status == 403
    assert await page.locator("#logout").count() == 0

    token = links.new_token()
    past = bantin.app.clock() - links.LOGIN_TTL - timedelta(seconds=1)
    await bantin.app.store.web.add_login_token(
        links.hash_token(token), "telegram", str(ADMIN_ID), now=past, ttl=links.LOGIN_TTL
    )
    await page.goto(links.login_url(bantin.base, token))
    async with page.expect_response(lambda r: "/admin/login/" in r.url) as reply:
        await page.click("#signin")
    assert (await reply.value).status == 403

    statuses = [
        (await again.request.post(links.login_url(bantin.base, links.new_token()))).status
        for _ in range(12)
    ]
    assert statuses[-1] == 429, statuses  # the sign-in endpoint slows a burst of guesses
    await again.close()


async def test_logout_and_demotion_end_the_session(bantin: Running, browser: Any) -> None:
    store = bantin.app.store
    await store.staff.ensure("telegram", "43", role=ADMIN, added_by="test")
    context, page = await sign_in(browser, await link_for(bantin, "telegram", "43"))
    await page.click("#logout")
    response = await page.goto(bantin.base + "/admin/")
    assert response is not None and response.status == 401

    await context.close()
    context, page = await sign_in(browser, await link_for(bantin, "telegram", "43"))
    response = await page.goto(bantin.base + "/admin/staff")
    assert response is not None and response.status == 200
    assert await store.staff.set_role_unless_last_admin("telegram", "43", role=EDITOR) == "changed"
    response = await page.goto(bantin.base + "/admin/staff")
    assert response is not None and response.status == 401, "a demoted member signs in again"
    response = await page.goto(bantin.base + "/admin/broadcasts")
    assert response is not None and response.status == 401, "the old session stays dead"
    await context.close()


async def test_console_mode_prints_a_link_for_the_demo_admin(tmp_path: Any, browser: Any) -> None:
    """`make run` without a token: the console listens on 127.0.0.1 and the banner is followed
    by a sign-in link for the demo admin."""
    import asyncio
    import io

    from bot.app.roles import run_app
    from bot.app.settings import Settings
    from tests.browser.conftest import free_port

    out = io.StringIO()
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=f"sqlite:///{tmp_path}/demo.db",
        listen=f"0.0.0.0:{free_port()}",
    )
    stop = asyncio.Event()
    task = asyncio.create_task(run_app(settings, stop=stop, out=out))
    try:
        for _ in range(600):
            match = LINK.search(out.getvalue())
            if match or task.done():
                break
            await asyncio.sleep(0.05)
        assert match, out.getvalue()
        assert match.group(0).startswith("http://127.0.0.1:")
        context, page = await sign_in(browser, match.group(0))
        assert "console:demo" in await page.locator(".me").inner_text()
        await context.close()
    finally:
        stop.set()
        assert await asyncio.wait_for(task, 60) == 0


async def test_the_console_can_be_turned_off(tmp_path: Any) -> None:
    import asyncio
    import io

    from bot.app.compose import App
    from bot.app.roles import run_app
    from bot.app.settings import Settings
    from tests.browser.conftest import free_port

    out = io.StringIO()
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=f"sqlite:///{tmp_path}/off.db",
        listen=f"127.0.0.1:{free_port()}",
        web_console=False,
    )
    started: asyncio.Future[App] = asyncio.get_running_loop().create_future()
    stop = asyncio.Event()
    task = asyncio.create_task(
        run_app(settings, stop=stop, out=out, on_start=lambda a: started.set_result(a))
    )
    try:
        app = await asyncio.wait_for(started, 60)
        assert await app.store.state.get(links.BASE_URL_KEY) == ""
        assert "/admin/login/" not in out.getvalue()
    finally:
        stop.set()
        assert await asyncio.wait_for(task, 60) == 0
