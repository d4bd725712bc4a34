"""Zalo state that must survive a restart: handled message ids, numbered menus, OA contacts
(the 7-day consultation window) and the OA's rotating token pair (`store.zalo`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update

from storage.base import Repo
from storage.models import ChoiceMenuRow, ZaloContactRow, ZaloOATokenRow, ZaloSeenRow

# How long a handled id (Zalo message, OA event key, Telegram update) is remembered. It must
# outlast every way an old event can come back: Zalo Bot repeats come within minutes, Telegram
# gives up retrying an update after a day, and Zalo OA events older than
# BANTIN_ZALO_OA_EVENT_MAX_AGE (at most a day) are refused by their timestamp. Thirty days is
# far beyond all three, so a replay is either refused as stale or recognised as a repeat.
# Pruned here every PRUNE_EVERY inserts and by the daily retention job (jobs/ops/retention.py).
SEEN_KEEP = timedelta(days=30)
PRUNE_EVERY = 500  # inserts between prunes of old seen ids


@dataclass(frozen=True)
class ChoiceMenu:
    platform: str
    chat_id: str
    message_id: str | None
    options: tuple[str, ...]  # callback data; option 1 first
    created_at: datetime
    user_id: str = ""  # who the menu answers ("" for menus nobody asked for, e.g. pushes)


@dataclass(frozen=True)
class OATokens:
    app_id: str
    access_token: str | None
    refresh_token: str
    expires_at: datetime | None
    generation: int
    seed_fingerprint: str | None
    refresh_started_at: datetime | None
    last_error: str | None

    def __repr__(self) -> str:  # never print a token, not even in a traceback
        return (
            f"OATokens(app_id={self.app_id!r}, generation={self.generation}, "
            f"expires_at={self.expires_at!r}, refresh_started_at={self.refresh_started_at!r})"
        )


def _tokens(row: ZaloOATokenRow) -> OATokens:
    return OATokens(
        app_id=row.app_id,
        access_token=row.access_token,
        refresh_token=row.refresh_token,
        expires_at=row.expires_at,
        generation=row.generation,
        seed_fingerprint=row.seed_fingerprint,
        refresh_started_at=row.refresh_started_at,
        last_error=row.last_error,
    )


class ZaloRepo(Repo):
    _inserts = 0

    # -- seen message ids ----------------------------------------------------------------------

    async def mark_seen(self, platform: str, message_id: str, now: datetime) -> bool:
        """Record a message id; True the first time it is seen (on any process), else False."""
        stmt = (
            self._insert(ZaloSeenRow)
            .values(platform=platform, message_id=message_id[:100], seen_at=now)
            .on_conflict_do_nothing(index_elements=["platform", "message_id"])
        )
        async with self._tx() as s:
            fresh = bool((await s.execute(stmt)).rowcount)  # type: ignore[attr-defined]
        self._inserts += 1
        if self._inserts % PRUNE_EVERY == 0:
            await self.prune_seen(now - SEEN_KEEP)
        return fresh

    async def mark_seen_many(self, platform: str, message_ids: list[str], now: datetime) -> None:
        """Record many ids in one statement (ids already recorded are left as they are): the
        intake's handled updates, written in batches (bot/adapters/intake.py SeenMarks)."""
        if not message_ids:
            return
        rows = [
            {"platform": platform, "message_id": m[:100], "seen_at": now}
            for m in dict.fromkeys(message_ids)
        ]
        stmt = self._insert(ZaloSeenRow).on_conflict_do_nothing(
            index_elements=["platform", "message_id"]
        )
        async with self._once() as c:
            await c.execute(stmt, rows)
        before = self._inserts
        self._inserts += len(rows)
        if self._inserts // PRUNE_EVERY != before // PRUNE_EVERY:
            await self.prune_seen(now - SEEN_KEEP)

    async def seen_among(self, platform: str, message_ids: list[str]) -> set[str]:
        """Which of these ids were recorded (one query for a whole getUpdates batch)."""
        if not message_ids:
            return set()
        keys = [m[:100] for m in message_ids]
        q = select(ZaloSeenRow.message_id).where(
            ZaloSeenRow.platform == platform, ZaloSeenRow.message_id.in_(keys)
        )
        async with self._once() as c:
            return {r[0] for r in (await c.execute(q)).all()}

    async def was_seen(self, platform: str, message_id: str) -> bool:
        """True if `mark_seen` recorded this id (webhooks check first, record after handling)."""
        q = select(ZaloSeenRow.message_id).where(
            ZaloSeenRow.platform == platform, ZaloSeenRow.message_id == message_id[:100]
        )
        async with self._tx() as s:
            return (await s.execute(q)).first() is not None

    async def prune_seen(self, before: datetime) -> int:
        """Forget ids seen before `before` (callers pass now - SEEN_KEEP); how many went."""
        async with self._tx() as s:
            res = await s.execute(delete(ZaloSeenRow).where(ZaloSeenRow.seen_at < before))
            return int(res.rowcount)  # type: ignore[attr-defined]

    # -- numbered menus ------------------------------------------------------------------------

    async def save_menu(
        self,
        platform: str,
        chat_id: str,
        message_id: str | None,
        options: list[str],
        now: datetime,
        *,
        user_id: str = "",
    ) -> None:
        """The current menu of `user_id` in the chat (a later one replaces theirs, never another
        member's); "" for a menu nobody asked for (a push), which anyone in the chat answers."""
        values = {
            "message_id": message_id,
            "options": json.dumps(options, ensure_ascii=False),
            "created_at": now,
        }
        stmt = (
            self._insert(ChoiceMenuRow)
            .values(platform=platform, chat_id=chat_id, user_id=user_id, **values)
            .on_conflict_do_update(index_elements=["platform", "chat_id", "user_id"], set_=values)
        )
        async with self._tx() as s:
            await s.execute(stmt)

    async def menu(self, platform: str, chat_id: str, user_id: str = "") -> ChoiceMenu | None:
        """The menu a reply of `user_id` answers: the newer of their own and the chat's
        owner-less one. Another member's menu is never returned."""
        q = (
            select(ChoiceMenuRow)
            .where(
                ChoiceMenuRow.platform == platform,
                ChoiceMenuRow.chat_id == chat_id,
                ChoiceMenuRow.user_id.in_({user_id, ""}),
            )
            .order_by(ChoiceMenuRow.created_at.desc())
            .limit(1)
        )
        async with self._tx() as s:
            row = (await s.execute(q)).scalar_one_or_none()
            if row is None:
                return None
            return ChoiceMenu(
                platform=row.platform,
                chat_id=row.chat_id,
                message_id=row.message_id,
                options=tuple(json.loads(row.options)),
                created_at=row.created_at,
                user_id=row.user_id,
            )

    async def consume_menu(
        self, platform: str, chat_id: str, created_at: datetime, user_id: str = ""
    ) -> bool:
        """Remove the menu that was answered; False when another answer took it first (a
        double reply presses once) or a newer menu replaced it."""
        stmt = delete(ChoiceMenuRow).where(
            ChoiceMenuRow.platform == platform,
            ChoiceMenuRow.chat_id == chat_id,
            ChoiceMenuRow.user_id == user_id,
            ChoiceMenuRow.created_at == created_at,
        )
        async with self._tx() as s:
            return bool((await s.execute(stmt)).rowcount)  # type: ignore[attr-defined]

    # -- OA contacts (7-day window) --------------------------------------------------------------

    async def touch_contact(self, platform: str, user_id: str, at: datetime) -> None:
        """The user interacted at `at`; never moves the time backwards (webhook retries)."""
        stmt = (
            self._insert(ZaloContactRow)
            .values(platform=platform, user_id=user_id, last_interaction_at=at)
            .on_conflict_do_nothing(index_elements=["platform", "user_id"])
        )
        async with self._tx() as s:
            await s.execute(stmt)
            await s.execute(
                update(ZaloContactRow)
                .where(
                    ZaloContactRow.platform == platform,
                    ZaloContactRow.user_id == user_id,
                    ZaloContactRow.last_interaction_at < at,
                )
                .values(last_interaction_at=at)
            )

    async def last_contact(self, platform: str, user_id: str) -> datetime | None:
        q = select(ZaloContactRow.last_interaction_at).where(
            ZaloContactRow.platform == platform, ZaloContactRow.user_id == user_id
        )
        async with self._tx() as s:
            return (await s.execute(q)).scalar_one_or_none()

    # -- OA token pair ---------------------------------------------------------------------------

    async def tokens(self, app_id: str) -> OATokens | None:
        async with self._tx() as s:
            row = await s.get(ZaloOATokenRow, app_id)
            return _tokens(row) if row else None

    async def seed_tokens(
        self,
        app_id: str,
        *,
        access_token: str | None,
        refresh_token: str,
        fingerprint: str,
        now: datetime,
    ) -> bool:
        """Store the operator's tokens when none are stored or the operator gave a new refresh
        token (its fingerprint changed); True when the stored pair was replaced. A pair that
        refreshes already rotated is kept otherwise: the settings' refresh token is spent."""
        async with self._tx() as s:
            row = await s.get(ZaloOATokenRow, app_id)
            if row is not None and row.seed_fingerprint == fingerprint:
                return False
            if row is None:
                row = ZaloOATokenRow(app_id=app_id, generation=0)
                s.add(row)
            row.access_token = access_token
            row.refresh_token = refresh_token
            row.expires_at = None  # unknown: the first answer tells (or a refresh sets it)
            row.generation = (row.generation or 0) + 1
            row.seed_fingerprint = fingerprint
            row.refresh_started_at = None
            row.last_error = None
            row.updated_at = now
            return True

    async def begin_refresh(
        self, app_id: str, generation: int, now: datetime, stale_after: timedelta
    ) -> bool:
        """Claim the right to spend the single-use refresh token of `generation` (one process
        at a time); the mark stays if we crash, and the next start sees it."""
        stmt = (
            update(ZaloOATokenRow)
            .where(
                ZaloOATokenRow.app_id == app_id,
                ZaloOATokenRow.generation == generation,
                (ZaloOATokenRow.refresh_started_at.is_(None))
                | (ZaloOATokenRow.refresh_started_at < now - stale_after),
            )
            .values(refresh_started_at=now, updated_at=now)
        )
        async with self._tx() as s:
            return bool((await s.execute(stmt)).rowcount)  # type: ignore[attr-defined]

    async def store_refreshed(
        self,
        app_id: str,
        generation: int,
        *,
        access_token: str,
        refresh_token: str,
        expires_at: datetime,
        now: datetime,
    ) -> bool:
        """Replace the pair made from `generation` in one statement (atomic); False when
        another process stored a newer one first."""
        stmt = (
            update(ZaloOATokenRow)
            .where(ZaloOATokenRow.app_id == app_id, ZaloOATokenRow.generation == generation)
            .values(
                access_token=access_token,
                refresh_token=refresh_token,
                expires_at=expires_at,
                generation=generation + 1,
                refresh_started_at=None,
                last_error=None,
                updated_at=now,
            )
        )
        async with self._tx() as s:
            return bool((await s.execute(stmt)).rowcount)  # type: ignore[attr-defined]

    async def refresh_failed(self, app_id: str, generation: int, error: str, now: datetime) -> None:
        """Keep the pair (the access token may still work), clear the claim, note why."""
        stmt = (
            update(ZaloOATokenRow)
            .where(ZaloOATokenRow.app_id == app_id, ZaloOATokenRow.generation == generation)
            .values(refresh_started_at=None, last_error=error[:500], updated_at=now)
        )
        async with self._tx() as s:
            await s.execute(stmt)

    async def set_expiry(self, app_id: str, generation: int, expires_at: datetime) -> None:
        stmt = (
            update(ZaloOATokenRow)
            .where(ZaloOATokenRow.app_id == app_id, ZaloOATokenRow.generation == generation)
            .values(expires_at=expires_at)
        )
        async with self._tx() as s:
            await s.execute(stmt)
