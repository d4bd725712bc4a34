"""Shared test set-up: the internet guard for every test, and a fake Telegram Bot API.

Integration and e2e fixtures live in tests/integration/conftest.py and tests/e2e/conftest.py.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from bot.app.settings import Settings
from tests.fakes import netguard
from tests.fakes.telegram_api import FakeTelegram


@pytest.fixture(scope="session", autouse=True)
def _internet_guard() -> Iterator[None]:
    """No test may reach beyond loopback (subprocesses: see tests/fakes/procenv.py)."""
    netguard.install()
    yield
    netguard.uninstall()


# Variables that steer the tests themselves, not the app.
TEST_VARIABLES = {"BANTIN_TEST_DATABASE_URL", "BANTIN_CHROMIUM", "BANTIN_BENCH_COLD"}


@pytest.fixture(scope="session", autouse=True)
def _only_the_tests_settings() -> Iterator[None]:
    """Tests see only the settings they give. The README has users put their bot token and
    admins in `.env` at the repository root, where the tests run, or export them: read by
    every Settings() a test builds and every process it starts, they changed what the tests
    saw (a staff chat, a send rate, a real token the internet guard then refused)."""
    saved = {
        key: value
        for key, value in os.environ.items()
        if key.startswith("BANTIN_") and key not in TEST_VARIABLES
    }
    for key in saved:
        del os.environ[key]
    env_file = Settings.model_config.get("env_file")
    Settings.model_config["env_file"] = None
    yield
    Settings.model_config["env_file"] = env_file
    os.environ.update(saved)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """Fail a test whose code swallowed the guard's RuntimeError (e.g. a retry loop or PTB's
    NetworkError wrapping), so reaching for the internet can never pass unnoticed."""
    result = yield
    refused = netguard.take_violations()
    if refused:
        raise RuntimeError(f"test tried to reach the internet: {', '.join(refused)}")
    return result


@pytest.fixture
def telegram_api() -> Iterator[FakeTelegram]:
    """A started FakeTelegram (token "123:TEST"); point clients at telegram_api.api_url."""
    with FakeTelegram(token="123:TEST") as fake:
        yield fake
