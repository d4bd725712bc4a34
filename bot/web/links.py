"""One-time sign-in links and the secrets derived from tokens; no I/O but the store.

A link carries a random token; only its SHA-256 is stored (storage/web.py), bound to one staff
identity, valid LOGIN_TTL and used once. The session cookie is another random token, also stored
hashed; its CSRF token is derived from it (HMAC), so nothing more is stored and a page can never
be posted to with a token from another session.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from urllib.parse import quote

from storage.store import Store

LOGIN_TTL = timedelta(minutes=10)
PREFIX = "/admin"
LOGIN_PATH = f"{PREFIX}/login/"
BASE_URL_KEY = "web.base_url"  # app_state: where the running console is reached (set at start)
TOKEN_BYTES = 32


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def csrf_for(session_token: str) -> str:
    """The CSRF token of a session: a keyed digest of its cookie, never stored."""
    return hmac.new(session_token.encode("utf-8"), b"bantin-csrf", hashlib.sha256).hexdigest()


def csrf_ok(session_token: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(csrf_for(session_token), str(given))


def base_url(public_url: str | None, listen: str, port: int | None = None) -> str:
    """BANTIN_PUBLIC_URL when set, else http:// on the BANTIN_LISTEN address (a wildcard host
    becomes 127.0.0.1; `port` is the port actually bound, when known)."""
    if public_url:
        return public_url.rstrip("/")
    host, _, listen_port = listen.rpartition(":")
    host = host.strip("[]")
    if host in ("", "0.0.0.0", "::"):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port if port is not None else listen_port}"


def login_url(base: str, token: str) -> str:
    return f"{base.rstrip('/')}{LOGIN_PATH}{quote(token, safe='')}"


async def issue_login_link(
    store: Store, platform: str, user_id: str, *, base: str, now: datetime
) -> str:
    """A new one-time link for this staff identity (the caller has checked they are staff)."""
    token = new_token()
    await store.web.add_login_token(hash_token(token), platform, user_id, now=now, ttl=LOGIN_TTL)
    return login_url(base, token)


async def current_base(store: Store, public_url: str | None, listen: str) -> str:
    """Where links point: the public URL, else the running console's own address, else the
    listen setting."""
    if public_url:
        return public_url.rstrip("/")
    stored = await store.state.get(BASE_URL_KEY)
    return stored or base_url(None, listen)
