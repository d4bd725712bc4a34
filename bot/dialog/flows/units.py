"""/donvi (units) and /linhvuc (categories) in chat: admins set up who handles citizens' cases.

The same changes as `bantin units|categories` (bot/cli/cases.py), for offices whose admins live
in Telegram or Zalo rather than on the server. Vietnamese subcommands first (typed with or
without diacritics), English aliases second. Two arguments are separated by "|" because unit
and category names contain spaces:

  /donvi                          the units, their chats and members
  /donvi them <tên>               a new unit (its cases go to the staff chat until `nhom`)
  /donvi nhom <đơn vị>            this group becomes the unit's chat (typed in that group)
  /donvi bonhom <đơn vị>          back to the configured staff chat
  /donvi doiten <đơn vị> | <tên>  rename
  /donvi xoa <đơn vị>             remove (not the default one, nor one with open cases)
  /donvi thanhvien <đơn vị>       members; `themtv` / `xoatv` <đơn vị> | <id or platform:id>
  /linhvuc                        the categories in the citizens' order
  /linhvuc them <tên> | <đơn vị or -> | <ngày>
  /linhvuc han <lĩnh vực> | <ngày>   /linhvuc donvi <lĩnh vực> | <đơn vị>
  /linhvuc vitri <lĩnh vực> | <số>   /linhvuc an|hien|xoa <lĩnh vực>

The caller's role is read from the staff table for every command (admins only), and every
change is audited (store.audit, actor "platform:user").
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Awaitable, Callable

from bot.dialog.context import FlowContext, Outcome
from bot.dialog.events import Command, Who
from bot.dialog.routes import FlowRouter
from jobs.i18n import t
from storage.audit import actor_of
from storage.records import Category, Unit
from storage.staff import ADMIN
from storage.units import MAX_DEADLINE_DAYS

log = logging.getLogger(__name__)

PLATFORMS = ("telegram", "zalo", "console")

UNIT_WORDS = {
    "ds": "list", "danhsach": "list", "list": "list",
    "them": "add", "add": "add",
    "nhom": "chat", "chat": "chat",
    "bonhom": "unchat", "unchat": "unchat",
    "doiten": "rename", "rename": "rename",
    "xoa": "remove", "remove": "remove",
    "thanhvien": "members", "tv": "members", "members": "members",
    "themtv": "addmember", "addmember": "addmember",
    "xoatv": "removemember", "removemember": "removemember",
}  # fmt: skip
CATEGORY_WORDS = {
    "ds": "list", "danhsach": "list", "list": "list",
    "them": "add", "add": "add",
    "han": "days", "days": "days",
    "donvi": "unit", "unit": "unit",
    "vitri": "position", "position": "position",
    "an": "hide", "hide": "hide",
    "hien": "show", "show": "show",
    "xoa": "remove", "remove": "remove",
}  # fmt: skip


def fold(word: str) -> str:
    """ "Thêm" → "them", "ĐƠN VỊ" → "don vi": what admins type, with or without diacritics."""
    decomposed = unicodedata.normalize("NFD", word.lower().replace("đ", "d"))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def split_args(args: str) -> tuple[str, list[str]]:
    """ "them Phòng A | 5" → ("them", ["Phòng A", "5"]); parts stripped, empty ones kept."""
    word, _, rest = args.strip().partition(" ")
    parts = [" ".join(p.split()) for p in rest.split("|")] if rest.strip() else []
    return fold(word), parts


def router(ctx: FlowContext) -> FlowRouter:
    routes = FlowRouter("units")
    store = ctx.store

    async def admin_only(cmd: Command, work: Callable[[str, str], Awaitable[str]]) -> Outcome:
        sub = await ctx.subscriber(cmd.who)
        if await ctx.role(cmd.who) != ADMIN:
            log.warning("refused admin command", extra={"user": cmd.who.user_id})
            return Outcome([ctx.say(cmd.who, t("admin_only", sub.language))])
        actor = actor_of(cmd.who.platform, cmd.who.user_id)
        return Outcome([ctx.say(cmd.who, await work(sub.language, actor))])

    async def audit(actor: str, action: str, target: str, detail: str | None = None) -> None:
        await store.audit.record(actor, action, target, detail, now=ctx.clock())

    def chat_text(unit: Unit, lang: str) -> str:
        if unit.platform and unit.chat_id:
            return f"{unit.platform}:{unit.chat_id}"
        return t("cu_staff_chat", lang)

    def person(who: Who, text: str) -> tuple[str, str] | None:
        platform, sep, user = text.partition(":")
        if sep and platform in PLATFORMS and user.strip():
            return platform, user.strip()
        if not sep and text.strip() and len(text) <= 100:
            return who.platform, text.strip()  # a bare id: the admin's own platform
        return None

    # -- /donvi ----------------------------------------------------------------------------------

    async def units_list(lang: str) -> str:
        await store.units.ensure_default()
        lines = [t("cu_units_title", lang)]
        for unit in await store.units.all():
            members = len(await store.units.members(unit.id))
            key = "cu_unit_line_default" if unit.is_default else "cu_unit_line"
            line = t(key, lang, id=unit.id, unit=unit.name, chat=chat_text(unit, lang), n=members)
            lines.append(line)
        return "\n".join(lines)

    async def units_cmd(cmd: Command) -> Outcome:
        async def work(lang: str, actor: str) -> str:
            word, parts = split_args(cmd.args)
            action = UNIT_WORDS.get(word or "ds")
            if action == "list":
                return await units_list(lang)
            if action is None or not parts or not parts[0]:
                return t("cu_donvi_usage", lang)
            if action == "add":
                try:
                    unit = await store.units.add(parts[0])
                except ValueError:
                    return t("cu_donvi_usage", lang)
                if unit is None:
                    return t("cu_unit_taken", lang, unit=parts[0])
                await audit(actor, "unit.add", f"unit:{unit.id}")
                return t("cu_unit_added", lang, unit=unit.name, id=unit.id,
                         chat=chat_text(unit, lang))  # fmt: skip
            found = await store.units.find(parts[0])
            if found is None:
                return t("cu_unit_missing", lang, unit=parts[0])
            if action in ("chat", "unchat"):
                if action == "chat" and cmd.who.chat_type == "private":
                    return t("cu_unit_chat_private", lang, unit=found.name)
                platform, chat = (
                    (cmd.who.platform, cmd.who.chat_id) if action == "chat" else (None, None)
                )
                await store.units.set_chat(found.id, platform, chat)
                detail = f"{platform}:{chat}" if chat else "staff chat"
                await audit(actor, "unit.set_chat", f"unit:{found.id}", detail)
                changed = await store.units.get(found.id)
                assert changed is not None
                return t("cu_unit_chat_set", lang, unit=found.name, chat=chat_text(changed, lang))
            if action == "rename":
                if len(parts) != 2 or not parts[1]:
                    return t("cu_donvi_usage", lang)
                try:
                    renamed = await store.units.rename(found.id, parts[1])
                except ValueError:
                    return t("cu_donvi_usage", lang)
                if renamed is None:
                    return t("cu_unit_taken", lang, unit=parts[1])
                await audit(actor, "unit.rename", f"unit:{found.id}", parts[1])
                return t("cu_unit_renamed", lang, unit=renamed.name)
            if action == "remove":
                outcome = await store.units.remove(found.id)
                if outcome != "removed":
                    return t(f"cu_unit_remove_{outcome}", lang, unit=found.name)
                await audit(actor, "unit.remove", f"unit:{found.id}", found.name)
                return t("cu_unit_removed", lang, unit=found.name)
            if action == "members":
                members = await store.units.members(found.id)
                if not members:
                    return t("cu_members_none", lang)
                listed = "\n".join(f"• {m.platform}:{m.user_id} ({m.role})" for m in members)
                return t("cu_members_title", lang, unit=found.name) + "\n" + listed
            # addmember / removemember
            target = person(cmd.who, parts[1]) if len(parts) == 2 else None
            if target is None:
                return t("cu_donvi_usage", lang)
            shown = f"{target[0]}:{target[1]}"
            if action == "addmember":
                result = await store.units.add_member(found.id, *target)
                if result == "no_staff":
                    return t("cu_member_not_staff", lang, person=shown)
                if result == "exists":
                    return t("cu_member_exists", lang, person=shown, unit=found.name)
                await audit(actor, "unit.member_add", f"unit:{found.id}", shown)
                return t("cu_member_added", lang, person=shown, unit=found.name)
            if not await store.units.remove_member(found.id, *target):
                return t("cu_member_missing", lang, person=shown, unit=found.name)
            await audit(actor, "unit.member_remove", f"unit:{found.id}", shown)
            return t("cu_member_removed", lang, person=shown, unit=found.name)

        return await admin_only(cmd, work)

    # -- /linhvuc --------------------------------------------------------------------------------

    async def categories_list(lang: str) -> str:
        categories = await store.units.categories()
        if not categories:
            return t("cu_categories_none", lang) + "\n" + t("cu_linhvuc_usage", lang)
        units = {u.id: u.name for u in await store.units.all()}
        lines = [t("cu_categories_title", lang)]
        for c in categories:
            key = "cu_category_line" if c.active else "cu_category_line_hidden"
            unit = units.get(c.unit_id or 0) or t("cu_default_unit", lang)
            lines.append(t(key, lang, id=c.id, category=c.name, unit=unit, days=c.deadline_days))
        return "\n".join(lines)

    def days_of(text: str) -> int | None:
        return int(text) if text.isascii() and text.isdigit() and len(text) <= 3 else None

    async def categories_cmd(cmd: Command) -> Outcome:
        async def work(lang: str, actor: str) -> str:
            word, parts = split_args(cmd.args)
            action = CATEGORY_WORDS.get(word or "ds")
            if action == "list":
                return await categories_list(lang)
            if action is None or not parts or not parts[0]:
                return t("cu_linhvuc_usage", lang)
            if action == "add":
                unit_id: int | None = None
                if len(parts) > 1 and parts[1] not in ("", "-"):
                    unit = await store.units.find(parts[1])
                    if unit is None:
                        return t("cu_unit_missing", lang, unit=parts[1])
                    unit_id = unit.id
                days = days_of(parts[2]) if len(parts) > 2 else 10
                if days is None or days > MAX_DEADLINE_DAYS or len(parts) > 3:
                    return t("cu_linhvuc_usage", lang)
                try:
                    added = await store.units.add_category(
                        parts[0], unit_id=unit_id, deadline_days=days
                    )
                except ValueError:
                    return t("cu_linhvuc_usage", lang)
                if added is None:
                    return t("cu_category_taken", lang, category=parts[0])
                detail = f"unit={unit_id} days={days}"
                await audit(actor, "category.add", f"category:{added.id}", detail)
                return t("cu_category_added", lang, category=added.name, id=added.id, days=days)
            found = await store.units.find_category(parts[0])
            if found is None:
                return t("cu_category_missing", lang, category=parts[0])
            target = f"category:{found.id}"
            if action in ("hide", "show"):
                await store.units.edit_category(found.id, active=action == "show")
                await audit(actor, f"category.{action}", target)
                key = "cu_category_deactivated" if action == "hide" else "cu_category_changed"
                return t(key, lang, category=found.name)
            if action == "remove":
                outcome = await store.units.remove_category(found.id)
                await audit(actor, f"category.{outcome}", target)
                key = "cu_category_removed" if outcome == "removed" else "cu_category_deactivated"
                return t(key, lang, category=found.name)
            value = parts[1] if len(parts) == 2 else ""
            edited: Category | None = None
            if action == "unit":
                unit = await store.units.find(value) if value not in ("", "-") else None
                if value not in ("", "-") and unit is None:
                    return t("cu_unit_missing", lang, unit=value)
                edited = await store.units.edit_category(
                    found.id, unit_id=unit.id if unit else None
                )
            else:
                number = days_of(value)
                if number is None or (action == "days" and number > MAX_DEADLINE_DAYS):
                    return t("cu_linhvuc_usage", lang)
                if action == "days":
                    edited = await store.units.edit_category(found.id, deadline_days=number)
                else:
                    edited = await store.units.edit_category(found.id, position=number)
            if edited is None:
                return t("cu_category_missing", lang, category=parts[0])
            await audit(actor, "category.edit", target, f"{action}={value}")
            return t("cu_category_changed", lang, category=edited.name)

        return await admin_only(cmd, work)

    routes.command(units_cmd, "donvi", "units")
    routes.command(categories_cmd, "linhvuc", "categories")
    return routes
