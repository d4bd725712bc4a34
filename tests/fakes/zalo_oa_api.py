"""FakeZaloOA: the Zalo OA Open API v3 and its OAuth v4 token endpoint on 127.0.0.1.

* POST /v4/oa/access_token (form; `secret_key` header): grant_type=refresh_token spends the
  refresh token (single-use) and answers a new pair `{access_token, refresh_token,
  expires_in: "90000"}`; a spent or unknown one answers `{"error": -14014, "error_name":
  "Invalid refresh token", ...}`.
* GET /v2.0/oa/getoa and POST /v3.0/oa/message/cs (`access_token` header): `{"error": 0,
  "message": "Success", "data": {...}}`; -216 for an unknown token, -220 for an expired one,
  -213 for a non-follower, -230 for a user who last interacted more than 7 days ago.
* `send_event()` POSTs a signed webhook event (X-ZEvent-Signature = "mac=" + sha256(app_id +
  body + timestamp + OA secret key)) to the bot's webhook URL; `signature=` forges one;
  `sign_raw()` signs any raw body (deep, oversized) for tests that post it themselves.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import secrets
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from aiohttp import web

JSON = dict[str, Any]
WINDOW_SECONDS = 7 * 24 * 3600


@dataclass
class OASent:
    user_id: str
    text: str
    message_id: str
    access_token: str


@dataclass
class _State:
    access: dict[str, float] = field(default_factory=dict)  # token -> expiry (time.time())
    refresh: set[str] = field(default_factory=set)  # refresh tokens not yet spent
    refreshes: int = 0
    refused_refreshes: int = 0
    followers: set[str] = field(default_factory=set)
    interactions: dict[str, float] = field(default_factory=dict)  # user -> time.time()
    sent: list[OASent] = field(default_factory=list)
    calls: list[tuple[str, int]] = field(default_factory=list)  # (path, error code)


class FakeZaloOA:
    def __init__(
        self, app_id: str = "4243118111", secret_key: str = "APPSECRET", oa_secret: str = "OASECRET"
    ) -> None:
        self.app_id = app_id
        self.secret_key = secret_key
        self.oa_secret = oa_secret
        self.access_lifetime = 90000
        self._lock = threading.RLock()
        self._state = _State()
        self._ids = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self.port = 0

    # -- lifecycle ---------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """Both the API and the OAuth base URL (BANTIN_ZALO_OA_API_URL / _OAUTH_URL)."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeZaloOA:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        loop = asyncio.new_event_loop()
        self._loop = loop
        ready = threading.Event()

        async def boot() -> None:
            app = self._app()
            self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
            await self._runner.setup()
            await web.SockSite(self._runner, sock).start()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.run_until_complete(boot())
            ready.set()
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=run, name=f"FakeZaloOA:{self.port}", daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def _app(self) -> web.Application:
        """The API's routes (a subclass adds its own)."""
        app = web.Application()
        app.router.add_post("/v4/oa/access_token", self._token)
        app.router.add_get("/v2.0/oa/getoa", self._getoa)
        app.router.add_post("/v3.0/oa/message/cs", self._message)
        return app

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return

        async def shutdown() -> None:
            if self._runner is not None:
                await self._runner.cleanup()

        asyncio.run_coroutine_threadsafe(shutdown(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        self._thread = self._loop = None

    def __enter__(self) -> FakeZaloOA:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- test side ---------------------------------------------------------------------------
    def authorize(self) -> tuple[str, str]:
        """A fresh (access, refresh) pair, as the OA admin's authorization would give."""
        with self._lock:
            return self._issue()

    def expire(self, access_token: str) -> None:
        with self._lock:
            self._state.access[access_token] = time.time() - 1

    def spend_out_of_band(self, refresh_token: str) -> tuple[str, str]:
        """Spend a refresh token as a request whose answer never reached storage would."""
        with self._lock:
            assert refresh_token in self._state.refresh, "refresh token already spent"
            self._state.refresh.discard(refresh_token)
            self._state.refreshes += 1
            return self._issue()

    def follow(self, user_id: str, *, at: float | None = None) -> None:
        with self._lock:
            self._state.followers.add(user_id)
            self._state.interactions[user_id] = at if at is not None else time.time()

    @property
    def sent(self) -> list[OASent]:
        with self._lock:
            return list(self._state.sent)

    @property
    def refreshes(self) -> int:
        with self._lock:
            return self._state.refreshes

    @property
    def refused_refreshes(self) -> int:
        with self._lock:
            return self._state.refused_refreshes

    def valid_refresh(self, token: str) -> bool:
        with self._lock:
            return token in self._state.refresh

    def signed(
        self, payload: JSON, *, signature: str | None = None
    ) -> tuple[bytes, dict[str, str]]:
        body = json.dumps(payload, ensure_ascii=False).encode()
        return body, self.sign_raw(body, str(payload.get("timestamp", "")), signature=signature)

    def sign_raw(self, body: bytes, stamp: str, *, signature: str | None = None) -> dict[str, str]:
        """The headers Zalo would send with `body` whose "timestamp" field is `stamp` (for
        bodies no dict serialises to: absurdly deep, oversized, hand-written)."""
        mac = hashlib.sha256(
            self.app_id.encode() + body + stamp.encode() + self.oa_secret.encode()
        ).hexdigest()
        return {
            "Content-Type": "application/json",
            "X-ZEvent-Signature": signature or f"mac={mac}",
        }

    def text_event(
        self, user_id: str, text: str, *, at_ms: int | None = None, msg_id: bool = True
    ) -> JSON:
        """A user_send_text event; `msg_id=False` leaves the message id out (some events
        come without one, and must still be recognised when Zalo sends them again)."""
        message = {"msg_id": secrets.token_hex(10), "text": text} if msg_id else {"text": text}
        return {
            "app_id": self.app_id,
            "sender": {"id": user_id},
            "recipient": {"id": "oa-1"},
            "event_name": "user_send_text",
            "message": message,
            "timestamp": str(at_ms if at_ms is not None else int(time.time() * 1000)),
        }

    def follow_event(self, user_id: str, name: str = "follow") -> JSON:
        return {
            "app_id": self.app_id,
            "oa_id": "oa-1",
            "follower": {"id": user_id},
            "event_name": name,
            "timestamp": str(int(time.time() * 1000)),
        }

    async def send_event(
        self, webhook_url: str, payload: JSON, *, signature: str | None = None
    ) -> int:
        """POST a signed event to the bot (from the test's loop); returns the HTTP status.
        A text or follow event also counts as an interaction here, as on Zalo."""
        if payload.get("event_name") in ("user_send_text", "follow"):
            user = (payload.get("sender") or payload.get("follower") or {}).get("id")
            if user and signature is None:
                self.follow(str(user))
        body, headers = self.signed(payload, signature=signature)
        async with httpx.AsyncClient() as client:
            response = await client.post(webhook_url, content=body, headers=headers)
        return response.status_code

    # -- HTTP ----------------------------------------------------------------------------------
    def _issue(self) -> tuple[str, str]:
        access, refresh = f"AT-{secrets.token_hex(8)}", f"RT-{secrets.token_hex(8)}"
        self._state.access[access] = time.time() + self.access_lifetime
        self._state.refresh.add(refresh)
        return access, refresh

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        with self._lock:
            if (
                request.headers.get("secret_key") != self.secret_key
                or form.get("app_id") != self.app_id
            ):
                return web.json_response({"error": -14002, "error_name": "Invalid app secret"})
            token = str(form.get("refresh_token") or "")
            if form.get("grant_type") != "refresh_token" or token not in self._state.refresh:
                self._state.refused_refreshes += 1
                return web.json_response(
                    {
                        "error": -14014,
                        "error_name": "Invalid refresh token",
                        "error_reason": "refresh token is invalid or has been used",
                    }
                )
            self._state.refresh.discard(token)
            self._state.refreshes += 1
            access, refresh = self._issue()
        return web.json_response(
            {
                "access_token": access,
                "refresh_token": refresh,
                "expires_in": str(self.access_lifetime),
            }
        )

    def _check_token(self, request: web.Request) -> int:
        token = request.headers.get("access_token", "")
        expiry = self._state.access.get(token)
        if expiry is None:
            return -216
        if expiry < time.time():
            return -220
        return 0

    async def _getoa(self, request: web.Request) -> web.Response:
        with self._lock:
            code = self._check_token(request)
            self._state.calls.append((request.path, code))
        if code:
            return _fail(code)
        return web.json_response(
            {"error": 0, "message": "Success", "data": {"oa_id": "oa-1", "name": "Cổng TTĐT"}}
        )

    async def _message(self, request: web.Request) -> web.Response:
        body = await request.json()
        with self._lock:
            code = self._check_token(request)
            user = str(((body.get("recipient") or {}).get("user_id")) or "")
            text = (body.get("message") or {}).get("text")
            if not code:
                if not isinstance(text, str) or not text or len(text) > 2000:
                    code = -201
                elif user not in self._state.followers:
                    code = -213
                elif time.time() - self._state.interactions.get(user, 0) > WINDOW_SECONDS:
                    code = -230
            self._state.calls.append((request.path, code))
            if code:
                return _fail(code)
            message_id = f"{next(self._ids):020x}"
            self._state.sent.append(OASent(user, text, message_id, request.headers["access_token"]))
        return web.json_response(
            {"error": 0, "message": "Success", "data": {"message_id": message_id, "user_id": user}}
        )


_MESSAGES = {
    -201: "message is invalid",
    -213: "User has not followed OA",
    -216: "Access token is invalid",
    -220: "access_token is expired or removed",
    -230: "User has not interacted with the OA in the past 7 days",
}


def _fail(code: int) -> web.Response:
    return web.json_response({"error": code, "message": _MESSAGES.get(code, "error")})


# -- photo uploads (media, issue #15) --------------------------------------------------------


class FakeZaloOAMedia(FakeZaloOA):
    """FakeZaloOA that also takes image uploads (POST /v2.0/oa/upload/image, multipart `file`,
    JPEG/PNG up to 1 MB → `{"data": {"attachment_id": ...}}`) and records the attachment of each
    message sent (`attachments`: (user_id, attachment_id); `uploaded`: attachment_id → bytes)."""

    MAX_UPLOAD = 1024 * 1024

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.uploaded: dict[str, bytes] = {}
        self.attachments: list[tuple[str, str]] = []

    def _app(self) -> web.Application:
        app = web.Application(client_max_size=5 * 1024 * 1024)
        app.router.add_post("/v4/oa/access_token", self._token)
        app.router.add_get("/v2.0/oa/getoa", self._getoa)
        app.router.add_post("/v3.0/oa/message/cs", self._message_with_attachment)
        app.router.add_post("/v2.0/oa/upload/image", self._upload)
        return app

    def __enter__(self) -> FakeZaloOAMedia:
        self.start()
        return self

    async def _upload(self, request: web.Request) -> web.Response:
        form = await request.post()
        upload = form.get("file")
        with self._lock:
            code = self._check_token(request)
            self._state.calls.append((request.path, code))
        if code:
            return _fail(code)
        if not isinstance(upload, web.FileField):
            return web.json_response({"error": -201, "message": "file is required"})
        data = upload.file.read()
        if len(data) > self.MAX_UPLOAD or upload.content_type not in ("image/jpeg", "image/png"):
            return web.json_response({"error": -210, "message": "image is too large or invalid"})
        attachment_id = secrets.token_hex(12)
        with self._lock:
            self.uploaded[attachment_id] = data
        return web.json_response(
            {"error": 0, "message": "Success", "data": {"attachment_id": attachment_id}}
        )

    async def _message_with_attachment(self, request: web.Request) -> web.Response:
        body = await request.json()
        attachment = ((body.get("message") or {}).get("attachment") or {}).get("payload") or {}
        elements = attachment.get("elements") or []
        ids = [str(e.get("attachment_id")) for e in elements if isinstance(e, dict)]
        with self._lock:
            unknown = [i for i in ids if i not in self.uploaded]
        if unknown:
            return web.json_response({"error": -201, "message": "attachment_id is invalid"})
        response = await self._message(request)
        if b'"error": 0' in (response.body or b"") or b'"error":0' in (response.body or b""):
            user = str((body.get("recipient") or {}).get("user_id") or "")
            with self._lock:
                self.attachments.extend((user, i) for i in ids)
        return response
