"""Zalo Official Account (API v3) adapter: consultation messages, the 7-day rule, the rotating
token pair, and the signed webhook.

Tokens. The access token lives 25 hours; the refresh token is single-use and every refresh
returns a new pair. `TokenKeeper` refreshes when less than REFRESH_MARGIN is left and follows
one rule: the new pair is stored (one UPDATE guarded by a generation counter) before it is
used. Crash windows and what the next start does:

* before the refresh request reaches Zalo: the stored pair is still the live one. The claim
  mark (`refresh_started_at`) left behind expires after CLAIM_STALE; at start the stored
  access token is checked (getoa) and, if expired/invalid, refreshed with the stored token.
* after our store committed: the new pair is simply read at start.
* after Zalo answered but before our store committed (milliseconds): Zalo has spent the old
  refresh token and the new one is lost. Refreshing early is what makes this survivable: the
  stored access token still has hours to live, so sending goes on with it, while the failed
  refresh is recorded (`last_error`) and reported with what to do (re-authorize, set a new
  BANTIN_ZALO_OA_REFRESH_TOKEN: a changed one re-seeds storage at the next start).

The 7-day rule. Consultation messages reach only users who interacted with the OA in the last
7 days. Interactions (text, follow) are recorded from the webhook; a send to a user outside
the window is not attempted and raises `OutsideWindow` (also when Zalo answers -230/-232), a
`Rejected` with reason "window": the deliverer records the reason and never retries it, and
the subscriber stays active (they come back into the window by writing to the OA).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import httpx
from aiohttp import web

from bot.channel import (
    PLAIN,
    Capabilities,
    ChannelError,
    Fatal,
    OutMessage,
    RateLimited,
    RecipientGone,
    Rejected,
    Transient,
)
from bot.events import Command, Event, Text, Who, parse_command
from bot.i18n import t
from bot.render import VIETNAM, split_message
from storage.store import Store
from storage.zalo import OATokens, ZaloRepo

log = logging.getLogger(__name__)

PLATFORM = "zalo_oa"
MAX_TEXT = 2000
WINDOW = timedelta(days=7)
TOKEN_LIFETIME = timedelta(hours=25)
REFRESH_MARGIN = timedelta(hours=6)  # refresh when less is left: a lost refresh leaves hours
CLAIM_STALE = timedelta(seconds=60)
SIGNATURE_HEADER = "X-ZEvent-Signature"
TOKEN_ERRORS = frozenset({-216, -220})  # invalid / expired access token
WINDOW_ERRORS = frozenset({-230, -232})
GONE_ERRORS = frozenset({-213, -227})  # not a follower; banned or inactive for 45 days
FATAL_ERRORS = frozenset({-204, -205, -209, -212, -219, -221, -223, -224, -235, -320, -321})
REJECT_ERRORS = frozenset({-201, -210, -233, -244, -248})


class OutsideWindow(Rejected):
    """The user last interacted with the OA more than 7 days ago: skip, record, never retry."""

    def __init__(self, description: str) -> None:
        super().__init__(description, reason="window")


def until_morning(now: datetime) -> float:
    """Seconds from `now` to the next 06:00 in Vietnam (when night sending is allowed again)."""
    local = now.astimezone(VIETNAM)
    morning = local.replace(hour=6, minute=0, second=0, microsecond=0)
    if morning <= local:
        morning += timedelta(days=1)
    return (morning - local).total_seconds()


def translate(code: int, message: str, now: datetime) -> ChannelError:
    """Map an OA API error code to our typed errors (token errors are handled before this)."""
    text = f"Zalo OA error {code}: {message}".strip()
    if code in WINDOW_ERRORS:
        return OutsideWindow(f"{t('zalo_outside_window')} ({code})")
    if code in GONE_ERRORS:
        return RecipientGone(text)
    if code == -234:  # not at night (22:00-06:00): defer this chat's messages to the morning
        return RateLimited(text, until_morning(now), scope="chat")
    if code in FATAL_ERRORS or code in TOKEN_ERRORS:
        return Fatal(text)
    if code in REJECT_ERRORS:
        return Rejected(text, reason="too_long" if code == -210 else "other")
    return Transient(text)  # -32 rate, -211/-218 quota, -200 send failed, unknown: back off


def fingerprint(refresh_token: str) -> str:
    """Identifies the operator's seed token without storing or logging it twice."""
    return hashlib.sha256(b"bantin-zalo-oa-seed:" + refresh_token.encode()).hexdigest()


