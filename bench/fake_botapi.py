"""A Bot API stand-in in its own process for benchmarks (so it does not share the client's GIL).

    python bench/fake_botapi.py [LATENCY] [TOKEN]

Prints its API URL, then answers on stdin: 'stats N' (one JSON line about the sends after the
first N), 'stamps N' (one JSON line: [[chat_id, arrival], ...] for those sends), 'quit'.

A bare event loop answering getMe and sendMessage, which takes each request's arrival stamp
from the kernel (SO_TIMESTAMPNS: when the packet was received, on loopback the moment the
client wrote it), not from when this process got to read it. A rate test is only as good as its
stamps: a full aiohttp fake that also parses HTML and keeps every message stamps after aiohttp
has parsed the headers and after whatever else that loop and the shared CPU were doing, so its
windows bunch arrivals by tens of ms. (The tests' validating FakeTelegram is not offered here:
the benchmarks run without the test suite.)
Stamps are time.monotonic(), which is system-wide on Linux, so the client can compare them with
its own send stamps.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.support import max_in_window

SO_TIMESTAMPNS = 35  # Linux: the kernel stamps each received packet (struct timespec)


class LeanConnection:
    """One keep-alive HTTP/1.1 connection, read with recvmsg so every request carries the
    kernel's receive stamp: on loopback that is the moment the client's write() put it there,
    however late this process gets to read it (the CPU is shared, and a starved server
    process would otherwise stamp a backlog of requests all at once)."""

    def __init__(self, server: LeanServer, sock: socket.socket) -> None:
        self.server = server
        self.sock = sock
        self.buf = b""
        self.arrival = 0.0
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        server.loop.add_reader(sock.fileno(), self.readable)

    def readable(self) -> None:
        try:
            data, ancillary, _, _ = self.sock.recvmsg(65536, socket.CMSG_SPACE(16))
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data, ancillary = b"", []
        if not data:
            self.server.loop.remove_reader(self.sock.fileno())
            self.sock.close()
            return
        stamp = time.monotonic()
        for level, kind, value in ancillary:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(value) >= 16:
                sec, nsec = struct.unpack("qq", value[:16])
                stamp = sec + nsec / 1e9 - self.server.wall_minus_mono
        if not self.buf:
            self.arrival = stamp
        self.buf += data
        while True:
            head_end = self.buf.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = self.buf[:head_end].decode("latin-1")
            length = 0
            for line in head.split("\r\n")[1:]:
                name, _, value_ = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value_)
            end = head_end + 4 + length
            if len(self.buf) < end:
                return
            path = head.split(" ", 2)[1]
            body, self.buf = self.buf[head_end + 4 : end], self.buf[end:]
            arrival, self.arrival = self.arrival, stamp
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
        self.server.loop.call_later(self.server.latency, self.answer, payload)

    def answer(self, payload: bytes) -> None:
        if self.sock.fileno() < 0:
            return
        response = (
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
            + str(len(payload)).encode()
            + b"\r\n\r\n"
            + payload
        )
        try:
            self.sock.setblocking(True)  # a few hundred bytes on loopback: never waits
            self.sock.sendall(response)
            self.sock.setblocking(False)
        except OSError:
            pass


class LeanServer:
    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.sends: list[tuple[int, float]] = []  # (chat_id, arrival); appended by one loop
        # Kernel stamps are wall-clock; the client's are monotonic (system-wide on Linux).
        self.wall_minus_mono = min((time.time() - time.monotonic() for _ in range(5)), key=abs)
        self.loop = asyncio.new_event_loop()
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1024)
        self.listener.setblocking(False)
        self.port = self.listener.getsockname()[1]
        self.loop.add_reader(self.listener.fileno(), self.accept)
        threading.Thread(target=self.loop.run_forever, name="lean-bot-api", daemon=True).start()

    def accept(self) -> None:
        try:
            sock, _ = self.listener.accept()
        except (BlockingIOError, InterruptedError):
            return
        LeanConnection(self, sock)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stamps(self, since: int) -> list[tuple[int, float]]:
        return self.sends[since:]


class FakeServer:
    """This script in its own process, driven over its stdin/stdout by a benchmark."""

    def __init__(self, latency: float, token: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, str(latency), token],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()

    def stats(self, since: int = 0) -> dict[str, float]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(f"stats {since}\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())  # type: ignore[no-any-return]

    def stamps(self, since: int = 0) -> list[tuple[int, float]]:
        """(chat_id, arrival) of every send after the first `since`, as the server saw them."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(f"stamps {since}\n")
        self.proc.stdin.flush()
        return [(int(c), float(t)) for c, t in json.loads(self.proc.stdout.readline())]

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("quit\n")
        self.proc.stdin.flush()
        self.proc.wait(10)


def serve(latency: float) -> None:
    lean = LeanServer(latency)
    url, stamps = lean.api_url, lean.stamps
    print(url, flush=True)
    for line in sys.stdin:
        command, _, arg = line.strip().partition(" ")
        sent = stamps(int(arg or 0))  # only sends after the first N
        if command == "stats":
            times = sorted(t for _, t in sent)
            stats = {
                "sent": len(sent),
                "distinct": len({c for c, _ in sent}),
                "max_per_second": max_in_window(times, 1.0),
                "first": times[0] if times else None,
                "last": times[-1] if times else None,
            }
            print(json.dumps(stats), flush=True)
        elif command == "stamps":
            print(json.dumps(sent), flush=True)
        elif command == "quit":
            break


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("latency", nargs="?", type=float, default=0.02, help="seconds per call")
    parser.add_argument("token", nargs="?", default="123:BENCH", help="accepted, not checked")
    serve(parser.parse_args().latency)


if __name__ == "__main__":
    main()
