"""Phản ánh in real headless Chromium, against `bantin run` and the fake Bot API: staff find a
case in the queue, answer it from its page and the fake citizen receives the answer; taking
and closing it send the citizen their notices; the page shows the thread with internal notes
marked, our stored photo (through the console, never a platform URL) and the history. And
what must not happen: an editor of another unit seeing or changing the case, a POST without
the CSRF token changing anything, a citizen's <script> running."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import pytest
from PIL import Image

from bot.web import links
from storage.feedback import CaseIntake, RateLimit
from storage.kinds import TicketState
from storage.records import NewArticle
from storage.staff import EDITOR
from storage.store import Store
from tests.browser.conftest import ADMIN_ID, ARTIFACTS, Running

pytestmark = pytest.mark.slow

CITIZEN = 7_100_001
LIMIT = RateLimit(count=1000, seconds=1)


async def sign_in(run: Running, browser: Any, user_id: str) -> tuple[Any, Any]:
    url = await links.issue_login_link(
        run.app.store, "telegram", user_id, base=run.base, now=run.app.clock()
    )
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    await page.goto(url)
    await page.click("#signin")
    await page.wait_for_selector("#logout")
    return context, page


async def file_case(
    store: Store,
    chat: int,
    text: str,
    *,
    unit_id: int | None = None,
    name: str = "Chị Hoa",
    article_id: int | None = None,
) -> int:
    sub, _ = await store.subscribers.subscribe("telegram", str(chat), display_name=name)
    now = store_now()
    filed = await store.feedback.file(
        sub.id,
        article_id,
        text,
        limit=LIMIT,
        now=now,
        intake=CaseIntake(unit_id=unit_id, due_at=now + timedelta(days=3)),
    )
    assert not hasattr(filed, "reason"), filed
    return filed.id  # type: ignore[union-attr]


def store_now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


async def test_answer_take_and_close_a_case_from_its_page(bantin: Running, browser: Any) -> None:
    store, tg = bantin.app.store, bantin.telegram
    case_id = await file_case(store, CITIZEN, "Đường Lê Lợi có ổ gà rất lớn trước số 12")
    await file_case(store, CITIZEN + 1, "Đèn đường tắt", name="Anh Nam")
    unit = (await store.cases.get(case_id)).unit_id  # type: ignore[union-attr]
    assert await store.units.add_canned(
        unit,
        "Đã tiếp nhận",
        "Cảm ơn {ten}, phản ánh {ma_phan_anh} đã được chuyển xử lý.",
        created_by="test",
    )
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(buf, "JPEG")
    key = await bantin.app.media.put(buf.getvalue(), "image/jpeg")
    shot = await store.photos.record(case_id, "telegram", "file-id-secret-token")
    await store.photos.mark_fetched(
        shot.id,
        media_key=key,
        content_type="image/jpeg",
        size=len(buf.getvalue()),
        width=64,
        height=48,
        now=store_now(),
    )
    await store.cases.note(
        case_id, actor="telegram:1", text="Đã gọi điện xác minh", now=store_now()
    )

    from playwright.async_api import expect

    context, page = await sign_in(bantin, browser, str(ADMIN_ID))
    problems: list[str] = []  # CSP refusals and script errors show up here
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    await page.click("nav >> text=Phản ánh")
    await page.fill("#cq-q", "duong le loi")
    await expect(page.locator("#cases tbody tr")).to_have_count(1)
    assert "ổ gà" in await page.locator("#cases").inner_text()
    assert "q=duong" in page.url, "the filters are in the address (a link staff can share)"
    await page.screenshot(path=str(ARTIFACTS / "cases-queue.png"), full_page=True)

    await page.click(f"#cases >> text=PA{case_id:05d}")
    await page.wait_for_selector("#answer-form")
    thread = await page.locator("#thread").inner_text()
    assert "Đã gọi điện xác minh" in thread and "Ghi chú nội bộ" in thread
    img = page.locator(".photos img")
    assert await img.get_attribute("src") == f"/admin/cases/{case_id}/photos/{shot.id}"
    await expect(img).to_have_js_property("naturalWidth", 64)
    assert "file-id-secret-token" not in await page.content()
    await page.screenshot(path=str(ARTIFACTS / "case.png"), full_page=True)

    # take: the citizen is told a unit took it
    before = len(tg.messages_to(CITIZEN))
    await page.click("#case-take")
    await page.wait_for_selector("#case-message")
    assert await page.locator("#case-assignee").inner_text() == f"telegram:{ADMIN_ID}"
    await tg.async_wait_for(
        lambda m: m.chat_id == CITIZEN and len(tg.messages_to(CITIZEN)) > before
    )

    # answer with the unit's canned answer, edited
    await page.select_option("#answer-canned", label="Đã tiếp nhận")
    filled = await page.input_value("#answer-text")
    assert f"PA{case_id:05d}" in filled and "Chị Hoa" in filled
    await page.fill("#answer-text", filled + " Dự kiến sửa xong thứ Sáu.")
    await page.click("#case-answer")
    await page.wait_for_selector("#case-message")
    got = await tg.async_wait_for(
        lambda m: m.chat_id == CITIZEN and "thứ Sáu" in (m.plain_text or m.text or "")
    )
    assert f"PA{case_id:05d}" in (got.plain_text or got.text or "")
    assert (await store.cases.get(case_id)).status == TicketState.ANSWERED  # type: ignore[union-attr]

    # close: the citizen gets the closing notice
    before = len(tg.messages_to(CITIZEN))
    await page.click("#case-close")
    await page.wait_for_selector("#case-message")
    assert (await store.cases.get(case_id)).status == TicketState.CLOSED  # type: ignore[union-attr]
    await tg.async_wait_for(
        lambda m: m.chat_id == CITIZEN and len(tg.messages_to(CITIZEN)) > before
    )
    assert "Nhận xử lý" in await page.locator("#history").inner_text()

    await page.goto(bantin.base + "/admin/")
    figures = page.locator("#case-figures tbody tr").first
    cells = [c.strip() for c in (await figures.inner_text()).split("\t")]
    assert cells[1:4] == ["2", "1", "1"], cells  # opened, answered, answered on time
    await page.screenshot(path=str(ARTIFACTS / "dashboard-cases.png"), full_page=True)

    assert problems == []
    actions = [(e.actor, e.action) for e in await store.audit.recent(limit=20)]
    me = f"telegram:{ADMIN_ID}"
    for action in ("case.take", "feedback.answer", "feedback.close"):
        assert (me, action) in actions, action
    await context.close()


async def test_an_editor_of_another_unit_is_refused_the_case(bantin: Running, browser: Any) -> None:
    store = bantin.app.store
    ours = await store.units.add("Phòng Văn hoá")
    theirs = await store.units.add("Phòng Y tế")
    assert ours and theirs
    await store.staff.ensure("telegram", "61", role=EDITOR, added_by="test")
    await store.staff.ensure("telegram", "62", role=EDITOR, added_by="test")
    await store.units.add_member(ours.id, "telegram", "61")
    await store.units.add_member(theirs.id, "telegram", "62")
    theirs_case = await file_case(store, CITIZEN + 2, "Tiêm chủng mở rộng", unit_id=theirs.id)
    ours_case = await file_case(store, CITIZEN + 3, "Lễ hội đình làng", unit_id=ours.id)

    context, page = await sign_in(bantin, browser, "61")
    await page.goto(bantin.base + "/admin/cases?state=all")
    rows = await page.locator("#cases").inner_text()
    assert "Lễ hội" in rows and "Tiêm chủng" not in rows
    response = await page.goto(bantin.base + f"/admin/cases/{theirs_case}")
    assert response is not None and response.status == 403
    shot = await store.photos.record(theirs_case, "telegram", "their-photo")
    response = await page.goto(bantin.base + f"/admin/cases/{theirs_case}/photos/{shot.id}")
    assert response is not None and response.status == 403
    response = await page.goto(bantin.base + f"/admin/cases/{ours_case}")
    assert response is not None and response.status == 200
    csrf = await page.locator("input[name=csrf]").first.get_attribute("value")
    for action, form in (
        ("take", {}),
        ("close", {}),
        ("answer", {"text": "xin chào"}),
        ("note", {"text": "ghi chú"}),
        ("not_responsible", {"text": "lý do"}),
        ("transfer", {"unit": str(ours.id), "text": "lý do"}),
        ("ban", {}),
    ):
        done = await context.request.post(
            bantin.base + f"/admin/cases/{theirs_case}/{action}",
            form={**form, "csrf": csrf},
            max_redirects=0,
        )
        assert done.status == 403, action
    case = await store.cases.get(theirs_case)
    assert case is not None and case.status == TicketState.NEW and case.assignee is None
    assert await store.cases.thread(theirs_case, notes=True) == []
    assert not await store.feedback.is_banned(case.subscriber_id)
    await context.close()


async def test_a_forged_post_changes_nothing_and_a_script_stays_text(
    bantin: Running, browser: Any
) -> None:
    store = bantin.app.store
    evil = "<script>window.__pwned = 1</script><img src=x onerror='window.__pwned=2'>"
    feed, _ = await store.feeds.add("https://portal.example.vn/rss", name="Cổng")
    [article] = await store.articles.add(
        feed.id,
        [NewArticle("g1", "javascript:window.__pwned=3", evil, None, None, None, (), None)],
        now=store_now(),
        seen=[True],
    )
    case_id = await file_case(store, CITIZEN + 4, evil, name=evil, article_id=article.id)
    context, page = await sign_in(bantin, browser, str(ADMIN_ID))
    await page.goto(bantin.base + "/admin/cases")
    assert evil in await page.locator("#cases").inner_text()
    await page.goto(bantin.base + f"/admin/cases/{case_id}")
    assert evil in await page.locator("#thread").inner_text()
    assert evil in await page.locator("dl.facts").inner_text(), "the article's title, as text"
    assert await page.locator("a[href^='javascript']").count() == 0
    assert await page.evaluate("window.__pwned") is None

    for action in ("close", "take", "ban"):
        forged = await context.request.post(
            bantin.base + f"/admin/cases/{case_id}/{action}", form={}, max_redirects=0
        )
        assert forged.status == 403, action
    status = await page.evaluate(
        """async (url) => (await fetch(url, {method: "POST",
             body: new URLSearchParams({text: "forged"})})).status""",
        bantin.base + f"/admin/cases/{case_id}/answer",
    )
    assert status == 403
    case = await store.cases.get(case_id)
    assert case is not None and case.status == TicketState.NEW and case.assignee is None
    assert await store.cases.thread(case_id, notes=True) == []
    assert not await store.feedback.is_banned(case.subscriber_id)
    await context.close()

    phone = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
    url = await links.issue_login_link(
        store, "telegram", str(ADMIN_ID), base=bantin.base, now=bantin.app.clock()
    )
    context = await browser.new_context(**phone)
    page = await context.new_page()
    await page.goto(url)
    await page.click("#signin")
    await page.wait_for_selector("#logout")
    for path in ("/admin/cases", f"/admin/cases/{case_id}"):
        await page.goto(bantin.base + path)
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390 + 1, f"{path}: nothing wider than the phone's screen"
    await page.screenshot(path=str(ARTIFACTS / "case-phone.png"), full_page=True)
    await context.close()


async def test_a_composer_photo_is_checked_re_encoded_and_uploaded(
    bantin: Running, browser: Any, tmp_path: Any
) -> None:
    """A photo picked in the composer goes out as an upload (no platform URL), re-encoded
    without its EXIF (GPS); a file that only claims to be an image is refused."""
    from bench.support import seed_subscribers

    store, tg = bantin.app.store, bantin.telegram
    chats = await seed_subscribers(store, 3)
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (21.0, 1.0, 30.0)}  # GPSInfo: where the photo was taken
    exif[0x0110] = "SecretPhoneModel"
    buf = io.BytesIO()
    Image.new("RGB", (120, 80), (30, 120, 200)).save(buf, "JPEG", exif=exif)
    assert b"SecretPhoneModel" in buf.getvalue()
    (tmp_path / "fake.jpg").write_bytes(b"not an image at all")
    (tmp_path / "real.jpg").write_bytes(buf.getvalue())

    context, page = await sign_in(bantin, browser, str(ADMIN_ID))
    await page.goto(bantin.base + "/admin/broadcasts")
    await page.fill("#bc-text", "Lịch tiêm chủng tuần này")
    await page.set_input_files("#bc-photo", str(tmp_path / "fake.jpg"))
    await page.click("#bc-create")
    await page.wait_for_selector(".error")
    assert "Ảnh không dùng được" in await page.locator(".error").inner_text()
    assert await store.announcements.recent(5) == []

    await page.set_input_files("#bc-photo", str(tmp_path / "real.jpg"))
    await page.click("#bc-create")
    await page.wait_for_selector("#bc-confirm")
    assert await page.locator("#bc-photo-set").inner_text() == "có"
    await page.click("#bc-confirm")
    await page.wait_for_selector("#progress[data-done='1']", timeout=60_000)
    got = [m for m in tg.sent if m.chat_id in chats]
    assert {m.chat_id for m in got} == set(chats)
    assert all(m.method == "sendPhoto" and m.photo == "upload:photo.jpg" for m in got), got
    assert all("tiêm chủng" in (m.plain_text or "") for m in got)
    [ann] = await store.announcements.recent(5)
    key = (ann.photo_file_id or "").removeprefix("media:")
    stored = await bantin.app.media.get(key)
    assert b"SecretPhoneModel" not in stored and Image.open(io.BytesIO(stored)).size == (120, 80)
    assert not Image.open(io.BytesIO(stored)).getexif()
    await context.close()
