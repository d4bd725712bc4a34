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
import itertools
import json
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any

import httpx
from aiohttp import web

from bot.adapters.zalo import files
from bot.adapters.zalo.bot_platform import place_of, read_bounded, reply_queues
from bot.adapters.zalo.files import ZaloPhotos
from bot.app.logs import redact
from bot.dialog.events import Command, Event, Place, Text, Who, parse_command
from jobs.channel import (
    PLAIN,
    Capabilities,
    ChannelError,
    Fatal,
    OutMessage,
    RateLimited,
    RecipientGone,
    Rejected,
    Transient,
    without_foreign_photo,
)
from jobs.i18n import t
from jobs.render.markup import VIETNAM, split_message
from storage.kinds import RejectReason
from storage.store import Store
from storage.zalo import OATokens, ZaloRepo

if TYPE_CHECKING:
    from bot.adapters.telegram.webhook import ChatQueues

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
        super().__init__(description, reason=RejectReason.WINDOW)


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
        return Rejected(text, reason=RejectReason.TOO_LONG if code == -210 else RejectReason.OTHER)
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
            secrets = [tokens.refresh_token, tokens.access_token or "", self._secret_key]
            reason = redact(reason, secrets)
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
        # A public image URL is left out as before; another platform's photo goes as our stored
        # copy when there is one (photo_upload), else as a note saying where it can be seen.
        message = without_foreign_photo(message, self.platform, can_upload=True)
        image = None
        if message.photo_upload is not None:  # our stored copy of another platform's photo
            image = await files.upload_oa_image(self, message.photo_upload)
        first: str | None = None
        for part in split_message(replace(message, buttons=(), markup=PLAIN), MAX_TEXT):
            payload = {"recipient": {"user_id": chat_id}, "message": {"text": part.text}}
            payload = files.with_image(payload, image if first is None else None)
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
            redact(str(body.get("message") or ""), [token]),  # Zalo's text, never our token
            (body.get("data")),
        )

    photos = ZaloPhotos()  # where photo URLs may be fetched from (BANTIN_ZALO_PHOTO_HOSTS)

    async def download(self, file_ref: str, *, max_bytes: int, timeout: float = 30.0) -> bytes:
        """A photo a user sent, by the URL its event carried (bot/adapters/zalo/files.py)."""
        return await self.photos.download(file_ref, max_bytes=max_bytes, timeout=timeout)

    async def edit(self, chat_id: str, message_id: str, message: OutMessage) -> None:
        raise Rejected("Zalo OA cannot edit a sent message")

    async def answer_press(self, press_id: str, text: str | None = None) -> None:
        return None

    async def aclose(self) -> None:
        await self._http.aclose()


def attachment_of(message: dict[str, Any]) -> tuple[str | None, Place | None]:
    """The first image URL or location of a user_send_image / user_send_location event."""
    attachments = message.get("attachments")
    for item in attachments if isinstance(attachments, list) else []:
        payload = _dict(_dict(item).get("payload"))
        if _dict(item).get("type") == "image" and isinstance(payload.get("url"), str):
            return payload["url"], None
        if _dict(item).get("type") == "location":
            place = place_of(payload.get("coordinates"))
            if place is not None:
                return None, place
    return None, None


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def signature(app_id: str, body: bytes, timestamp: str, secret: str) -> str:
    """X-ZEvent-Signature as Zalo computes it: "mac=" + sha256(app_id + body + timestamp +
    secret) in hex."""
    raw = app_id.encode() + body + timestamp.encode() + secret.encode()
    return "mac=" + hashlib.sha256(raw).hexdigest()


EVENT_MAX_AGE = 600  # seconds an event may be old (BANTIN_ZALO_OA_EVENT_MAX_AGE)
EVENT_MAX_AHEAD = 120  # seconds an event's timestamp may be ahead of our clock (skew)
MAX_EVENT_BYTES = 64 * 1024  # an event is a few hundred bytes; a 2,000-character text < 16 KB
HANDLED_EVENTS = frozenset(
    {"user_send_text", "user_send_image", "user_send_location", "follow", "unfollow"}
)
_STAMP = re.compile(rb'"timestamp"\s*:\s*"?(\d{1,20})"?')
_STAMPS = 4  # timestamp candidates tried


