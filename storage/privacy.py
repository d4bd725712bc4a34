"""A citizen's own data: consent, phone, the guided intake's draft, erasure, held notices.

Decree 13/2023/NĐ-CP on personal data: a phone number or a place is stored only once the
citizen agreed (`subscribers.consent_at`, asked once), and `/xoadulieu` erases what identifies
them — phone, display name, the places and photos of their cases, consent, a draft in progress
— in ONE transaction that also writes an 'erased' line in each case's history and a line in
the audit log. Cases stay (anonymised): the monthly report counts the same before and after.

The guided intake's draft (category, text, photos, place) lives in the key-value table under a
key per chat and person, so a restart between two messages of the step loses nothing; it is
personal data too, so erasure drops it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, or_, select, update

from storage.base import Repo
from storage.kinds import CaseEventKind, DeliveryStatus, OutboxKind
from storage.models import (
    AuditRow,
    CaseEventRow,
    CasePhotoRow,
    DeliveryRow,
    FeedbackMessageRow,
    FeedbackRow,
    KeyValueRow,
    SubscriberRow,
    utcnow,
)

DRAFT_PREFIX = "intake:"
PHONE_MAX = 30


@dataclass(frozen=True)
class Erased:
    """What `/xoadulieu` removed: cases anonymised, places and photos cleared."""

    cases: int = 0
    places: int = 0
    photos: int = 0
    had_phone: bool = False


@dataclass
class Draft:
    """The guided intake in progress (see bot/dialog/flows/cases_citizen.py)."""

    category_id: int | None = None  # 0: «không rõ»; None: not chosen yet
    text: str = ""
    photos: list[str] = field(default_factory=list)  # platform file references
    place: tuple[float, float, str | None] | None = None
    pending_place: tuple[float, float, str | None] | None = None  # waiting for consent
    pending_phone: str | None = None  # waiting for consent
    article_id: int | None = None

    def dumps(self) -> str:
        return json.dumps(
            {
                "c": self.category_id,
                "t": self.text,
                "p": self.photos,
                "l": list(self.place) if self.place else None,
                "lp": list(self.pending_place) if self.pending_place else None,
                "ph": self.pending_phone,
                "a": self.article_id,
            },
            ensure_ascii=False,
        )

    @classmethod
    def loads(cls, raw: str | None) -> Draft:
        try:
            data: dict[str, Any] = json.loads(raw or "{}")
        except ValueError:
            data = {}
        if not isinstance(data, dict):
            data = {}

        def place(value: object) -> tuple[float, float, str | None] | None:
            if not isinstance(value, list) or len(value) != 3:
                return None
            lat, lon, label = value
            if not isinstance(lat, (int, float)) or not isinstance(lon, (int, float)):
                return None
            return float(lat), float(lon), str(label) if label else None

        category = data.get("c")
        photos = data.get("p")
        article = data.get("a")
        phone = data.get("ph")
        return cls(
            category_id=category if isinstance(category, int) else None,
            text=str(data.get("t") or ""),
            photos=[str(p) for p in photos] if isinstance(photos, list) else [],
            place=place(data.get("l")),
            pending_place=place(data.get("lp")),
            pending_phone=str(phone) if phone else None,
            article_id=article if isinstance(article, int) else None,
        )


def draft_key(subscriber_id: int, user_id: str) -> str:
    return f"{DRAFT_PREFIX}{subscriber_id}:{user_id}"[:200]


class PrivacyRepo(Repo):
    # -- consent and phone ---------------------------------------------------------------------

    async def consent_of(self, subscriber_id: int) -> datetime | None:
        async with self._tx() as s:
            q = select(SubscriberRow.consent_at).where(SubscriberRow.id == subscriber_id)
            return (await s.execute(q)).scalar_one_or_none()

    async def give_consent(self, subscriber_id: int, now: datetime) -> None:
        """The citizen agreed to a phone or a place being kept (asked once; kept until
        /xoadulieu)."""
        async with self._tx() as s:
            await s.execute(
                update(SubscriberRow)
                .where(SubscriberRow.id == subscriber_id, SubscriberRow.consent_at.is_(None))
                .values(consent_at=now, erased_at=None)
            )

    async def set_phone(self, subscriber_id: int, phone: str) -> bool:
        """Keep the citizen's phone, only if they consented; False otherwise."""
        async with self._tx() as s:
            done = await s.execute(
                update(SubscriberRow)
                .where(SubscriberRow.id == subscriber_id, SubscriberRow.consent_at.is_not(None))
                .values(phone=phone[:PHONE_MAX])
            )
            return bool(done.rowcount)  # type: ignore[attr-defined]

    async def set_place(
        self, case_id: int, subscriber_id: int, lat: float, lon: float, label: str | None
    ) -> bool:
        """Put a place on the citizen's own case, only if they consented."""
        async with self._tx() as s:
            consent = await s.scalar(
                select(SubscriberRow.consent_at).where(SubscriberRow.id == subscriber_id)
            )
            if consent is None:
                return False
            done = await s.execute(
                update(FeedbackRow)
                .where(FeedbackRow.id == case_id, FeedbackRow.subscriber_id == subscriber_id)
                .values(place_lat=lat, place_lon=lon, place_label=(label or None) and label[:300])
            )
            return bool(done.rowcount)  # type: ignore[attr-defined]

    # -- the intake's draft --------------------------------------------------------------------

    async def draft(self, subscriber_id: int, user_id: str) -> Draft:
        async with self._tx() as s:
            q = select(KeyValueRow.value).where(
                KeyValueRow.key == draft_key(subscriber_id, user_id)
            )
            return Draft.loads((await s.execute(q)).scalar_one_or_none())

    async def save_draft(self, subscriber_id: int, user_id: str, draft: Draft) -> None:
        value, now = draft.dumps(), utcnow()
        stmt = (
            self._insert(KeyValueRow)
            .values(key=draft_key(subscriber_id, user_id), value=value, updated_at=now)
            .on_conflict_do_update(index_elements=["key"], set_={"value": value, "updated_at": now})
        )
        async with self._tx() as s:
            await s.execute(stmt)

    async def drop_draft(self, subscriber_id: int, user_id: str) -> None:
        async with self._tx() as s:
            await s.execute(
                delete(KeyValueRow).where(KeyValueRow.key == draft_key(subscriber_id, user_id))
            )

    # -- erasure -------------------------------------------------------------------------------

    async def erase(self, subscriber_id: int, *, actor: str, now: datetime) -> Erased:
        """`/xoadulieu`: phone, display name, consent, places and photo references of the
        citizen's cases, drafts — gone in one transaction, with history and audit lines.
        Cases, their states and dates stay, so reports count the same. The stored copies of
        photos are deleted from the media store by the caller (jobs/media/fetcher.py)."""
        async with self._tx() as s:
            sub = await s.get(SubscriberRow, subscriber_id, with_for_update=True)
            if sub is None:
                return Erased()
            had_phone = sub.phone is not None
            sub.phone = None
            sub.display_name = None
            sub.consent_at = None
            sub.erased_at = now
            case_ids = list(
                await s.scalars(
                    select(FeedbackRow.id).where(FeedbackRow.subscriber_id == subscriber_id)
                )
            )
            places = int(
                await s.scalar(
                    select(func.count())
                    .select_from(FeedbackRow)
                    .where(
                        FeedbackRow.subscriber_id == subscriber_id,
                        or_(
                            FeedbackRow.place_lat.is_not(None),
                            FeedbackRow.place_label.is_not(None),
                        ),
                    )
                )
                or 0
            )
            photos = 0
            if case_ids:
                await s.execute(
                    update(FeedbackRow)
                    .where(FeedbackRow.id.in_(case_ids))
                    .values(place_lat=None, place_lon=None, place_label=None, photo_file_id=None)
                )
                await s.execute(
                    update(FeedbackMessageRow)
                    .where(FeedbackMessageRow.feedback_id.in_(case_ids))
                    .values(photo_file_id=None)
                )
                photos = int(
                    await s.scalar(
                        select(func.count())
                        .select_from(CasePhotoRow)
                        .where(CasePhotoRow.case_id.in_(case_ids), CasePhotoRow.erased_at.is_(None))
                    )
                    or 0
                )
                # The platform reference goes now; a stored copy (media_key) stays until the
                # media store deleted it (storage/photos.py erase_of_subscriber finds it).
                await s.execute(
                    update(CasePhotoRow)
                    .where(CasePhotoRow.case_id.in_(case_ids), CasePhotoRow.erased_at.is_(None))
                    .values(erased_at=now, file_ref=None, next_attempt_at=None)
                )
                for case_id, status in (
                    await s.execute(
                        select(FeedbackRow.id, FeedbackRow.status).where(
                            FeedbackRow.id.in_(case_ids)
                        )
                    )
                ).all():
                    s.add(
                        CaseEventRow(
                            case_id=case_id,
                            at=now,
                            actor=actor[:100],
                            kind=CaseEventKind.ERASED,
                            from_state=status,
                            to_state=status,
                        )
                    )
            await s.execute(
                delete(KeyValueRow).where(KeyValueRow.key.like(f"{DRAFT_PREFIX}{subscriber_id}:%"))
            )
            s.add(
                AuditRow(
                    at=now,
                    actor=actor[:100],
                    action="privacy.erase",
                    target=f"subscriber:{subscriber_id}",
                    detail=f"cases={len(case_ids)} places={places} photos={photos}",
                )
            )
            return Erased(cases=len(case_ids), places=places, photos=photos, had_phone=had_phone)

    # -- notices held by the Zalo OA window ----------------------------------------------------

    async def held_notices(self, case_id: int) -> int:
        """How many notices and answers of this case wait for the citizen to write again
        (Zalo OA's 7-day window): the staff card shows the case is waiting."""
        events = select(CaseEventRow.id).where(CaseEventRow.case_id == case_id)
        answers = select(FeedbackMessageRow.id).where(FeedbackMessageRow.feedback_id == case_id)
        q = (
            select(func.count())
            .select_from(DeliveryRow)
            .where(
                DeliveryRow.status == DeliveryStatus.HELD,
                or_(
                    (DeliveryRow.kind == OutboxKind.CASE_NOTICE) & DeliveryRow.item_id.in_(events),
                    (DeliveryRow.kind == OutboxKind.ANSWER) & DeliveryRow.item_id.in_(answers),
                ),
            )
        )
        async with self._tx() as s:
            return int((await s.execute(q)).scalar_one())
