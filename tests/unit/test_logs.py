"""No token or secret ever reaches a log line."""

from __future__ import annotations

import io
import logging

from bot.logs import REDACTED, redact, setup_logging

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
