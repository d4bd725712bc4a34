"""No token or secret ever reaches a log line."""

from __future__ import annotations

import io
import logging

import pytest

from bot.app.logs import REDACTED, redact, setup_logging

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"


def test_redact_token_shapes() -> None:
    url = f"https://api.telegram.org/bot{TOKEN}/sendMessage"
    assert TOKEN not in redact(url)
    assert redact("db password hunter2", ["hunter2"]) == f"db password {REDACTED}"


def test_log_lines_are_scrubbed_and_structured() -> None:
    stream = io.StringIO()
    setup_logging("INFO", secrets=["s3cr3t-value"], stream=stream)
    log = logging.getLogger("bantin.test")
    log.info(
        "calling %s", f"https://x/bot{TOKEN}/getMe", extra={"feed": 3, "secret": "s3cr3t-value"}
    )
    log.warning("token %s", TOKEN)
    try:
        raise RuntimeError(f"failed https://x/bot{TOKEN}/sendMessage")
    except RuntimeError:
        log.exception("boom")
    out = stream.getvalue()
    assert TOKEN not in out and "s3cr3t-value" not in out
    assert "feed=3" in out and REDACTED in out


def test_json_lines_are_scrubbed_too() -> None:
    import json

    stream = io.StringIO()
    setup_logging("INFO", secrets=["zalo-secret-123"], stream=stream, fmt="json")
    log = logging.getLogger("bantin.test")
    log.warning(
        "sent to https://x/bot%s/sendMessage",
        TOKEN,
        extra={"delivery": 7, "key": "zalo-secret-123"},
    )
    [line] = stream.getvalue().splitlines()
    data = json.loads(line)
    assert data["level"] == "WARNING" and data["delivery"] == 7
    assert TOKEN not in line and "zalo-secret-123" not in line and REDACTED in data["message"]


def test_every_secret_setting_is_scrubbed(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.app.settings import load_settings

    monkeypatch.setenv("BANTIN_TELEGRAM_TOKEN", TOKEN)
    monkeypatch.setenv("BANTIN_ZALO_BOT_TOKEN", "1234567890:zalo-bot-token-value")
    monkeypatch.setenv("BANTIN_ZALO_WEBHOOK_SECRET", "hook-secret-value")
    monkeypatch.setenv("BANTIN_LOG_FORMAT", "json")
    settings = load_settings()
    assert settings.log_format == "json"
    assert {TOKEN, "1234567890:zalo-bot-token-value", "hook-secret-value"} <= set(
        settings.secrets()
    )


def test_the_telegram_webhook_secret_is_scrubbed(monkeypatch: pytest.MonkeyPatch) -> None:
    """`bantin serve`'s webhook secret is a setting like the tokens: never in a log line."""
    from bot.app.settings import load_settings

    secret = "tg-webhook-Secret_4242"
    monkeypatch.setenv("BANTIN_TELEGRAM_TOKEN", TOKEN)
    monkeypatch.setenv("BANTIN_TELEGRAM_WEBHOOK_URL", "https://bantin.example.vn/telegram")
    monkeypatch.setenv("BANTIN_TELEGRAM_WEBHOOK_SECRET", secret)
    settings = load_settings()
    assert secret in settings.secrets()
    stream = io.StringIO()
    setup_logging("INFO", secrets=settings.secrets(), stream=stream, fmt="json")
    logging.getLogger("bantin.test").warning(
        "setWebhook secret_token=%s", secret, extra={"header": secret, "update": 9}
    )
    out = stream.getvalue()
    assert secret not in out and TOKEN not in out and '"update": 9' in out


def test_a_connection_broken_off_by_a_cancel_is_not_an_error() -> None:
    """The database pool logs a rollback or close broken off by a cancelled task (a stop
    while a pass holds a connection) as an error with a traceback; nothing is lost, so the line
    is turned down to DEBUG. The pool's real errors still show."""
    import asyncio

    stream = io.StringIO()
    setup_logging("INFO", stream=stream)
    pool = logging.getLogger("sqlalchemy.pool.impl.AsyncAdaptedQueuePool")
    try:
        raise asyncio.CancelledError
    except asyncio.CancelledError:
        pool.error("Exception during reset or similar", exc_info=True)
    assert stream.getvalue() == ""
    try:
        raise OSError("disk I/O error")
    except OSError:
        pool.error("Exception closing connection", exc_info=True)
    out = stream.getvalue()
    assert "ERROR" in out and "disk I/O error" in out and "Traceback" in out

    stream = io.StringIO()
    setup_logging("DEBUG", stream=stream)
    try:
        raise asyncio.CancelledError
    except asyncio.CancelledError:
        pool.error("Exception during reset or similar", exc_info=True)
    line = stream.getvalue()
    assert "DEBUG" in line and "Traceback" not in line