class TokenKeeper:
    """The OA token pair: stored first, used after; refreshed early; one refresher at a time."""

    def __init__(
        self,
        repo: ZaloRepo,
        http: httpx.AsyncClient,
        *,
        app_id: str,
        secret_key: str,
        oauth_url: str,
        clock: Callable[[], datetime],
        claim_stale: timedelta = CLAIM_STALE,
    ) -> None:
        self._repo = repo
        self._http = http
        self._app_id = app_id
        self._secret_key = secret_key
        self._oauth_url = oauth_url.rstrip("/")
        self._clock = clock
        self._claim_stale = claim_stale
        self._lock = asyncio.Lock()
        self.current: OATokens | None = None

    async def seed(self, access_token: str | None, refresh_token: str) -> None:
        """Take the operator's tokens unless storage already has their rotated successors."""
        if await self._repo.seed_tokens(
            self._app_id,
            access_token=access_token,
            refresh_token=refresh_token,
            fingerprint=fingerprint(refresh_token),
            now=self._clock(),
        ):
            log.info("Zalo OA tokens seeded from settings")
        self.current = await self._repo.tokens(self._app_id)
        if self.current is not None and self.current.refresh_started_at is not None:
            log.warning(
                "a Zalo OA token refresh was in flight when bantin last stopped",
                extra={"generation": self.current.generation},
            )

    async def access_token(self) -> str:
        """A usable access token, refreshed first when close to expiry (or missing)."""
        tokens = await self._load()
        if tokens.access_token and not self._expiring(tokens):
            return tokens.access_token
        if tokens.access_token and tokens.last_error:
            # The last refresh was refused (spent token): refreshing again cannot work; use
            # the access token while Zalo takes it, the operator has been told.
            return tokens.access_token
        try:
            return await self.refresh(tokens.generation)
        except Fatal:
            if tokens.access_token:  # a lost refresh: go on while the old token lives
                return tokens.access_token
            raise

    async def refresh(self, generation: int) -> str:
        """Refresh the pair made from `generation` (a no-op if another task or process already
        did); returns the access token to use. Fatal when Zalo refuses the refresh token."""
        async with self._lock:
            for _ in range(50):
                tokens = await self._load(fresh=True)
                if tokens.generation != generation and tokens.access_token:
                    return tokens.access_token  # someone else rotated meanwhile
                now = self._clock()
                if await self._repo.begin_refresh(
                    self._app_id, tokens.generation, now, self._claim_stale
                ):
                    return await self._spend(tokens)
                await asyncio.sleep(0.2)  # another process holds the claim
            raise Transient("Zalo OA token refresh is held by another process")

    async def _spend(self, tokens: OATokens) -> str:
        """Spend the single-use refresh token; store the new pair before anyone uses it."""
        try:
            response = await self._http.post(
                f"{self._oauth_url}/v4/oa/access_token",
                data={
                    "refresh_token": tokens.refresh_token,
                    "app_id": self._app_id,
                    "grant_type": "refresh_token",
                },
                headers={"secret_key": self._secret_key},
            )
            body = response.json()
        except (httpx.HTTPError, ValueError) as err:
            await self._repo.refresh_failed(
                self._app_id, tokens.generation, type(err).__name__, self._clock()
            )
            raise Transient(f"Zalo OA token refresh failed: {type(err).__name__}") from None
        access = body.get("access_token") if isinstance(body, dict) else None
        refresh = body.get("refresh_token") if isinstance(body, dict) else None
        if not access or not refresh:
            error = body.get("error") if isinstance(body, dict) else None
            reason = (
                f"{error} {body.get('error_name') or body.get('message') or ''}".strip()
                if (isinstance(body, dict))
                else "bad answer"
            )
            await self._repo.refresh_failed(self._app_id, tokens.generation, reason, self._clock())
            log.error(t("zalo_oa_reauth", "en", error=reason))
            raise Fatal(t("zalo_oa_reauth", error=reason))
        try:
            lifetime = timedelta(seconds=int(body.get("expires_in") or 0)) or TOKEN_LIFETIME
        except (TypeError, ValueError):
            lifetime = TOKEN_LIFETIME
        now = self._clock()
        stored = await self._repo.store_refreshed(
            self._app_id,
            tokens.generation,
            access_token=str(access),
            refresh_token=str(refresh),
            expires_at=now + lifetime,
            now=now,
        )
        if not stored:  # cannot happen while we hold the claim, unless an operator re-seeded
            log.error("Zalo OA refreshed pair not stored: a newer pair exists")
        self.current = await self._repo.tokens(self._app_id)
        log.info("Zalo OA tokens rotated", extra={"generation": tokens.generation + 1})
        return str(access) if stored else await self.access_token()

    async def _load(self, *, fresh: bool = False) -> OATokens:
        if fresh or self.current is None:
            self.current = await self._repo.tokens(self._app_id)
        if self.current is None:
            raise Fatal("Zalo OA has no tokens: set BANTIN_ZALO_OA_REFRESH_TOKEN")
        return self.current

    def _expiring(self, tokens: OATokens) -> bool:
        if tokens.expires_at is None:
            return False  # a seeded token of unknown age: used until Zalo says it expired
        return tokens.expires_at - self._clock() < REFRESH_MARGIN

    def __repr__(self) -> str:
        return f"TokenKeeper(app_id={self._app_id!r})"