def verified(app_id: str, body: bytes, given: str, secret: str) -> bool:
    """Whether `given` is Zalo's signature of the raw `body`.

    The signed timestamp is the event's own "timestamp" field: it is found in the raw bytes by
    a linear pattern, so nothing parses an unverified body. The first few candidates are tried
    (an authentic body puts the field at the top level; nested data seldom has one), each
    compared in constant time. Which candidate matched does not matter: only the secret's
    holder can make any of them match, and once verified the whole body is authentic."""
    mac = given.encode()
    stamps = [m.group(1).decode() for m in itertools.islice(_STAMP.finditer(body), _STAMPS)]
    ok = False
    for stamp in stamps or [""]:  # no timestamp: signed with none (then refused as undated)
        ok = hmac.compare_digest(mac, signature(app_id, body, stamp, secret).encode()) or ok
    return ok


def event_time(data: dict[str, Any], tz: tzinfo | None) -> datetime | None:
    """The event's timestamp (milliseconds since the epoch); None when missing or absurd."""
    try:
        return datetime.fromtimestamp(int(str(data.get("timestamp"))) / 1000, tz=tz)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def event_key(data: dict[str, Any], body: bytes) -> str:
    """What identifies an event among Zalo's retries and replays: its msg_id; for follow and
    unfollow the follower and time; otherwise a digest of the signed body."""
    msg_id = _dict(data.get("message")).get("msg_id")
    if msg_id:
        return str(msg_id)
    name = str(data.get("event_name") or "")
    follower = _dict(data.get("follower")).get("id")
    if name in ("follow", "unfollow") and follower:
        return f"{name}:{follower}:{data.get('timestamp', '')}"
    return "sha256:" + hashlib.sha256(body).hexdigest()


