"""A feed server on 127.0.0.1 for fetch tests: real HTTP, canned answers, recorded requests.

Runs the stdlib ``ThreadingHTTPServer`` in a background thread so it works the same under sync
and async tests. A route answers with a body, headers and status; it can drip its body one byte
at a time (to test deadlines) and answers 304 by itself when the request's If-None-Match /
If-Modified-Since match the route's ETag / Last-Modified, like a real server would.

    with FeedServer() as fs:
        url = fs.add("/feed.xml", body=b"<rss/>", headers={"ETag": '"v1"'})
        fs.redirect("/old", to="/feed.xml", status=301)
        ...
        assert fs.requests[-1].headers["if-none-match"] == '"v1"'
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

__all__ = ["FeedServer", "RecordedRequest", "Route", "unused_port"]


@dataclass(frozen=True)
class Route:
    body: bytes
    headers: dict[str, str]
    status: int
    drip: float | None


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # lower-cased keys


@dataclass
class _State:
    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[RecordedRequest] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: threading.Event = field(default_factory=threading.Event)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like real servers; every answer has a length
    server: _Server

    def do_GET(self) -> None:
        state = self.server.state
        headers = {k.lower(): v for k, v in self.headers.items()}
        path = self.path.split("?", 1)[0]
        with state.lock:
            state.requests.append(RecordedRequest("GET", self.path, headers))
            route = state.routes.get(path)
        if route is None:
            self._answer(404, {"Content-Type": "text/plain"}, b"not found", None)
            return
        route_headers = {k.lower(): v for k, v in route.headers.items()}
        etag, modified = route_headers.get("etag"), route_headers.get("last-modified")
        if route.status == 200 and (
            (etag and headers.get("if-none-match") == etag)
            or (modified and headers.get("if-modified-since") == modified)
        ):
            self._answer(304, {k: v for k, v in route.headers.items()}, b"", None)
            return
        self._answer(route.status, route.headers, route.body, route.drip)

    def _answer(
        self, status: int, headers: dict[str, str], body: bytes, drip: float | None
    ) -> None:
        self.send_response(status)
        for key, value in headers.items():
            if key.lower() != "content-length":
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(body) if status != 304 else 0))
        self.end_headers()
        if status == 304:
            return
        try:
            if drip is None:
                self.wfile.write(body)
                return
            for i in range(len(body)):
                if self.server.state.stopping.is_set():
                    return
                self.wfile.write(body[i : i + 1])
                self.wfile.flush()
                time.sleep(drip)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up, which is what deadline tests want

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # a dripping handler must not hold up shutdown

    def __init__(self, state: _State) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = state


class FeedServer:
    """Context manager owning one loopback server; see the module docstring."""

    def __init__(self) -> None:
        self._state = _State()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> FeedServer:
        self._server = _Server(self._state)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._state.stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    @property
    def base_url(self) -> str:
        assert self._server is not None, "use FeedServer() as a context manager"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def add(
        self,
        path: str,
        *,
        body: bytes | str = b"",
        headers: dict[str, str] | None = None,
        status: int = 200,
        drip: float | None = None,
    ) -> str:
        """Register (or replace) a route; returns its absolute URL. ``drip``: seconds per byte."""
        data = body.encode("utf-8") if isinstance(body, str) else body
        with self._state.lock:
            self._state.routes[path] = Route(data, dict(headers or {}), status, drip)
        return self.url(path)

    def redirect(self, path: str, *, to: str, status: int = 302) -> str:
        """A redirect route; ``to`` may be a path on this server or an absolute URL."""
        return self.add(path, status=status, headers={"Location": to})

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._state.lock:
            return list(self._state.requests)


def unused_port() -> int:
    """A loopback port nobody listens on (bound then released), for "connection refused"."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port
