"""The web console's pure rules: session expiry and revocation, CSRF tokens, sign-in rate limit,
link addresses, the preview's HTML whitelist and the composer's inputs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.web import links, sessions
from bot.web.preview import draft, preview, telegram_to_browser
from bot.web.views.broadcasts import parse_audience, parse_when
from storage.web import WebSession

T0 = datetime(2026, 12, 4, 8, 0, tzinfo=UTC)


def session(**kw: object) -> WebSession:
    values: dict[str, object] = dict(
        id=1,
        platform="telegram",
        user_id="1",
        role="admin",
        created_at=T0,
        last_seen_at=T0,
        expires_at=T0 + sessions.ABSOLUTE,
        revoked_at=None,
    )
    values.update(kw)
    return WebSession(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "role_now", "at", "reason"),
    [
        ({}, "admin", T0 + timedelta(minutes=5), None),
        ({}, "admin", T0 + sessions.IDLE - timedelta(seconds=1), None),
        ({}, "admin", T0 + sessions.IDLE, sessions.IDLE_OUT),
        (
            {"last_seen_at": T0 + timedelta(hours=11, minutes=50)},
            "admin",
            T0 + timedelta(hours=12),
            sessions.EXPIRED,
        ),
        (
            {"last_seen_at": T0 + timedelta(hours=11)},
            "admin",
            T0 + timedelta(hours=11, minutes=10),
            None,
        ),
        ({"revoked_at": T0}, "admin", T0 + timedelta(minutes=1), sessions.REVOKED),
        ({}, None, T0 + timedelta(minutes=1), sessions.GONE),
        ({}, "editor", T0 + timedelta(minutes=1), sessions.ROLE_CHANGED),
        ({"role": "editor"}, "admin", T0 + timedelta(minutes=1), sessions.ROLE_CHANGED),
        (
            {"expires_at": T0 + timedelta(minutes=1)},
            "admin",
            T0 + timedelta(minutes=1),
            sessions.EXPIRED,
        ),
    ],
)
def test_a_session_dies_idle_expired_revoked_removed_or_with_another_role(
    changes: dict[str, object], role_now: str | None, at: datetime, reason: str | None
) -> None:
    assert sessions.dead_because(session(**changes), role_now, at) == reason


def test_last_seen_is_written_at_most_once_a_minute() -> None:
    assert not sessions.needs_touch(session(), T0 + timedelta(seconds=59))
    assert sessions.needs_touch(session(), T0 + timedelta(seconds=60))


def test_csrf_token_belongs_to_its_session_only() -> None:
    a, b = links.new_token(), links.new_token()
    assert a != b and len(a) >= 40
    assert links.csrf_ok(a, links.csrf_for(a))
    assert not links.csrf_ok(a, links.csrf_for(b))
    assert not links.csrf_ok(a, None)
    assert not links.csrf_ok(a, "")
    assert links.csrf_for(a) != a and links.hash_token(a) != links.csrf_for(a)


def test_only_hashes_are_stored_and_they_are_stable() -> None:
    token = links.new_token()
    assert links.hash_token(token) == links.hash_token(token)
    assert token not in links.hash_token(token) and len(links.hash_token(token)) == 64


def test_the_rate_limiter_slows_a_burst_per_address_and_forgets_after_the_window() -> None:
    limiter = sessions.RateLimiter(count=3, window=timedelta(minutes=1))
    assert [limiter.allow("1.2.3.4", T0) for _ in range(4)] == [True, True, True, False]
    assert limiter.allow("5.6.7.8", T0)
    assert limiter.allow("1.2.3.4", T0 + timedelta(minutes=1))


@pytest.mark.parametrize(
    ("public", "listen", "port", "expected"),
    [
        ("https://bantin.example.vn/", "0.0.0.0:8080", None, "https://bantin.example.vn"),
        (None, "0.0.0.0:8080", None, "http://127.0.0.1:8080"),
        (None, "10.0.0.5:8080", 9000, "http://10.0.0.5:9000"),
        (None, "[::1]:8080", None, "http://[::1]:8080"),
        (None, "[::]:8080", None, "http://127.0.0.1:8080"),
    ],
)
def test_links_are_built_on_the_public_url_else_the_listen_address(
    public: str | None, listen: str, port: int | None, expected: str
) -> None:
    assert links.base_url(public, listen, port) == expected
    assert links.login_url(expected, "abc-_") == f"{expected}/admin/login/abc-_"


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ("<b>đậm</b> &amp; <i>x</i>", "<b>đậm</b> &amp; <i>x</i>"),
        ("<script>alert(1)</script>", "alert(1)"),
        ('<a href="javascript:alert(1)">x</a>', "x"),
        (
            '<a href="https://a.vn/?q=1&amp;r=&quot;2">x</a>',
            '<a href="https://a.vn/?q=1&amp;r=&quot;2" rel="noopener noreferrer">x</a>',
        ),
        ('<img src=x onerror="alert(1)">', ""),
        ("<b>open", "<b>open</b>"),
        ("1 &lt; 2", "1 &lt; 2"),
    ],
)
def test_the_telegram_preview_keeps_only_whitelisted_markup(given: str, shown: str) -> None:
    assert telegram_to_browser(given) == shown


def test_the_preview_is_what_the_deliverer_renders_for_each_platform() -> None:
    shown = preview(draft("Lịch *cắt điện* <script>"), "vi")
    assert "<b>cắt điện</b>" in shown.telegram[0]
    assert "&lt;script&gt;" in shown.telegram[0]
    assert "Lịch cắt điện <script>" in shown.zalo[0]  # plain text: the template escapes it


def test_a_long_text_is_previewed_split_like_it_is_sent() -> None:
    text = "\n\n".join(["đoạn " * 300] * 4)
    shown = preview(draft(text), "vi")
    assert len(shown.telegram) >= 2 and len(shown.zalo) > len(shown.telegram)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("all", "all"),
        ("topic:3", "topic:3"),
        ("feed:007", "feed:7"),
        ("topic:0", None),
        ("topic:99999999999", None),
        ("topic:x", None),
        ("user:3", None),
        ("", None),
    ],
)
def test_an_audience_from_the_form_is_checked(value: str, expected: str | None) -> None:
    assert parse_audience(value) == expected


def test_a_send_time_is_vietnam_time_and_never_in_the_past() -> None:
    now = datetime(2026, 12, 4, 1, 0, tzinfo=UTC)  # 08:00 in Vietnam
    assert parse_when("", now) is None
    assert parse_when("2026-12-04T09:30", now) == datetime(2026, 12, 4, 2, 30, tzinfo=UTC)
    assert parse_when("2026-12-04T07:30", now) == "bad"
    assert parse_when("hôm nay", now) == "bad"


def test_dashboard_series_show_every_day_with_zeros_for_quiet_ones() -> None:
    from datetime import date

    from bot.web.views.dashboard import series

    rows = [("2026-12-03", "telegram", 2), ("2026-12-04", "zalo", 1)]
    got = series(rows, date(2026, 12, 2), date(2026, 12, 4))
    assert got == {
        "days": ["2026-12-02", "2026-12-03", "2026-12-04"],
        "series": {"telegram": [0, 2, 0], "zalo": [0, 0, 1]},
    }
    assert series([], date(2026, 12, 2), date(2026, 12, 2))["series"] == {}


def test_the_cookie_is_secure_when_the_console_is_reached_over_https() -> None:
    import asyncio

    from bot.web.app import Console

    def console(base: str) -> Console:
        limiter = sessions.RateLimiter()
        return Console(None, base, sessions.Limits(), limiter, asyncio.Event())  # type: ignore[arg-type]

    assert console("https://bantin.example.vn").secure
    assert not console("http://127.0.0.1:8080").secure


def test_the_public_url_setting_is_an_http_address_without_a_trailing_slash() -> None:
    from bot.app.settings import SettingsError, load_settings

    settings = load_settings(_env_file=None, public_url=" https://bantin.example.vn/ ")
    assert settings.public_url == "https://bantin.example.vn"
    assert load_settings(_env_file=None, public_url="").public_url is None
    with pytest.raises(SettingsError) as refused:
        load_settings(_env_file=None, public_url="bantin.example.vn")
    assert refused.value.lines[0].startswith("BANTIN_PUBLIC_URL:")


def test_the_subscriber_chart_shows_running_totals_from_what_came_before() -> None:
    from bot.web.views.dashboard import running_totals

    arrivals = {"days": ["d1", "d2", "d3"], "series": {"telegram": [1, 0, 2]}}
    got = running_totals(arrivals, {"telegram": 10, "zalo": 4})
    assert got == {
        "days": ["d1", "d2", "d3"],
        "series": {"telegram": [11, 11, 13], "zalo": [4, 4, 4]},
    }
