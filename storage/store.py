"""The one object the rest of the app holds to reach the database."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from storage import migrate
from storage.announcements import AnnouncementRepo
from storage.articles import ArticleRepo
from storage.audit import AuditRepo
from storage.case_deadlines import DeadlineRepo
from storage.case_queue import CaseQueueRepo
from storage.case_reports import CaseReportRepo
from storage.cases import CaseRepo
from storage.db import create_engine
from storage.deliveries import DeliveryRepo
from storage.digests import DigestRepo
from storage.fanout import FanoutRepo
from storage.feedback import FeedbackRepo
from storage.feeds import FeedRepo
from storage.figures import Figures
from storage.photos import PhotoRepo
from storage.preferences import PreferenceRepo
from storage.privacy import PrivacyRepo
from storage.retention import RetentionRepo
from storage.search import SearchRepo
from storage.staff import StaffRepo
from storage.state import StateRepo
from storage.subscribers import SubscriberRepo
from storage.topics import TopicRepo
from storage.units import UnitRepo
from storage.updates import DeadUpdateRepo
from storage.web import WebRepo
from storage.zalo import ZaloRepo


class Store:
    """Every repository, built once over one engine and one session factory, so there is a
    single way to reach each table. Create with `Store.open(url)`, close with `aclose()`."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        sessions = async_sessionmaker(engine, expire_on_commit=False)
        dialect = engine.dialect.name
        self.feeds = FeedRepo(sessions, dialect)
        self.articles = ArticleRepo(sessions, dialect)
        self.search = SearchRepo(sessions, dialect)
        self.subscribers = SubscriberRepo(sessions, dialect)
        self.preferences = PreferenceRepo(sessions, dialect)
        self.topics = TopicRepo(sessions, dialect)
        self.deliveries = DeliveryRepo(sessions, dialect)
        self.digests = DigestRepo(sessions, dialect)
        self.fanout = FanoutRepo(sessions, dialect)  # fan-out's batched writes
        self.announcements = AnnouncementRepo(sessions, dialect)
        self.feedback = FeedbackRepo(sessions, dialect)
        self.cases = CaseRepo(sessions, dialect)  # case states, history, notices
        self.units = UnitRepo(sessions, dialect)  # units, members, categories, canned answers
        self.deadlines = DeadlineRepo(sessions, dialect)  # case reminders and escalations
        self.case_reports = CaseReportRepo(sessions, dialect)  # the monthly case report
        self.staff = StaffRepo(sessions, dialect)
        self.audit = AuditRepo(sessions, dialect)
        self.state = StateRepo(sessions, dialect)
        self.dead_updates = DeadUpdateRepo(sessions, dialect)
        self.zalo = ZaloRepo(sessions, dialect)  # seen ids, numbered menus, OA contacts, tokens
        self.retention = RetentionRepo(sessions, dialect)
        self.photos = PhotoRepo(sessions, dialect)  # case photos: references, stored copies
        self.figures = Figures(sessions, dialect)  # bounded counts for /metrics
        self.web = WebRepo(sessions, dialect)  # web console: sign-in links, sessions, pages
        self.privacy = PrivacyRepo(sessions, dialect)  # consent, erasure, intake drafts
        self.case_queue = CaseQueueRepo(sessions, dialect)  # the web console's case queue

    @classmethod
    def open(cls, url: str, *, pool_size: int = 10) -> Store:
        return cls(create_engine(url, pool_size=pool_size))

    async def migrate(self) -> None:
        await migrate.upgrade(self.engine)

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def aclose(self) -> None:
        await self.engine.dispose()
