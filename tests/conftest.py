"""Shared test set-up: the internet guard for every test, and a fake Telegram Bot API.

Integration and e2e fixtures live in tests/integration/conftest.py and tests/e2e/conftest.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes import netguard
from tests.fakes.telegram_api import FakeTelegram


@pytest.fixture(scope="session", autouse=True)
def _internet_guard() -> Iterator[None]:
    """No test may reach beyond loopback (subprocesses: see tests/fakes/procenv.py)."""
    netguard.install()
    yield
    netguard.uninstall()


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
