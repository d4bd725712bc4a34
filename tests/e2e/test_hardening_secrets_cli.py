"""`bantin run` and `bantin deliver` against a Bot API that answers badly: what they print
about the failure (the start-up error line, an unexpected error's traceback) has no token."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import Bantin
from tests.integration.test_hardening_secrets import SECRET_PART, TOKEN, BrokenBotApi


@pytest.mark.parametrize("command", ["run", "deliver"])
@pytest.mark.parametrize("mode", ["html_404", "html_502"])
def test_cli_failure_output_has_no_token(bantin: Bantin, command: str, mode: str) -> None:
    with BrokenBotApi(mode) as api:
        result = bantin(
            command,
            env={"BANTIN_TELEGRAM_TOKEN": TOKEN, "BANTIN_TELEGRAM_API_URL": api.api_url},
        )
        assert any(SECRET_PART in p for p in api.paths)  # it did ask, with the token
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert output.strip()
    assert SECRET_PART not in output
