"""/staff in chat: list, add and remove staff members (admins only).

The caller's role is read from the staff table when the command runs; every change is audited.
The platform's last admin can be neither removed nor demoted (the rule lives in storage, so the
CLI obeys it too), so the office never locks itself out.
"""

from __future__ import annotations

import logging

from bot.dialog.context import FlowContext, Outcome
from bot.dialog.events import Command
from bot.dialog.routes import FlowRouter
from bot.dialog.screens import render_staff_list
from jobs.i18n import t
from storage.audit import actor_of
from storage.staff import ADMIN, EDITOR

log = logging.getLogger(__name__)

ROLES = (ADMIN, EDITOR)


def router(ctx: FlowContext) -> FlowRouter:
    routes = FlowRouter("staff")
    store = ctx.store

    async def staff(cmd: Command) -> Outcome:
        sub = await ctx.subscriber(cmd.who)
        lang = sub.language
        if await ctx.role(cmd.who) != ADMIN:
            log.warning("refused admin command", extra={"user": cmd.who.user_id})
            return Outcome([ctx.say(cmd.who, t("admin_only", lang))])
        words = cmd.args.split()
        platform = cmd.who.platform
        actor = actor_of(platform, cmd.who.user_id)
        now = ctx.clock()
        if not words or words[0] == "list":
            members = [m for m in await store.staff.all() if m.platform == platform]
            caps = ctx.capabilities(platform)
            return Outcome([render_staff_list(members, lang, caps)])
        action, user = words[0], words[1] if len(words) > 1 else ""
        role = words[2].lower() if len(words) > 2 else EDITOR
        if action == "add" and user and role in ROLES and len(words) <= 3 and len(user) <= 100:
            changed = await store.staff.set_role_unless_last_admin(
                platform, user, role=role, added_by=actor
            )
            if changed == "last_admin":
                return Outcome([ctx.say(cmd.who, t("authz_staff_last_admin_demote", lang))])
            target = actor_of(platform, user)
            await store.audit.record(actor, "staff.add", target, role, now=now)
            return Outcome([ctx.say(cmd.who, t("staff_added", lang, user=user, role=role))])
        if action == "remove" and user and len(words) == 2:
            result = await store.staff.remove_unless_last_admin(platform, user)
            if result == "missing":
                return Outcome([ctx.say(cmd.who, t("staff_missing", lang, user=user))])
            if result == "last_admin":
                return Outcome([ctx.say(cmd.who, t("staff_last_admin", lang))])
            target = actor_of(platform, user)
            await store.audit.record(actor, "staff.remove", target, now=now)
            return Outcome([ctx.say(cmd.who, t("staff_removed", lang, user=user))])
        return Outcome([ctx.say(cmd.who, t("staff_usage", lang))])

    routes.command(staff, "staff")
    return routes