class ZaloOAChannel:
    """Consultation text messages to users inside the 7-day window."""

    platform = PLATFORM
    capabilities = Capabilities(
        markup=PLAIN, max_text=MAX_TEXT, max_caption=MAX_TEXT, buttons=False
    )

    def __init__(
        self,
        keeper: TokenKeeper,
        repo: ZaloRepo,
        http: httpx.AsyncClient,
        *,
        api_url: str,
        clock: Callable[[], datetime],
    ) -> None:
        self.keeper = keeper
        self._repo = repo
        self._http = http
        self._api = api_url.rstrip("/")
        self._clock = clock

    async def send(self, chat_id: str, message: OutMessage) -> str:
        last = await self._repo.last_contact(PLATFORM, chat_id)
        if last is None or self._clock() - last > WINDOW:
            raise OutsideWindow(t("zalo_outside_window"))
        first: str | None = None
        for part in split_message(replace(message, buttons=(), markup=PLAIN), MAX_TEXT):
            payload = {"recipient": {"user_id": chat_id}, "message": {"text": part.text}}
            data = await self.call("/v3.0/oa/message/cs", payload)
            sent = str(data.get("message_id", "")) if isinstance(data, dict) else ""
            first = first or sent
        return first or ""

    async def call(self, path: str, payload: dict[str, Any] | None = None) -> Any:
        """One OA API call; on an expired/invalid token: refresh, then retry once."""
        for attempt in range(2):
            generation = (await self.keeper._load()).generation
            token = await self.keeper.access_token()
            code, message, data = await self._request(path, payload, token)
            if code == 0:
                return data
            if code in TOKEN_ERRORS and attempt == 0:
                log.info("Zalo OA token refused; refreshing", extra={"error": code})
                await self.keeper.refresh(generation)
                continue
            raise translate(code, message, self._clock())
        raise AssertionError("unreachable")

    async def verify(self) -> None:
        """At start: is the stored access token alive? (getoa; refresh if expired/invalid)."""
        await self.call("/v2.0/oa/getoa")

    async def _request(
        self, path: str, payload: dict[str, Any] | None, token: str
    ) -> tuple[int, str, Any]:
        try:
            if payload is None:
                response = await self._http.get(
                    f"{self._api}{path}", headers={"access_token": token}
                )
            else:
                response = await self._http.post(
                    f"{self._api}{path}", json=payload, headers={"access_token": token}
                )
            body = response.json()
        except httpx.TimeoutException:
            raise Transient("Zalo OA: timed out") from None
        except (httpx.HTTPError, ValueError) as err:
            raise Transient(f"Zalo OA: {type(err).__name__}") from None
        if not isinstance(body, dict):
            raise Transient(f"Zalo OA: HTTP {response.status_code}, unexpected answer")
        code = body.get("error", 0)
        return (
            (int(code) if isinstance(code, int) else -1),
            str(body.get("message") or ""),
            (body.get("data")),
        )

    async def edit(self, chat_id: str, message_id: str, message: OutMessage) -> None:
        raise Rejected("Zalo OA cannot edit a sent message")

    async def answer_press(self, press_id: str, text: str | None = None) -> None:
        return None

    async def aclose(self) -> None:
        await self._http.aclose()


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def signature(app_id: str, body: bytes, timestamp: str, secret: str) -> str:
    """X-ZEvent-Signature as Zalo computes it: "mac=" + sha256(app_id + body + timestamp +
    secret) in hex."""
    raw = app_id.encode() + body + timestamp.encode() + secret.encode()
    return "mac=" + hashlib.sha256(raw).hexdigest()


