"""A Bot API stand-in in its own process for benchmarks (so it does not share the client's GIL).

    python bench/fake_botapi.py [LATENCY] [TOKEN] [lean|full]

Prints its API URL, then answers on stdin: 'stats N' (one JSON line about the sends after the
first N), 'stamps N' (one JSON line: [[chat_id, arrival], ...] for those sends), 'quit'.

Two servers:
- lean (default): a bare asyncio protocol answering getMe and sendMessage. It stamps a
  request's arrival in `data_received`, the earliest moment user space sees its first bytes,
  and does almost nothing else, so at 1,000 requests/s its own loop adds little noise to the
  stamps. A rate test is only as good as the stamps: the full fake below, one aiohttp loop that
  also parses HTML and keeps every message, stamps after aiohttp has parsed the headers and
  after whatever else that loop was doing, so its windows bunch arrivals by several ms.
- full: the tests' FakeTelegram (validates HTML, lengths, buttons), as a correctness check.
Stamps are time.monotonic(), which is system-wide on Linux, so the client can compare them with
its own send stamps.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fakes.telegram_api import FakeTelegram, _max_in_window


class LeanBotApi(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection: requests are answered in order after `latency`."""

    def __init__(self, server: LeanServer) -> None:
        self.server = server
        self.buf = b""
        self.arrival = 0.0
        self.transport: asyncio.Transport | None = None
        self.pending = 0  # answers scheduled but not written (HTTP/1.1 keeps them ordered)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if not self.buf:
            self.arrival = time.monotonic()
        self.buf += data
        while True:
            head_end = self.buf.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = self.buf[:head_end].decode("latin-1")
            length = 0
            for line in head.split("\r\n")[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            end = head_end + 4 + length
            if len(self.buf) < end:
                return
            path = head.split(" ", 2)[1]
            body, self.buf = self.buf[head_end + 4 : end], self.buf[end:]
            arrival, self.arrival = self.arrival, time.monotonic()
            self.handle(path, body, arrival)

    def handle(self, path: str, body: bytes, arrival: float) -> None:
        method = path.rsplit("/", 1)[-1].lower()
        params: dict[str, Any] = json.loads(body) if body.startswith(b"{") else {}
        result: Any
        if method == "getme":
            result = {"id": 123, "is_bot": True, "first_name": "Bench", "username": "bench_bot"}
        elif method == "sendmessage":
            chat = int(params.get("chat_id", 0))
            self.server.sends.append((chat, arrival))
            result = {
                "message_id": len(self.server.sends),
                "date": int(time.time()),
                "chat": {"id": chat, "type": "private"},
                "text": str(params.get("text", "")),
            }
        else:
            result = True
        payload = json.dumps({"ok": True, "result": result}).encode()
        self.pending += 1
        asyncio.get_running_loop().call_later(self.server.latency, self.answer, payload)

    def answer(self, payload: bytes) -> None:
        self.pending -= 1
        if self.transport is None or self.transport.is_closing():
            return
        self.transport.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
            + str(len(payload)).encode()
            + b"\r\n\r\n"
            + payload
        )

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


class LeanServer:
    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.sends: list[tuple[int, float]] = []  # (chat_id, arrival); appended by one loop
        self.port = 0
        self._loop = asyncio.new_event_loop()
        ready = threading.Event()

        async def boot() -> None:
            server = await self._loop.create_server(lambda: LeanBotApi(self), "127.0.0.1", 0)
            self.port = server.sockets[0].getsockname()[1]
            ready.set()

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(boot())
            self._loop.run_forever()

        threading.Thread(target=run, name="lean-bot-api", daemon=True).start()
        ready.wait(10)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stamps(self, since: int) -> list[tuple[int, float]]:
        return self.sends[since:]


def serve(kind: str, latency: float, token: str) -> None:
    if kind == "lean":
        lean = LeanServer(latency)
        url, stamps = lean.api_url, lean.stamps
    else:
        fake = FakeTelegram(token=token, latency=latency).start()
        url = fake.api_url

        def stamps(since: int) -> list[tuple[int, float]]:
            return [(m.chat_id, m.at) for m in fake.sent[since:]]

    print(url, flush=True)
    for line in sys.stdin:
        command, _, arg = line.strip().partition(" ")
        sent = stamps(int(arg or 0))  # only sends after the first N
        if command == "stats":
            times = sorted(t for _, t in sent)
            stats = {
                "sent": len(sent),
                "distinct": len({c for c, _ in sent}),
                "max_per_second": _max_in_window(times, 1.0),
                "first": times[0] if times else None,
                "last": times[-1] if times else None,
            }
            print(json.dumps(stats), flush=True)
        elif command == "stamps":
            print(json.dumps(sent), flush=True)
        elif command == "quit":
            break


def main() -> None:
    latency = float(sys.argv[1]) if len(sys.argv) > 1 else 0.02
    token = sys.argv[2] if len(sys.argv) > 2 else "123:BENCH"
    kind = sys.argv[3] if len(sys.argv) > 3 else "lean"
    serve(kind, latency, token)


if __name__ == "__main__":
    main()
