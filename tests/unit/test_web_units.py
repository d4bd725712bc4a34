"""The Đơn vị page's handlers through aiohttp's test client on a real SQLite file (no browser):
each form changes what it says and is audited as chat and the CLI are, the storage's refusals
come back as a 400 page in words, editors and POSTs without the CSRF token change nothing, and
a unit's name is escaped."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.app.compose import App, compose
from bot.app.settings import Settings
from bot.web import links
from bot.web.app import COOKIE, console_app
from storage.feedback import CaseIntake, RateLimit
from storage.staff import ADMIN, EDITOR


@dataclass
class Web:
    app: App
    client: TestClient
    cookies: dict[str, str]  # role -> session token

    async def post(self, path: str, form: dict[str, str], *, role: str = ADMIN) -> tuple[int, str]:
        token = self.cookies[role]
        data = {"csrf": links.csrf_for(token), **form}
        reply = await self.client.post(
            "/admin" + path, data=data, headers={"Cookie": f"{COOKIE}={token}"},
            allow_redirects=False,
        )  # fmt: skip
        return reply.status, await reply.text()

    async def get(self, path: str, *, role: str = ADMIN) -> tuple[int, str]:
        headers = {"Cookie": f"{COOKIE}={self.cookies[role]}"}
        reply = await self.client.get("/admin" + path, headers=headers, allow_redirects=False)
        return reply.status, await reply.text()


@pytest.fixture
async def console(tmp_path: Path) -> AsyncIterator[Web]:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=f"sqlite:///{tmp_path}/units.db",
        quiet_hours="off",
    )
    app = await compose(settings)
    await app.store.units.ensure_default()
    cookies: dict[str, str] = {}
    for role, user in ((ADMIN, "1"), (EDITOR, "2")):
        await app.store.staff.ensure("telegram", user, role=role, added_by="test")
        token = links.new_token()
        await app.store.web.add_session(
            links.hash_token(token), "telegram", user, role, now=app.clock(),
            lifetime=timedelta(hours=1),
        )  # fmt: skip
        cookies[role] = token
    parent = web.Application()
    parent.add_subapp(links.PREFIX, console_app(app, base="http://127.0.0.1"))
    client = TestClient(TestServer(parent))
    await client.start_server()
    try:
        yield Web(app, client, cookies)
    finally:
        await client.close()
        await app.aclose()


async def actions(run: Web) -> list[str]:
    return [e.action for e in await run.app.store.audit.recent(limit=50) if e.actor == "telegram:1"]


async def test_units_categories_and_canned_answers_are_set_up_and_audited(console: Web) -> None:
    store = console.app.store
    assert (await console.post("/units", {"name": "  Phòng   Xây dựng "}))[0] == 303
    unit = await store.units.find("Phòng Xây dựng")
    assert unit is not None
    status, body = await console.post("/units", {"name": "phòng xây dựng"})
    assert status == 400 and "Đã có đơn vị tên «phòng xây dựng»" in body
    assert (await console.post("/units", {"name": " "}))[0] == 400

    chat = {"platform": "zalo", "chat_id": "g1"}
    assert (await console.post(f"/units/{unit.id}/chat", chat))[0] == 303
    assert (await store.units.get(unit.id)).chat_id == "g1"  # type: ignore[union-attr]
    bad = await console.post(f"/units/{unit.id}/chat", {"platform": "fax", "chat_id": "g1"})
    assert bad[0] == 400
    assert (await console.post(f"/units/{unit.id}/chat", {"clear": "1", "chat_id": "g1"}))[0] == 303
    assert (await store.units.get(unit.id)).chat_id is None  # type: ignore[union-attr]

    assert (await console.post(f"/units/{unit.id}/members", {"person": "telegram:2"}))[0] == 303
    status, body = await console.post(f"/units/{unit.id}/members", {"person": "zalo:stranger"})
    assert status == 400 and "zalo:stranger chưa là cán bộ" in body
    assert [m.user_id for m in await store.units.members(unit.id)] == ["2"]
    gone = await console.post(f"/units/{unit.id}/members/remove", {"person": "telegram:2"})
    assert gone[0] == 303
    assert await store.units.members(unit.id) == []

    form = {"name": "Đất đai", "unit": str(unit.id), "days": "15"}
    assert (await console.post("/units/categories", form))[0] == 303
    [category] = await store.units.categories()
    assert (category.unit_id, category.deadline_days, category.position) == (unit.id, 15, 1)
    assert (await console.post("/units/categories", {**form, "days": "400"}))[0] == 400
    assert (await console.post("/units/categories", {**form, "name": "x", "unit": "999"}))[0] == 400
    edit = {"name": "Đất đai", "unit": "", "days": "20", "position": "3", "active": "1"}
    assert (await console.post(f"/units/categories/{category.id}", edit))[0] == 303
    edited = await store.units.category(category.id)
    assert edited is not None
    assert (edited.unit_id, edited.deadline_days, edited.position) == (None, 20, 3)
    assert (await console.post(f"/units/categories/{category.id}/deactivate", {}))[0] == 303
    assert (await store.units.category(category.id)).active is False  # type: ignore[union-attr]

    text = "Chào {ten}, phản ánh {ma_phan_anh} hạn {han}."
    canned = {"unit": str(unit.id), "title": "Tiếp nhận", "text": text}
    assert (await console.post("/units/canned", canned))[0] == 303
    [answer] = await store.units.canned(unit.id, shared=False)
    assert (answer.text, answer.created_by) == (text, "telegram:1")
    assert (await console.post("/units/canned", canned))[0] == 400
    status, body = await console.post("/units/canned", {"title": "Chung", "text": "{hoten}"})
    assert status == 200 and "{hoten}" in body
    assert (await console.post(f"/units/canned/{answer.id}/remove", {}))[0] == 303
    assert await store.units.canned(unit.id, shared=False) == []

    assert (await console.post(f"/units/{unit.id}/rename", {"name": "Phòng QLĐT"}))[0] == 303
    assert (await console.post(f"/units/{unit.id}/remove", {}))[0] == 303
    assert await store.units.get(unit.id) is None
    assert await actions(console) == [
        "unit.remove",
        "unit.rename",
        "canned.remove",
        "canned.add",
        "canned.add",
        "category.deactivate",
        "category.edit",
        "category.add",
        "unit.member_remove",
        "unit.member_add",
        "unit.set_chat",
        "unit.set_chat",
        "unit.add",
    ]


async def test_the_storage_refusals_are_shown_in_words(console: Web) -> None:
    store = console.app.store
    default = await store.units.ensure_default()
    status, body = await console.post(f"/units/{default.id}/remove", {})
    assert status == 400 and "đây là đơn vị mặc định" in body
    unit = await store.units.add("Phòng Y tế")
    assert unit is not None
    sub, _ = await store.subscribers.subscribe("telegram", "77")
    filed = await store.feedback.file(
        sub.id, None, "Rác", limit=RateLimit(), now=console.app.clock(),
        intake=CaseIntake(unit_id=unit.id),
    )  # fmt: skip
    assert not hasattr(filed, "reason")
    status, body = await console.post(f"/units/{unit.id}/remove", {})
    assert status == 400 and "còn phản ánh đang xử lý" in body
    assert f'unit={unit.id}" aria-label="Phản ánh đang xử lý: Phòng Y tế">1</a>' in body
    assert await store.units.get(unit.id) is not None
    assert (await console.post("/units/999/remove", {}))[0] == 404
    assert (await console.post("/units/abc/rename", {"name": "x"}))[0] == 404
    assert await actions(console) == []


async def test_editors_and_forged_posts_change_nothing_and_names_are_escaped(
    console: Web,
) -> None:
    store = console.app.store
    before = await store.units.all()
    assert (await console.get("/units", role=EDITOR))[0] == 403
    assert (await console.post("/units", {"name": "Biên tập"}, role=EDITOR))[0] == 403
    assert (await console.post("/units/canned", {"title": "a", "text": "b"}, role=EDITOR))[0] == 403
    token = console.cookies[ADMIN]
    forged = await console.client.post(
        "/admin/units", data={"name": "Giả"}, headers={"Cookie": f"{COOKIE}={token}"},
        allow_redirects=False,
    )  # fmt: skip
    assert forged.status == 403
    assert await store.units.all() == before

    await store.units.add("<script>alert(1)</script>")
    status, body = await console.get("/units")
    assert status == 200
    assert "<script>alert(1)" not in body and "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    status, body = await console.get("/units", role=ADMIN)
    assert "nhóm cán bộ chung" in body
