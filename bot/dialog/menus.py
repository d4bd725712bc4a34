"""Buttons as text, for platforms that have none: numbered menus and short reply codes.

The dialog and the deliverer always speak in `OutMessage.buttons` (docs/ARCHITECTURE.md). For a
platform without buttons, `with_menu` says what replaces them, platform-neutrally:

* an article's "Gửi phản hồi" button becomes a code line under the push ("Gửi phản hồi: trả lời
  PH 12"); bot/dialog/flows/zalo_codes.py turns the reply "PH 12" into feedback on article 12;
* any other buttons become "1. Gửi / 2. Hủy" lines, and `parse_choice` reads the reply "1".

Sending those lines, remembering each menu's options and turning "1" back into a press is the
adapter's part (bot/adapters/zalo/menus.py: `MenuChannel`).
"""

from __future__ import annotations

import re

from jobs.channel import Button, OutMessage
from jobs.i18n import DEFAULT_LANGUAGE, t

FEEDBACK_CODE = "PH"  # "phản hồi"
_FEEDBACK_DATA = re.compile(r"^fb:(\d+)$")
_CHOICE = re.compile(r"^\s*(\d{1,2})\s*\.?\s*$")


def feedback_code(article_id: int) -> str:
    """The code a citizen replies with to comment on an article: "PH 12"."""
    return f"{FEEDBACK_CODE} {article_id}"


def with_menu(message: OutMessage, lang: str = DEFAULT_LANGUAGE) -> tuple[str, list[str]]:
    """Pure: the lines that replace a message's buttons, and the options' callback data.

    Feedback buttons become code lines (no state needed: the code carries the article id);
    every other button becomes a numbered option, in reading order.
    """
    codes: list[str] = []
    options: list[Button] = []
    for row in message.buttons:
        for button in row:
            match = _FEEDBACK_DATA.match(button.data)
            if match:
                code = feedback_code(int(match.group(1)))
                codes.append(t("menu_code_line", lang, label=button.label, code=code))
            else:
                options.append(button)
    lines = list(codes)
    if options:
        if lines:
            lines.append("")
        lines.append(t("menu_choose", lang))
        lines += [f"{i}. {b.label}" for i, b in enumerate(options, 1)]
    return "\n".join(lines), [b.data for b in options]


def parse_choice(text: str) -> int | None:
    """ "1", " 2 ", "3." → the number; anything else → None."""
    match = _CHOICE.match(text)
    return int(match.group(1)) if match else None
