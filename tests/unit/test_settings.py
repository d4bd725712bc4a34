"""Settings: typed, validated, one readable line per problem, secrets never echoed."""

from __future__ import annotations

import pytest

from bot.app.settings import Settings, SettingsError, load_settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("BANTIN_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(str(tmp_path))  # no stray .env
    # The app reads .env again here (tests/conftest.py turns it off for every other test).
    monkeypatch.setitem(Settings.model_config, "env_file", ".env")


def test_defaults() -> None:
    s = load_settings()
    assert s.database_url == "sqlite:///bantin.db"
    assert s.console_mode and s.poll_interval == 300 and s.send_rate == 25
    assert s.telegram_api_url == "https://api.telegram.org"


def test_values_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BANTIN_ADMIN_IDS", "11, 22")
    monkeypatch.setenv("BANTIN_FEEDS", "https://a.vn/rss,file:///tmp/x.xml")
    monkeypatch.setenv("BANTIN_TELEGRAM_TOKEN", "123:abc")
    monkeypatch.setenv("BANTIN_TELEGRAM_API_URL", "http://127.0.0.1:8081/")
    monkeypatch.setenv("BANTIN_STAFF_CHAT_ID", "-100123")
    s = load_settings()
    assert s.admin_ids == [11, 22]
    assert s.feeds == ["https://a.vn/rss", "file:///tmp/x.xml"]
    assert not s.console_mode and s.staff_chat_id == -100123
    assert s.telegram_api_url == "http://127.0.0.1:8081"


def test_dotenv_file(tmp_path: object) -> None:
    from pathlib import Path

    Path(str(tmp_path), ".env").write_text("BANTIN_POLL_INTERVAL=60\n", encoding="utf-8")
    assert load_settings().poll_interval == 60


def test_each_problem_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BANTIN_SEND_RATE", "-1")
    monkeypatch.setenv("BANTIN_POLL_INTERVAL", "often")
    monkeypatch.setenv("BANTIN_ADMIN_IDS", "12,abc")
    monkeypatch.setenv("BANTIN_FEEDS", "ftp://x")
    monkeypatch.setenv("BANTIN_TELEGRAM_TOKEN", "secretwithoutcolon")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    lines = caught.value.lines
    assert len(lines) == 5
    joined = "\n".join(lines)
    for var in (
        "BANTIN_SEND_RATE",
        "BANTIN_POLL_INTERVAL",
        "BANTIN_ADMIN_IDS",
        "BANTIN_FEEDS",
        "BANTIN_TELEGRAM_TOKEN",
    ):
        assert var in joined
    assert "secretwithoutcolon" not in joined


def test_fast_sending_needs_paid_broadcast(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BANTIN_SEND_RATE", "500")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert "BANTIN_PAID_BROADCAST" in caught.value.lines[0]
    monkeypatch.setenv("BANTIN_PAID_BROADCAST", "true")
    settings = load_settings()
    assert settings.send_rate == 500 and settings.paid_broadcast


def test_rate_zero_means_no_overall_limit_and_needs_paid_broadcast(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BANTIN_SEND_RATE", "0")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert "no overall limit" in caught.value.lines[0]
    monkeypatch.setenv("BANTIN_PAID_BROADCAST", "true")
    assert load_settings().send_rate == 0


def test_feedback_rate_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().feedback_rate_limit == (5, 600)
    monkeypatch.setenv("BANTIN_FEEDBACK_RATE_LIMIT", "3/60")
    assert load_settings().feedback_rate_limit == (3, 60)
    monkeypatch.setenv("BANTIN_FEEDBACK_RATE_LIMIT", "nhiều")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert caught.value.lines[0].startswith("BANTIN_FEEDBACK_RATE_LIMIT")