class KeyedLocks:
    """One lock per key (a user), forgotten once nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    def __len__(self) -> int:
        return len(self._locks)


def _refused(status: int, reason: str) -> web.Response:
    log.warning("Zalo OA webhook refused", extra={"reason": reason, "status": status})
    return web.json_response({"error": -1, "message": reason}, status=status)


class OAWebhook:
    """Verifies and turns OA webhook events into interactions, events and unfollows.

    Order, each step before the next is trusted: the signature header's presence (else 401
    without reading the body), the body read up to `max_body` bytes (else 413), the
    signature over the raw bytes (else 401), JSON (else 400, deep nesting included), the
    timestamp within `max_age` seconds of now and not more than EVENT_MAX_AHEAD ahead (else
    400: a captured event cannot be replayed later). Then a repeat (same msg_id, same
    follow, or same signed body) is acknowledged and dropped: seen ids are kept for
    storage.zalo.SEEN_KEEP, far longer than `max_age`, so every replay the window lets
    through is recognised.

    The event is handled before Zalo gets its 200 and its key is recorded after, so an
    acknowledged event has had its work stored (a stop loses nothing; a crash before the
    answer leaves it to Zalo's retry). With a `deferring` handle (bot.adapters.zalo.bot_platform)
    its replies go out after the answer from `replies`, which `drain` waits for at stop."""

    def __init__(
        self,
        *,
        app_id: str,
        secret: str,
        repo: ZaloRepo,
        store: Store,
        handle: Callable[[Event], Awaitable[None]],
        clock: Callable[[], datetime],
        max_age: float = EVENT_MAX_AGE,
        max_body: int = MAX_EVENT_BYTES,
        replies: ChatQueues | None = None,
    ) -> None:
        self._app_id = app_id
        self._secret = secret
        self._repo = repo
        self._store = store
        self._handle = handle
        self._clock = clock
        self._max_age = timedelta(seconds=max_age)
        self._max_body = max_body
        self.replies = replies if replies is not None else reply_queues()
        self._locks = KeyedLocks()

    async def __call__(self, request: web.Request) -> web.Response:
        given = request.headers.get(SIGNATURE_HEADER, "")
        if not given.startswith("mac="):
            return _refused(401, "bad signature")
        body = await read_bounded(request, self._max_body)
        if body is None:
            return _refused(413, "too large")
        if not verified(self._app_id, body, given, self._secret):
            return _refused(401, "bad signature")
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
            return _refused(400, "not JSON")
        if not isinstance(data, dict):
            return _refused(400, "not an event")
        now = self._clock()
        at = event_time(data, now.tzinfo)
        if at is None or at < now - self._max_age:
            return _refused(400, "stale event")
        if at > now + timedelta(seconds=EVENT_MAX_AHEAD):
            return _refused(400, "event from the future")
        if str(data.get("event_name") or "") in HANDLED_EVENTS:
            failed = await self._once(data, body, min(at, now))
            if failed is not None:
                return failed
        return web.json_response({"error": 0, "message": "Success"})

    async def _once(self, data: dict[str, Any], body: bytes, at: datetime) -> web.Response | None:
        """Handle the event unless its key was recorded; record it after. One user's events
        one at a time, so a retry arriving during the first handling waits and is dropped."""
        key = event_key(data, body)
        sender, follower = _dict(data.get("sender")), _dict(data.get("follower"))
        user = str(sender.get("id") or follower.get("id") or "")
        async with self._locks.hold(user):
            if await self._repo.was_seen(PLATFORM, key):
                log.info("repeated Zalo OA event dropped", extra={"event_key": key[:40]})
                return None
            try:
                await self.accept(data, at)
            except Exception:
                log.exception("Zalo OA event handling failed", extra={"chat": user})
                return web.json_response({"error": -1, "message": "failed"}, status=500)
            await self._repo.mark_seen(PLATFORM, key, self._clock())
        return None

    async def accept(self, data: dict[str, Any], at: datetime) -> None:
        """Record the interaction (at `at`) and hand the event to the dialog."""
        name = str(data.get("event_name") or "")
        if name == "user_send_text":
            sender = _dict(data.get("sender"))
            message = _dict(data.get("message"))
            user, text = str(sender.get("id") or ""), message.get("text")
            if not user or not isinstance(text, str) or not text.strip():
                return
            await self._repo.touch_contact(PLATFORM, user, at)
            await self._release_held(user, at)
            msg_id = str(message.get("msg_id") or "") or None
            who = Who(platform=PLATFORM, chat_id=user, user_id=user)
            parsed = parse_command(text.strip())
            if parsed is not None:
                await self._handle(
                    Command(who=who, name=parsed[0], args=parsed[1], message_id=msg_id)
                )
            else:
                await self._handle(Text(who=who, text=text, message_id=msg_id))
        elif name in ("user_send_image", "user_send_location"):
            message = _dict(data.get("message"))
            user = str(_dict(data.get("sender")).get("id") or "")
            photo, place = attachment_of(message)
            if not user or not (photo or place):
                return
            await self._repo.touch_contact(PLATFORM, user, at)
            await self._release_held(user, at)
            who = Who(platform=PLATFORM, chat_id=user, user_id=user)
            caption = str(message.get("text") or "")
            msg_id = str(message.get("msg_id") or "") or None
            await self._handle(Text(who, caption, message_id=msg_id, photo=photo, place=place))
        elif name in ("follow", "unfollow"):
            user = str(_dict(data.get("follower")).get("id") or "")
            if not user:
                return
            if name == "unfollow":
                await self._unfollow(user)
                return
            await self._repo.touch_contact(PLATFORM, user, at)
            await self._release_held(user, at)
            await self._handle(
                Command(who=Who(platform=PLATFORM, chat_id=user, user_id=user), name="start")
            )

    async def drain(self, timeout: float) -> None:
        """Wait (at most `timeout` seconds) for the replies still queued."""
        await self.replies.drain(timeout)

    async def _release_held(self, user: str, at: datetime) -> None:
        """The citizen wrote: notices the 7-day window held go out now (issue #15)."""
        sub = await self._store.subscribers.get(PLATFORM, user)
        if sub is not None:
            await self._store.deliveries.release_held(sub.id, at)

    async def _unfollow(self, user: str) -> None:
        """An unfollower cannot be messaged: deactivate quietly (no goodbye is possible)."""
        sub = await self._store.subscribers.get(PLATFORM, user)
        if sub is not None and await self._store.subscribers.deactivate(sub.id, "unfollowed OA"):
            await self._store.deliveries.cancel_pending_for(sub.id, reason="unfollowed OA")
            log.info("Zalo OA unfollow", extra={"subscriber": sub.id})
