"""/xoadulieu: a citizen erases their personal data (Decree 13/2023/NĐ-CP), after confirming.

Phone, display name, the places and photos of their cases, their consent and any draft go in
one transaction (storage/privacy.py `erase`) that also writes an 'erased' line in each case's
history and the audit log; the stored copies of their photos are then deleted from the media
store (jobs/media/fetcher.py, installed by the composition root as `ctx.erase_photos`). Their
cases stay, anonymised, so the office's reports count the same.
"""

from __future__ import annotations

import logging

from bot.dialog.context import FlowContext, Outcome
from bot.dialog.events import Command, Press
from bot.dialog.routes import FlowRouter
from bot.dialog.screens import render_erase_question
from jobs.i18n import t
from storage.audit import actor_of

log = logging.getLogger(__name__)


def router(ctx: FlowContext) -> FlowRouter:
    routes = FlowRouter("privacy")

    async def ask(cmd: Command) -> Outcome:
        sub = await ctx.subscriber(cmd.who)
        if cmd.who.chat_type != "private":
            return Outcome([ctx.say(cmd.who, t("cz_private_only", sub.language))])
        caps = ctx.capabilities(cmd.who.platform)
        return Outcome([render_erase_question(sub.language, caps)])

    async def press(event: Press, rest: str) -> Outcome:
        sub = await ctx.subscriber(event.who)
        if event.who.chat_type != "private":
            return ctx.invalid_press(sub)
        if rest == "no":
            return Outcome([ctx.say(event.who, t("cz_erase_kept", sub.language))])
        if rest != "ok":
            return ctx.invalid_press(sub)
        actor = actor_of(event.who.platform, event.who.user_id)
        erased = await ctx.store.privacy.erase(sub.id, actor=actor, now=ctx.clock())
        await ctx.set_dialog(sub, event.who, None, None)
        if ctx.erase_photos is not None:
            await ctx.erase_photos(sub.id)  # the stored copies, from the media store
        log.info("personal data erased", extra={"subscriber": sub.id, "cases": erased.cases})
        said = t(
            "cz_erased",
            sub.language,
            cases=erased.cases,
            photos=erased.photos,
            places=erased.places,
        )
        return Outcome([ctx.say(event.who, said)])

    routes.command(ask, "xoadulieu")
    routes.press("xd", press)
    return routes
