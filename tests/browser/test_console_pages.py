"""Every console page does its job in Chromium: feeds (add, OPML import and export, remove),
subscribers (search, one subscriber, refuse and accept feedback), staff (add, change, the last
admin kept), the audit log (filter, CSV with formulas neutralised), the language switch, a
phone-sized screen, and the dashboard's charts with their numbers."""

from __future__ import annotations

from typing import Any

import pytest

from bench.support import seed_subscribers
from bot.web import links
from storage.staff import ADMIN
from tests.browser.conftest import ADMIN_ID, ARTIFACTS, Running

pytestmark = pytest.mark.slow

OPML = b"""<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0"><head><title>x</title></head><body>
<outline text="Tin huyen"><outline text="Xa A" xmlUrl="https://xa-a.example.vn/rss"/></outline>
<outline text="Xa B" xmlUrl="https://xa-b.example.vn/rss"/>
</body></opml>"""


async def admin_page(run: Running, browser: Any, **context_args: Any) -> tuple[Any, Any]:
    url = await links.issue_login_link(
        run.app.store, "telegram", str(ADMIN_ID), base=run.base, now=run.app.clock()
    )
    context = await browser.new_context(**context_args)
    page = await context.new_page()
    await page.goto(url)
    await page.click("#signin")
    await page.wait_for_selector("#logout")
    return context, page


async def test_feeds_add_import_export_and_remove(bantin: Running, browser: Any) -> None:
    store = bantin.app.store
    context, page = await admin_page(bantin, browser)
    await page.goto(bantin.base + "/admin/feeds")
    await page.fill("#feed-url", "file:///etc/passwd")
    await page.evaluate("document.getElementById('feed-url').type = 'text'")
    await page.click("#feed-add button[type=submit]")
    assert await page.locator(".error").count() >= 1
    assert await store.feeds.all() == []

    await page.fill("#feed-url", "https://user:secret@portal.example.vn/rss")
    await page.fill("#feed-name", "Cổng huyện")
    await page.click("#feed-add button[type=submit]")
    await page.wait_for_selector("text=Cổng huyện")
    assert "secret" not in await page.content(), "credentials are never shown"

    await page.set_input_files(
        "#opml-file", files=[{"name": "f.opml", "mimeType": "text/xml", "buffer": OPML}]
    )
    await page.click("text=Nhập từ tệp OPML >> xpath=ancestor::form//button")
    await page.wait_for_selector("text=Xa A")
    assert {f.url for f in await store.feeds.all()} >= {
        "https://xa-a.example.vn/rss",
        "https://xa-b.example.vn/rss",
    }
    exported = await context.request.get(bantin.base + "/admin/feeds/export.opml")
    body = (await exported.body()).decode()
    assert "xa-b.example.vn" in body and "secret" not in body

    [feed] = [f for f in await store.feeds.all() if f.name == "Cổng huyện"]
    await page.click(f"#feed-{feed.id} button")
    await page.wait_for_selector(f"#feed-{feed.id}", state="detached")
    actions = [e.action for e in await store.audit.recent(limit=10)]
    assert {"feed.add", "feed.import", "feed.remove"} <= set(actions)
    await context.close()


async def test_subscribers_search_detail_and_refusing_feedback(
    bantin: Running, browser: Any
) -> None:
    store = bantin.app.store
    sub, _ = await store.subscribers.subscribe("telegram", "424242", display_name="Nguyễn Văn An")
    await seed_subscribers(store, 5)
    context, page = await admin_page(bantin, browser)
    await page.goto(bantin.base + "/admin/subscribers")
    await page.fill("#sub-q", "Văn An")
    from playwright.async_api import expect

    await expect(page.locator("#sub-rows tbody tr")).to_have_count(1)
    await page.click("#sub-rows >> text=" + str(sub.id))
    await page.wait_for_selector("#sub-toggle")
    await page.click("#sub-toggle")
    await page.wait_for_selector("text=Bỏ chặn")
    assert await store.feedback.is_banned(sub.id)
    await page.click("#sub-toggle")
    await page.wait_for_selector("text=Chặn gửi phản ánh")
    assert not await store.feedback.is_banned(sub.id)
    actions = [e.action for e in await store.audit.recent(limit=5)]
    assert "citizen.ban" in actions and "citizen.unban" in actions
    await context.close()


async def test_staff_are_managed_and_the_last_admin_is_kept(bantin: Running, browser: Any) -> None:
    store = bantin.app.store
    context, page = await admin_page(bantin, browser)
    await page.goto(bantin.base + "/admin/staff")
    await page.select_option("#staff-platform", "zalo")
    await page.fill("#staff-user", "abc123")
    await page.select_option("#staff-role", "editor")
    await page.click("#staff-add button[type=submit]")
    await page.wait_for_selector("#staff >> text=abc123")
    assert await store.staff.role_of("zalo", "abc123") == "editor"

    await page.select_option("#staff-platform", "telegram")
    await page.fill("#staff-user", str(ADMIN_ID))
    await page.select_option("#staff-role", "editor")
    await page.click("#staff-add button[type=submit]")
    await page.wait_for_selector("[role=alert]")
    assert await store.staff.role_of("telegram", str(ADMIN_ID)) == ADMIN

    await store.audit.record("telegram:1", "note", None, '=HYPERLINK("http://x")')
    await page.goto(bantin.base + "/admin/audit?action=staff")
    assert await page.locator("#audit tbody tr").count() == 1
    csv = await context.request.get(bantin.base + "/admin/audit.csv")
    text = (await csv.body()).decode("utf-8-sig")
    assert "'=HYPERLINK" in text and "staff.add" in text
    await context.close()