class OAWebhook:
    """Verifies and turns OA webhook events into interactions, events and unfollows."""

    def __init__(
        self,
        *,
        app_id: str,
        secret: str,
        repo: ZaloRepo,
        store: Store,
        handle: Callable[[Event], Awaitable[None]],
        clock: Callable[[], datetime],
    ) -> None:
        self._app_id = app_id
        self._secret = secret
        self._repo = repo
        self._store = store
        self._handle = handle
        self._clock = clock
        self._tasks: set[asyncio.Task[None]] = set()

    async def __call__(self, request: web.Request) -> web.Response:
        if (request.content_length or 0) > 1_000_000:
            return web.json_response({"error": 413}, status=413)
        body = await request.read()
        try:
            data = json.loads(body)
        except ValueError:
            data = None
        given = request.headers.get(SIGNATURE_HEADER, "")
        stamp = str((data or {}).get("timestamp", "")) if isinstance(data, dict) else ""
        expected = signature(self._app_id, body, stamp, self._secret)
        if not hmac.compare_digest(given.encode(), expected.encode()):
            log.warning("Zalo OA webhook refused: bad signature")
            return web.json_response({"error": -1, "message": "bad signature"}, status=401)
        if isinstance(data, dict):
            event = await self.accept(data)
            if event is not None:
                task = asyncio.create_task(self._run(event))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        return web.json_response({"error": 0, "message": "Success"})

    async def accept(self, data: dict[str, Any]) -> Event | None:
        """Record the interaction; the event to handle (None for repeats and other kinds)."""
        name = str(data.get("event_name") or "")
        at = self._when(data)
        if name == "user_send_text":
            sender = _dict(data.get("sender"))
            message = _dict(data.get("message"))
            user, text = str(sender.get("id") or ""), message.get("text")
            if not user or not isinstance(text, str) or not text.strip():
                return None
            await self._repo.touch_contact(PLATFORM, user, at)
            msg_id = str(message.get("msg_id") or "")
            if msg_id and not await self._repo.mark_seen(PLATFORM, msg_id, self._clock()):
                return None
            who = Who(platform=PLATFORM, chat_id=user, user_id=user)
            parsed = parse_command(text.strip())
            if parsed is not None:
                return Command(who=who, name=parsed[0], args=parsed[1], message_id=msg_id or None)
            return Text(who=who, text=text, message_id=msg_id or None)
        if name in ("follow", "unfollow"):
            follower = _dict(data.get("follower"))
            user = str(follower.get("id") or "")
            key = f"{name}:{user}:{data.get('timestamp', '')}"
            if not user or not await self._repo.mark_seen(PLATFORM, key, self._clock()):
                return None
            if name == "unfollow":
                await self._unfollow(user)
                return None
            await self._repo.touch_contact(PLATFORM, user, at)
            return Command(who=Who(platform=PLATFORM, chat_id=user, user_id=user), name="start")
        return None

    async def _unfollow(self, user: str) -> None:
        """An unfollower cannot be messaged: deactivate quietly (no goodbye is possible)."""
        sub = await self._store.subscribers.get(PLATFORM, user)
        if sub is not None and await self._store.subscribers.deactivate(sub.id, "unfollowed OA"):
            await self._store.deliveries.cancel_pending_for(sub.id, reason="unfollowed OA")
            log.info("Zalo OA unfollow", extra={"subscriber": sub.id})

    def _when(self, data: dict[str, Any]) -> datetime:
        """The event's time (milliseconds), never in the future."""
        now = self._clock()
        try:
            stamp = datetime.fromtimestamp(int(str(data.get("timestamp"))) / 1000, tz=now.tzinfo)
        except (TypeError, ValueError, OverflowError, OSError):
            return now
        return min(stamp, now)

    async def _run(self, event: Event) -> None:
        try:
            await self._handle(event)
        except Exception:
            log.exception("Zalo OA event handling failed", extra={"chat": event.who.chat_id})
