from __future__ import annotations

import pytest

from bot.dialog.events import parse_command


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/start", ("start", "")),
        ("/Start@bantin_bot", ("start", "")),
        ("/broadcast Lịch cắt điện  ngày mai ", ("broadcast", "Lịch cắt điện  ngày mai")),
        ("/broadcast\nDòng 1\nDòng 2", ("broadcast", "Dòng 1\nDòng 2")),
        ("/start ref_abc", ("start", "ref_abc")),
        ("xin chào", None),
        ("/", None),
        ("/ start", None),
    ],
)
def test_parse_command(text: str, expected: tuple[str, str] | None) -> None:
    assert parse_command(text) == expected