async def test_english_a_phone_screen_and_the_dashboard_charts(
    bantin: Running, browser: Any
) -> None:
    store = bantin.app.store
    await seed_subscribers(store, 12)
    topic = await store.topics.add("Giao thông <i>")
    follower = await store.subscribers.get("telegram", "10000003")
    assert follower is not None
    await store.preferences.choose(follower.id, topic=topic.id, on=True)
    phone = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
    context, page = await admin_page(bantin, browser, **phone)
    await page.wait_for_selector("#chart-subs canvas")
    assert await page.locator("#active-subscribers").inner_text() == "12"
    assert await page.locator("#topics tbody").inner_text() == "Giao thông <i>\t1"
    await page.click("text=Xem số liệu >> nth=0")
    assert "12" in await page.locator("details").first.inner_text()
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390 + 1, "nothing wider than the phone's screen"
    await page.screenshot(path=str(ARTIFACTS / "dashboard-phone.png"), full_page=True)

    await page.click("text=English")
    await page.wait_for_selector("h1 >> text=Dashboard")
    await page.goto(bantin.base + "/admin/broadcasts")
    assert await page.locator("label[for=bc-text]").inner_text() == "Text"
    await page.click("text=Tiếng Việt")
    await page.wait_for_selector("h1 >> text=Thông báo")
    await context.close()


async def test_cases_has_a_placeholder_and_unknown_pages_a_404(
    bantin: Running, browser: Any
) -> None:
    context, page = await admin_page(bantin, browser)
    response = await page.goto(bantin.base + "/admin/cases")
    assert response is not None and response.status == 200
    response = await page.goto(bantin.base + "/admin/nope")
    assert response is not None and response.status == 404
    response = await page.goto(bantin.base + "/admin/broadcasts/99999999999")
    assert response is not None and response.status == 404
    headers = (await page.goto(bantin.base + "/admin/")).headers  # type: ignore[union-attr]
    assert "script-src 'self'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"
    await context.close()


async def test_the_audience_count_follows_the_picker_and_a_schedule_waits(
    bantin: Running, browser: Any
) -> None:
    from playwright.async_api import expect

    store = bantin.app.store
    await seed_subscribers(store, 6)
    feed, _ = await store.feeds.add("https://portal.example.vn/rss", name="Cổng huyện")
    picky = await store.subscribers.get("telegram", "10000000")
    assert picky is not None
    await store.preferences.update(picky.id, all_news=False)  # follows nothing: not in feed:ID
    context, page = await admin_page(bantin, browser)
    await page.goto(bantin.base + "/admin/broadcasts")
    await expect(page.locator("#recipient-count")).to_have_text("6")
    await page.select_option("#bc-audience", f"feed:{feed.id}")
    await expect(page.locator("#recipient-count")).to_have_text("5")

    await page.fill("#bc-text", "Họp dân tổ 5")
    await page.fill("#bc-when", "2099-01-01T08:00")
    await page.check("#bc-urgent")
    await page.click("#bc-create")
    await page.click("#bc-confirm")
    await expect(page.locator("#bc-status")).to_have_text("đã hẹn giờ")
    [ann] = [a for a in await store.announcements.recent(5) if a.text == "Họp dân tổ 5"]
    assert ann.status == "scheduled" and ann.audience == f"feed:{feed.id}"
    assert await store.announcements.is_urgent(ann.id)
    assert not [m for m in bantin.telegram.sent if "Họp dân" in (m.text or "")]
    await page.click("#bc-cancel")
    await expect(page.locator("#bc-status")).to_have_text("đã hủy")
    actions = [e.action for e in await store.audit.recent(limit=5)]
    assert "broadcast.schedule" in actions and "broadcast.cancel" in actions
    await context.close()


async def test_no_page_shows_a_secret_or_breaks_its_own_policy(
    bantin: Running, browser: Any
) -> None:
    """No secret setting on any page, and nothing the pages ship (htmx, uPlot, console.js) is
    blocked by the Content-Security-Policy or fails in the browser's console."""
    await seed_subscribers(bantin.app.store, 3)
    secret = bantin.telegram.token
    context, page = await admin_page(bantin, browser)
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    for path in ("/", "/broadcasts", "/feeds", "/subscribers", "/staff", "/audit", "/cases"):
        await page.goto(bantin.base + "/admin" + path)
        await page.wait_for_load_state("networkidle")
        assert secret not in await page.content(), path
        assert secret.split(":")[1] not in await page.content(), path
    await page.goto(bantin.base + "/admin/broadcasts")
    await page.fill("#bc-text", "*thử*")
    await page.locator(".bubble.tg").first.wait_for()
    assert problems == []
    await context.close()
