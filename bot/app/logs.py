"""Structured logging that never carries a secret.

Each line is `time level logger message key=value …` with the record's extras (feed,
delivery, subscriber ids). Telegram's token sits in every request URL, so a filter scrubs
anything shaped like a bot token, plus the configured secrets themselves, from every record;
and httpx's per-request INFO lines (which print URLs) are turned down.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sys
from collections.abc import Iterable
from typing import TextIO

_TOKEN = re.compile(r"(?<![A-Za-z0-9])(bot)?\d{5,}:[A-Za-z0-9_-]{20,}")
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
REDACTED = "[REDACTED]"


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return _TOKEN.sub(REDACTED, text)


class RedactingFilter(logging.Filter):
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage(), self.secrets)
        record.args = None
        for key, value in list(vars(record).items()):
            if key not in _STANDARD and isinstance(value, str):
                setattr(record, key, redact(value, self.secrets))
        return True


class CancelledConnectionFilter(logging.Filter):
    """The database pool logs, as an error with a traceback, a connection whose rollback or
    close was broken off because its task was cancelled: what a stop does to a pass that holds
    one (a Ctrl+C soon after start). Nothing is lost (the connection is dropped, its
    transaction not committed), so such a record is turned down to DEBUG, without traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if not record.name.startswith("sqlalchemy.pool") or not isinstance(
            exc, asyncio.CancelledError
        ):
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        record.exc_info, record.exc_text = None, None
        return logging.getLogger().isEnabledFor(logging.DEBUG)


class KeyValueFormatter(logging.Formatter):
    """`time level logger: message key=value …`; the whole line, traceback included, is
    scrubbed once more, since exception texts can carry request URLs."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self.secrets = [s for s in secrets if s]

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = {k: v for k, v in vars(record).items() if k not in _STANDARD}
        if extras:
            line += " " + " ".join(f"{k}={_show(v)}" for k, v in extras.items())
        return redact(line, self.secrets)


class JsonFormatter(logging.Formatter):
    """One JSON object per line (time, level, logger, message, extras, exc), for log shippers;
    scrubbed like the key=value lines."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, object] = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD:
                data[key] = (
                    value if isinstance(value, (int, float, bool, type(None))) else str(value)
                )
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return redact(json.dumps(data, ensure_ascii=False), self.secrets)


def _show(value: object) -> str:
    text = str(value)
    return repr(text) if (" " in text or not text) else text


def setup_logging(
    level: str = "INFO",
    *,
    secrets: Iterable[str] = (),
    stream: TextIO | None = None,
    fmt: str = "console",
) -> None:
    """`fmt` is "console" (key=value lines) or "json" (one object per line)."""
    secrets = list(secrets)
    handler = logging.StreamHandler(stream or sys.stderr)
    formatter = JsonFormatter(secrets) if fmt == "json" else KeyValueFormatter(secrets)
    handler.setFormatter(formatter)
    handler.addFilter(CancelledConnectionFilter())
    handler.addFilter(RedactingFilter(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in (
        "httpx",
        "httpcore",
        "telegram",
        "apscheduler",
        "aiosqlite",
        "asyncio",
        "alembic",
    ):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
