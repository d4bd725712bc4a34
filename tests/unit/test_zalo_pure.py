"""Pure Zalo pieces: menus and codes, update parsing, error mapping, signatures, settings."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.adapters.zalo.bot_platform import ZaloApiError, to_event
from bot.adapters.zalo.bot_platform import translate as bot_translate
from bot.adapters.zalo.official_account import OutsideWindow, signature, until_morning
from bot.adapters.zalo.official_account import translate as oa_translate
from bot.app.settings import Settings, SettingsError, load_settings
from bot.dialog.events import Command, Text
from bot.dialog.flows.zalo_codes import parse_code
from bot.dialog.menus import parse_choice, with_menu
from jobs.channel import Button, Fatal, OutMessage, RateLimited, RecipientGone, Rejected, Transient

NOW = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)  # 10:00 in Vietnam


def test_feedback_button_becomes_a_code_and_others_a_numbered_menu() -> None:
    push = OutMessage("Tin", buttons=((Button("Gửi phản hồi", "fb:12"),),))
    lines, options = with_menu(push)
    assert lines == "Gửi phản hồi: trả lời PH 12" and options == []
    preview = OutMessage(
        "Xem trước", buttons=((Button("Gửi", "bc:ok:3"), Button("Hủy", "bc:no:3")),)
    )
    lines, options = with_menu(preview)
    assert lines.splitlines()[1:] == ["1. Gửi", "2. Hủy"]
    assert options == ["bc:ok:3", "bc:no:3"]


@pytest.mark.parametrize(
    ("text", "want"),
    [("1", 1), (" 2 ", 2), ("3.", 3), ("12", 12), ("1 2", None), ("một", None), ("", None)],
)
def test_parse_choice(text: str, want: int | None) -> None:
    assert parse_choice(text) == want


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("PH 12", (12, "")),
        ("ph12", (12, "")),
        ("PH #7: Cầu hỏng", (7, "Cầu hỏng")),
        ("PH 12 Đề nghị\nlàm nhanh", (12, "Đề nghị\nlàm nhanh")),
        ("PHÒNG 12", None),
        ("Phường 12 mất điện", None),
        ("PH", None),
    ],
)
def test_parse_feedback_code(text: str, want: tuple[int, str] | None) -> None:
    assert parse_code(text) == want


def test_update_to_event() -> None:
    update = {
        "event_name": "message.text.received",
        "message": {
            "chat": {"id": "e4ea2cd5189df1c3a88c", "chat_type": "PRIVATE"},
            "text": "/start",
            "message_id": "16f6366b3f02645a3d15",
            "date": 1766619597466,
            "from": {"id": "e4ea2cd5189df1c3a88c", "display_name": "Nguyễn Văn A"},
        },
    }
    event = to_event(update)
    assert isinstance(event, Command) and event.name == "start"
    assert event.who.platform == "zalo" and event.who.chat_id == "e4ea2cd5189df1c3a88c"
    assert event.who.display_name == "Nguyễn Văn A" and event.message_id == "16f6366b3f02645a3d15"
    update["message"]["text"] = "Xin chào"  # type: ignore[index]
    assert isinstance(to_event(update), Text)
    assert to_event({"event_name": "message.sticker.received", "message": {}}) is None


@pytest.mark.parametrize(
    ("code", "description", "kind"),
    [
        (401, "Unauthorized", Fatal),
        (429, "Too Many Requests", RateLimited),
        (403, "Forbidden: user has blocked the bot", RecipientGone),
        (400, "Bad Request: chat not found", RecipientGone),
        (400, "Bad Request: text is too long", Rejected),
        (408, "Request timeout", Transient),
        (502, "Bad Gateway", Transient),
    ],
)
def test_bot_errors_map_to_our_types(code: int, description: str, kind: type) -> None:
    err = bot_translate(ZaloApiError("sendMessage", code, description, None))
    assert isinstance(err, kind)
    if code == 400 and "too long" in description:
        assert isinstance(err, Rejected) and err.reason == "too_long"


def test_oa_errors_map_to_our_types() -> None:
    window = oa_translate(-230, "not interacted", NOW)
    assert isinstance(window, OutsideWindow) and window.reason == "window"
    assert isinstance(oa_translate(-213, "not follower", NOW), RecipientGone)
    night = oa_translate(-234, "night", NOW)
    assert isinstance(night, RateLimited) and night.scope == "chat"
    assert isinstance(oa_translate(-32, "limit", NOW), Transient)
    assert isinstance(oa_translate(-224, "tier", NOW), Fatal)


def test_night_defers_to_six_in_vietnam() -> None:
    late = datetime(2026, 12, 1, 16, 0, tzinfo=UTC)  # 23:00 in Vietnam
    assert until_morning(late) == 7 * 3600
    assert until_morning(NOW) == 20 * 3600  # 10:00 → tomorrow 06:00


def test_signature_is_zalo_mac() -> None:
    import hashlib

    body = b'{"event_name":"user_send_text"}'
    want = "mac=" + hashlib.sha256(b"app" + body + b"123" + b"sec").hexdigest()
    assert signature("app", body, "123", "sec") == want


def test_settings_for_zalo() -> None:
    s = Settings(zalo_bot_token="1:abc", zalo_admin_ids="u1, u2")  # type: ignore[arg-type]
    assert not s.console_mode and s.zalo_admin_ids == ["u1", "u2"]
    assert Settings().console_mode
    with pytest.raises(SettingsError) as err:
        load_settings(zalo_oa_app_id="1", zalo_oa_refresh_token="RT-secret-value")
    assert "BANTIN_ZALO_OA_SECRET_KEY" in str(err.value) and "RT-secret" not in str(err.value)
    with pytest.raises(SettingsError) as err:
        load_settings(zalo_webhook_secret="short")
    assert "short" not in str(err.value)
