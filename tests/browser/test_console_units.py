"""The Đơn vị page in Chromium: an admin sets up a unit (chat, member), a category routed to
it and a canned answer; the storage's refusals (the default unit, a unit with open cases) are
shown in words; an editor is refused; a forged POST changes nothing; a `<script>` in a unit
name is shown as text; the page fits a phone's screen."""

from __future__ import annotations

from typing import Any

import pytest

from bot.web import links
from storage.staff import EDITOR
from tests.browser.conftest import ADMIN_ID, ARTIFACTS, Running
from tests.browser.test_cases import file_case

pytestmark = pytest.mark.slow

ADMIN = f"telegram:{ADMIN_ID}"


async def signed_in(run: Running, browser: Any, user_id: str, **context_args: Any) -> Any:
    url = await links.issue_login_link(
        run.app.store, "telegram", user_id, base=run.base, now=run.app.clock()
    )
    context = await browser.new_context(**context_args)
    page = await context.new_page()
    await page.goto(url)
    await page.click("#signin")
    await page.wait_for_selector("#logout")
    return context, page


async def test_an_admin_sets_up_a_unit_a_category_and_a_canned_answer(
    bantin: Running, browser: Any
) -> None:
    store = bantin.app.store
    context, page = await signed_in(bantin, browser, str(ADMIN_ID))
    await page.click("nav >> text=Đơn vị")
    await page.wait_for_selector("h1 >> text=Đơn vị")

    await page.fill("#unit-add-name", "Phòng Xây dựng")
    await page.click("#unit-add button[type=submit]")
    await page.wait_for_selector("#units >> text=Phòng Xây dựng")
    unit = await store.units.find("Phòng Xây dựng")
    assert unit is not None and unit.chat_id is None
    assert "nhóm cán bộ chung" in await page.locator(f"#unit-row-{unit.id}").inner_text()

    await page.click(f"#unit-{unit.id} summary")
    await page.select_option(f"#unit-{unit.id}-platform", "telegram")
    await page.fill(f"#unit-{unit.id}-chat", "-100777")
    await page.click(f"#unit-{unit.id} >> text=Lưu nhóm chat")
    await page.wait_for_selector(f"#unit-row-{unit.id} >> text=telegram:-100777")
    await page.click(f"#unit-{unit.id} summary")
    await page.select_option(f"#unit-{unit.id}-person", ADMIN)
    await page.click(f"#unit-{unit.id} >> text=Thêm thành viên")
    await page.wait_for_selector(f"#unit-row-{unit.id} >> text={ADMIN}")
    assert [m.user_id for m in await store.units.members(unit.id)] == [str(ADMIN_ID)]
    await page.click(f"#unit-{unit.id} summary")
    await page.fill(f"#unit-{unit.id}-name", "Phòng Quản lý đô thị")
    await page.click(f"#unit-{unit.id} >> text=Lưu >> nth=0")
    await page.wait_for_selector("#units >> text=Phòng Quản lý đô thị")

    await page.fill("#category-add-name", "Trật tự đô thị")
    await page.select_option("#category-add-unit", str(unit.id))
    await page.fill("#category-add-days", "5")
    await page.click("#category-add button[type=submit]")
    await page.wait_for_selector("#categories input[value='Trật tự đô thị']")
    [category] = await store.units.categories()
    assert (category.name, category.unit_id, category.deadline_days, category.active) == (
        "Trật tự đô thị",
        unit.id,
        5,
        True,
    )
    await page.fill(f"#cat-{category.id}-days", "7")
    await page.click(f"#category-{category.id} >> text=Lưu")
    await page.wait_for_selector(f"#cat-{category.id}-days[value='7']")
    await page.click(f"#category-{category.id} >> text=Ngừng dùng")
    await page.wait_for_selector(f"#category-{category.id}.inactive")
    category_now = await store.units.category(category.id)
    assert category_now is not None
    assert (category_now.deadline_days, category_now.active) == (7, False)

    await page.select_option("#canned-add-unit", str(unit.id))
    await page.fill("#canned-add-title", "Đã tiếp nhận")
    await page.fill("#canned-add-text", "Chào {ten}, phản ánh {ma_phan_anh} sẽ xong trước {han}.")
    await page.click("#canned-add button[type=submit]")
    await page.wait_for_selector("#canned-list >> text=Đã tiếp nhận")
    [answer] = await store.units.canned(unit.id, shared=False)
    assert answer.text == "Chào {ten}, phản ánh {ma_phan_anh} sẽ xong trước {han}."
    assert answer.created_by == ADMIN
    await page.fill("#canned-add-title", "Sai chỗ điền")
    await page.fill("#canned-add-text", "Xin chào {hoten}")
    await page.click("#canned-add button[type=submit]")
    await page.wait_for_selector("[role=status] >> text={hoten}")
    await page.screenshot(path=str(ARTIFACTS / "units.png"), full_page=True)
    await page.click(f"#canned-{answer.id} button")
    await page.wait_for_selector(f"#canned-{answer.id}", state="detached")

    # the storage's refusals, in words: a unit with an open case, the default unit
    await file_case(store, 424242, "Vỉa hè bị lấn chiếm", unit_id=unit.id)
    await page.click(f"#unit-{unit.id} summary")
    await page.click(f"#unit-{unit.id} >> text=Xoá đơn vị")
    alert = await page.locator("[role=alert]").inner_text()
    assert "còn phản ánh đang xử lý" in alert
    await page.click(f"#unit-row-{unit.id} a")
    await page.wait_for_selector("text=Vỉa hè bị lấn chiếm")
    await page.goto(bantin.base + "/admin/units")
    assert await store.units.get(unit.id) is not None
    default = (await store.units.all())[0]
    assert default.is_default
    assert await page.locator(f"#unit-{default.id} >> text=Xoá đơn vị").count() == 0
    csrf = await page.locator("input[name=csrf]").first.get_attribute("value")
    refused = await context.request.post(
        bantin.base + f"/admin/units/{default.id}/remove", form={"csrf": csrf}
    )
    assert refused.status == 400
    assert "đơn vị mặc định" in await refused.text()
    assert await store.units.get(default.id) is not None

    actions = {e.action for e in await store.audit.recent(limit=30) if e.actor == ADMIN}
    assert {
        "unit.add",
        "unit.set_chat",
        "unit.member_add",
        "unit.rename",
        "category.add",
        "category.edit",
        "category.deactivate",
        "canned.add",
        "canned.remove",
    } <= actions
    assert "unit.remove" not in actions
    await context.close()


