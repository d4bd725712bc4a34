"""A Telegram that cannot be used at start-up gives every role and command the same one line.

`bantin run`, the split roles (`serve`, `scheduler`, `worker`) and `bantin deliver` all start
from one composition root and one runner (bot/app/compose.py, bot/app/runner.py), so the same
failure reads the same wherever the operator meets it: a Bot API stand-in on loopback that
refuses the token (401), and an address where nothing listens.
"""

from __future__ import annotations

import json
import socket
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.e2e.conftest import Bantin
from tests.integration.test_hardening_secrets import SECRET_PART, TOKEN, BrokenBotApi

COMMANDS = ["run", "serve", "scheduler", "worker", "deliver"]


def _unauthorized(path: str, head: str) -> bytes:
    body = json.dumps({"ok": False, "error_code": 401, "description": "Unauthorized"}).encode()
    head_lines = (
        "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head_lines.encode() + body


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_all(tmp_path: Path, api_url: str) -> dict[str, tuple[int, str]]:
    """Every command against `api_url`, each on its own SQLite file: (exit status, output)."""

    def one(command: str) -> tuple[int, str]:
        bantin = Bantin(cwd=tmp_path, db_path=tmp_path / f"{command}.db")
        result = bantin(
            command,
            env={
                "BANTIN_TELEGRAM_TOKEN": TOKEN,
                "BANTIN_TELEGRAM_API_URL": api_url,
                "BANTIN_LISTEN": f"127.0.0.1:{_closed_port()}",
            },
        )
        return result.returncode, result.stdout + result.stderr

    with ThreadPoolExecutor(max_workers=len(COMMANDS)) as pool:
        return dict(zip(COMMANDS, pool.map(one, COMMANDS), strict=True))


def _error_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if "Telegram" in line]


@pytest.mark.parametrize("answer", ["unauthorized", "refused"])
def test_every_role_prints_the_same_line_for_a_telegram_it_cannot_use(
    tmp_path: Path, answer: str
) -> None:
    if answer == "unauthorized":
        with BrokenBotApi("unauthorized", answer=_unauthorized) as api:
            results = _start_all(tmp_path, api.api_url)
        assert any(SECRET_PART in p for p in api.paths)  # each asked, with the token
    else:
        results = _start_all(tmp_path, f"http://127.0.0.1:{_closed_port()}")

    lines = {command: _error_lines(output) for command, (_, output) in results.items()}
    for command, (status, output) in results.items():
        assert status == 1, (command, output)
        assert "Traceback" not in output, (command, output)
        assert SECRET_PART not in output, (command, output)
        assert len(lines[command]) == 1, (command, output)
        assert "cannot reach Telegram" in lines[command][0], (command, output)
    assert len({tuple(found) for found in lines.values()}) == 1, lines
