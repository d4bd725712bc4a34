"""The composition root: settings in, every part of a process built once, on first use.

`compose(settings)` opens the database and returns an `App` whose services (channels, dialog,
deliverer, poller, progress, staff target) are built from the settings the first time something
asks for them. Every role (`bantin run`, `serve`, `scheduler`, `worker`: bot/app/roles.py) and
every CLI command starts here and takes only what it needs: a command that reads the database
never builds a channel, `bantin poll` builds the poller and nothing that sends, `bantin deliver`
the deliverer and its channels. Starting and stopping belong to bot/app/runner.py.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import replace
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, TextIO

import httpx

from bot.adapters import console
from bot.app.channels import build_channels
from bot.app.settings import Settings
from jobs.channel import Channel, Fatal
from jobs.i18n import t
from jobs.ingest.decide import PollBounds
from jobs.ingest.fetch import make_client
from jobs.ingest.poll import Poller
from jobs.media.store import MediaStore
from jobs.ops.supervise import Loops, Run, supervised
from jobs.route.fanout import fan_out_articles
from storage.budget import SendBudget
from storage.db import safe_url
from storage.feedback import RateLimit
from storage.store import Store

if TYPE_CHECKING:  # built on first use, imported there: `bantin poll` needs none of them
    from bot.dialog.events import Event
    from bot.dialog.router import Dialog
    from jobs.send.deliverer import Deliverer
    from jobs.staff.progress import ProgressReporter

log = logging.getLogger(__name__)

DATABASE_POOL = 20  # connections per process (as many again in overflow)


def utcnow() -> datetime:
    return datetime.now(UTC)


async def open_store(settings: Settings) -> Store:
    """Open and migrate the database; any failure becomes a Fatal with a one-line reason."""
    # Not sized by the send bound (200): sends hold no connection while on the wire, and
    # several processes at 2 × 200 would exhaust PostgreSQL's default 100 connections.
    store = Store.open(settings.database_url, pool_size=DATABASE_POOL)
    try:
        await store.migrate()
    except Exception as exc:  # the operator needs the reason, not a traceback
        await store.aclose()
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise Fatal(t("cli_db_error", url=safe_url(settings.database_url), error=reason)) from None
    return store


async def compose(
    settings: Settings,
    *,
    out: TextIO | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> App:
    """The one way a process gets its parts: the migrated database now, the rest on demand."""
    return App(settings, await open_store(settings), out=out, clock=clock)


_PARTS = ("dialog", "deliverer", "client", "poller", "staff_target", "progress", "media")


class App:
    """One process's services over one store, each built from the settings on first use.

    Building lazily is what lets every command share this root without paying for what it does
    not use (channels open HTTP clients, the poller starts worker processes). `aclose` closes
    exactly what was built, then the store.
    """

    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        out: TextIO | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.settings = settings
        self.store = store
        self.out = out  # the console channel's stream (tests capture it)
        self.clock = clock
        self.loops = Loops()  # every loop's crash record, read by /healthz
        self._forward_lock = asyncio.Lock()
        # Coalesced forwarding after filings (see `forward_after`): asks counted, passes done.
        self._forward_asked = 0
        self._forward_done = 0
        self._forward_pass: asyncio.Future[None] | None = None

    # -- the parts, built on first use ----------------------------------------------------------

    @cached_property
    def _channels_and_bot(self) -> tuple[dict[str, Channel], object | None]:
        return build_channels(self.settings, self.out, store=self.store, clock=self.clock)

    @property
    def channels(self) -> dict[str, Channel]:
        return self._channels_and_bot[0]

    @property
    def bot(self) -> object | None:
        """The Telegram Bot behind the telegram channel (initialized by the runner)."""
        return self._channels_and_bot[1]

    @cached_property
    def dialog(self) -> Dialog:
        from bot.dialog.router import Dialog

        caps = {name: ch.capabilities for name, ch in self.channels.items()}
        dialog = Dialog(
            self.store,
            capabilities=lambda p: caps[p],
            clock=self.clock,
            feedback_limit=RateLimit(*self.settings.feedback_rate_limit),
        )
        dialog.ctx.calendar = self.settings.work_calendar()  # cases (#15): due times
        dialog.ctx.max_photos = self.settings.case_max_photos
        dialog.ctx.erase_photos = self._erase_photos
        return dialog

    async def _erase_photos(self, subscriber_id: int) -> int:
        """/xoadulieu: a citizen's stored photos deleted from the media store."""
        from jobs.media.fetcher import erase_subscriber_photos

        return await erase_subscriber_photos(self.store, self.media, subscriber_id)

    @cached_property
    def deliverer(self) -> Deliverer:
        from jobs.send.deliverer import Deliverer

        settings = self.settings
        return Deliverer(
            self.store,
            self.channels,
            rate=settings.send_rate or None,
            concurrency=settings.send_concurrency,
            lease_seconds=settings.lease_seconds,
            clock=self.clock,
            budget=SendBudget(self.store.engine, settings.send_rate or None),
            media=self.media,  # photos uploaded in the web console's composer
        )

    @cached_property
    def client(self) -> httpx.AsyncClient:
        """The HTTP client for feeds and article pages (address rules inside)."""
        return make_client(
            max_connections=self.settings.poll_concurrency,
            private_hosts=self.settings.allow_private_hosts,
        )

    @cached_property
    def poller(self) -> Poller:
        settings = self.settings
        return Poller(
            self.store,
            self.client,
            clock=self.clock,
            interval=settings.poll_interval,
            backlog_limit=100 if settings.console_mode else settings.backlog_limit,
            summary_chars=settings.summary_chars,
            max_bytes=settings.feed_max_bytes,
            concurrency=settings.poll_concurrency,
            per_host=settings.poll_per_host,
            bounds=PollBounds(settings.poll_min_interval, settings.poll_max_interval),
            parse_timeout=settings.feed_parse_timeout,
            article_hosts=settings.article_hosts,
            summarize_unheard=not settings.console_mode,  # console: up to 100 a feed pushed
        )

    @cached_property
    def staff_target(self) -> tuple[Channel, str] | None:
        """Where feedback and feed alerts go: the console, the Telegram or the Zalo staff chat."""
        settings, channels = self.settings, self.channels
        if settings.console_mode:
            return channels[console.PLATFORM], console.STAFF_CHAT
        if settings.staff_chat_id is not None and "telegram" in channels:
            return channels["telegram"], str(settings.staff_chat_id)
        if settings.zalo_staff_chat_id is not None and "zalo" in channels:
            return channels["zalo"], settings.zalo_staff_chat_id
        return None

    @cached_property
    def progress(self) -> ProgressReporter:
        from jobs.staff.progress import ProgressReporter

        return ProgressReporter(self.store, self.channels, self.clock)

    @cached_property
    def media(self) -> MediaStore:
        """Where citizens' photos are kept: a folder or an S3 bucket (jobs/media/store.py)."""
        from jobs.media.store import media_store

        s = self.settings
        return media_store(
            directory=s.media_dir,
            database_url=s.database_url,
            s3_url=s.media_s3_url,
            bucket=s.media_s3_bucket,
            region=s.media_s3_region,
            prefix=s.media_s3_prefix,
            access_key=s.media_s3_access_key.get_secret_value() if s.media_s3_access_key else None,
            secret_key=s.media_s3_secret_key.get_secret_value() if s.media_s3_secret_key else None,
        )

    async def fetch_photos(self) -> None:
        """Download, re-encode and store the photos of cases (jobs/media/fetcher.py)."""
        from jobs.media.fetcher import FetchPolicy, fetch_photos

        s = self.settings
        policy = FetchPolicy(
            max_bytes=s.media_max_bytes,
            max_pixels=s.media_max_pixels,
            attempts=s.media_fetch_attempts,
        )
        await fetch_photos(self.store, self.channels, self.media, now=self.clock(), policy=policy)

    async def prune_photos(self) -> None:
        """Delete photos of cases closed long ago (BANTIN_RETENTION_PHOTO_DAYS)."""
        from jobs.media.fetcher import prune_photos

        days = self.settings.retention_photo_days
        await prune_photos(self.store, self.media, now=self.clock(), days=days)

    @property
    def built(self) -> set[str]:
        """The parts built so far ("channels", "dialog", "deliverer", "client", "poller"...)."""
        parts = {name for name in _PARTS if name in self.__dict__}
        return parts | ({"channels"} if "_channels_and_bot" in self.__dict__ else set())

    # -- the work the roles schedule --------------------------------------------------------------

    async def handle(self, event: Event) -> None:
        respond = await self.take(event)
        await respond()

    async def take(self, event: Event) -> Callable[[], Awaitable[None]]:
        """The dialog's work for `event` now (all of it stored); its replies as a step to run
        next. The webhook server answers Telegram between the two
        (bot/adapters/telegram/webhook.py)."""
        outcome = await self.dialog.handle(event)
        if event.who.chat_type == "channel":
            # A channel is an audience: whatever the dialog says goes nowhere public. A press
            # under a channel post still gets its toast (only the presser sees it).
            outcome = replace(outcome, replies=[], edit=None)

        async def respond() -> None:
            channel = self.channels[event.who.platform]
            from bot.dialog.respond import carry_out

            await carry_out(channel, event, outcome, self.deliverer.pacer)
            if outcome.wake_outbox:
                self.deliverer.wake()
            if outcome.wake_feedback:
                await self.forward_after()

        return respond

    async def poll_cycle(self, *, force: bool = False) -> None:
        """Poll due feeds (every enabled feed with force), fan out, wake the deliverer."""
        if force:
            report = await self.poller.poll([f for f in await self.store.feeds.all() if f.enabled])
        else:
            report = await self.poller.poll_due()
        queued = await fan_out_articles(self.store, now=self.clock())
        if queued:
            self.deliverer.wake()
        await self.feed_health()
        if report.feeds:
            log.info(
                "poll cycle",
                extra={
                    "feeds": len(report.feeds),
                    "new": report.new,
                    "errors": len(report.errors),
                    "queued": queued,
                },
            )

    async def feed_health(self) -> None:
        """Tell staff about feeds that started failing or recovered (jobs/staff/feed_alerts.py)."""
        if self.staff_target is None:
            return
        channel, chat = self.staff_target
        from jobs.staff.feed_alerts import send_health_notices
        from jobs.staff.forward import current_staff_chat

        chat = await current_staff_chat(self.store, channel.platform, chat)  # a moved group
        await send_health_notices(
            self.store,
            channel,
            chat,
            threshold=self.settings.feed_alert_after,
            clock=self.clock,
        )

    async def forward(self) -> None:
        """Post new case cards: to their units' own chats, the others to the staff chat. With
        no staff chat configured, units with a chat of their own still get theirs; the rest
        wait (shown in /inbox and `bantin stats`) until one is."""
        async with self._forward_lock:
            channel, chat = self.staff_target or (None, None)
            from jobs.staff.forward import forward_feedback

            await forward_feedback(
                self.store,
                channel,
                chat,
                clock=self.clock,
                channels=self.channels,  # units' own chats, on their platforms
                media=self.media,  # photos re-uploaded to another platform
                public_links=self.settings.media_public_links,
            )

    async def forward_after(self) -> None:
        """Return once a forwarding pass that began after this call has ended: what was just
        filed has had its chance to be posted. Callers meanwhile share the next pass. A pass
        reads up to a hundred waiting cards, so one per filing made a burst of feedback
        quadratic (the card rate of a staff chat is far below a burst's filing rate)."""
        self._forward_asked += 1
        asked = self._forward_asked
        while self._forward_done < asked:
            if self._forward_pass is None or self._forward_pass.done():
                self._forward_pass = asyncio.ensure_future(self._one_forward_pass())
            await asyncio.shield(self._forward_pass)

    async def _one_forward_pass(self) -> None:
        covers = self._forward_asked  # the asks made before this pass began
        try:
            await self.forward()
        finally:
            self._forward_done = max(self._forward_done, covers)

    async def report_progress(self) -> None:
        """Keep each running broadcast's staff message current (jobs/staff/progress.py)."""
        await self.progress.run_once()

    async def housekeeping(self) -> None:
        released = await self.store.deliveries.release_expired(self.clock())
        if released:
            log.warning("expired leases released", extra={"rows": released})

    def start_loop(self, name: str, run: Run, stop: asyncio.Event) -> asyncio.Task[None]:
        """Run `run(stop)` as a task under supervision (jobs/ops/supervise.py): restarted with
        backoff after a crash, and counted in `loops` for /healthz."""
        return asyncio.create_task(supervised(name, run, stop, loops=self.loops), name=name)

    async def aclose(self) -> None:
        """Close what was built: channels (Zalo's flush coalesced edits), the poller and its
        worker processes, the feed client, the Telegram bot; the store last."""
        built = self.built
        if "channels" in built:
            for channel in self.channels.values():
                close = getattr(channel, "aclose", None)
                if close is not None:
                    with suppress(Exception):
                        await close()
        if "poller" in built:
            await self.poller.aclose()
        if "client" in built:
            await self.client.aclose()
        if "media" in built:
            await self.media.aclose()
        bot = self.bot if "channels" in built else None
        if bot is not None:
            with suppress(Exception):
                await bot.shutdown()  # type: ignore[attr-defined]
        await self.store.aclose()