async def test_the_page_fits_a_phone_and_reads_in_english(bantin: Running, browser: Any) -> None:
    store = bantin.app.store
    unit = await store.units.add("Phòng Tài nguyên và Môi trường")
    assert unit is not None
    await store.units.add_category("Môi trường", unit_id=unit.id, deadline_days=10)
    phone = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
    context, page = await signed_in(bantin, browser, str(ADMIN_ID), **phone)
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    await page.goto(bantin.base + "/admin/units")
    await page.wait_for_load_state("networkidle")
    assert problems == [], "nothing blocked by the Content-Security-Policy"
    assert bantin.telegram.token.split(":")[1] not in await page.content()
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390 + 1, "nothing wider than the phone's screen"
    await page.screenshot(path=str(ARTIFACTS / "units-phone.png"), full_page=True)
    await page.click("text=English")
    await page.wait_for_selector("h1 >> text=Units")
    assert await page.locator("label[for=category-add-days]").inner_text() == (
        "Deadline (working days)"
    )
    await context.close()


async def test_an_editor_is_refused_and_a_forged_post_changes_nothing(
    bantin: Running, browser: Any
) -> None:
    store = bantin.app.store
    await store.staff.ensure("telegram", "42", role=EDITOR, added_by="test")
    context, page = await signed_in(bantin, browser, "42")
    assert await page.locator("nav >> text=Đơn vị").count() == 0
    response = await page.goto(bantin.base + "/admin/units")
    assert response is not None and response.status == 403
    await page.goto(bantin.base + "/admin/broadcasts")
    csrf = await page.locator("input[name=csrf]").first.get_attribute("value")
    before = await store.units.all()
    for path, form in (
        ("/admin/units", {"name": "Của biên tập viên"}),
        ("/admin/units/categories", {"name": "Lĩnh vực lạ", "days": "3"}),
        ("/admin/units/canned", {"title": "x", "text": "y"}),
        (f"/admin/units/{before[0].id}/rename", {"name": "Đổi tên"}),
    ):
        answer = await context.request.post(bantin.base + path, form={**form, "csrf": csrf})
        assert answer.status == 403, path
    await context.close()

    context, page = await signed_in(bantin, browser, str(ADMIN_ID))
    await page.goto(bantin.base + "/admin/units")
    forged = await context.request.post(
        bantin.base + "/admin/units", form={"name": "Đơn vị giả mạo"}
    )
    assert forged.status == 403
    wrong = await context.request.post(
        bantin.base + "/admin/units", form={"name": "Đơn vị giả mạo", "csrf": "0" * 64}
    )
    assert wrong.status == 403
    status = await page.evaluate(
        """async (url) => (await fetch(url, {method: "POST",
             body: new URLSearchParams({name: "Đơn vị giả mạo"})})).status""",
        bantin.base + "/admin/units",
    )
    assert status == 403
    assert await store.units.all() == before
    assert await store.units.categories() == []
    assert await store.units.canned(None) == []
    await context.close()


async def test_script_in_a_unit_name_is_shown_as_text(bantin: Running, browser: Any) -> None:
    store = bantin.app.store
    evil = "<script>window.__pwned = 1</script><img src=x onerror='window.__pwned=2'>"
    stored = await store.units.add(evil)
    assert stored is not None
    context, page = await signed_in(bantin, browser, str(ADMIN_ID))
    await page.goto(bantin.base + "/admin/units")
    await page.fill("#unit-add-name", "<b>đậm</b><script>window.__pwned=3</script>")
    await page.click("#unit-add button[type=submit]")
    await page.wait_for_selector("#units >> text=<b>đậm</b>")
    shown = await page.locator("#units").inner_text()
    assert evil in shown and "<b>đậm</b><script>window.__pwned=3</script>" in shown
    assert evil in await page.locator(f"#unit-{stored.id} summary").inner_text()
    assert await page.locator("#units b").count() == 0
    assert await page.evaluate("window.__pwned") is None
    await context.close()
