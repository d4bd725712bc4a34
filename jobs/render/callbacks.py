"""Callback data of our buttons: short prefixed server-side ids, far below Telegram's 64 bytes.

The dialog's flows read them back by the same prefixes ("fb", "bc", "bw", "ib", "cs", "st").
"""

from __future__ import annotations


def feedback_data(article_id: int) -> str:
    return f"fb:{article_id}"


def broadcast_data(action: str, announcement_id: int) -> str:
    return f"bc:{action}:{announcement_id}"


def wizard_data(action: str, announcement_id: int, arg: str = "") -> str:
    """Callback data of the guided /broadcast: "bw:action:id[:arg]", well under 64 bytes."""
    return f"bw:{action}:{announcement_id}" + (f":{arg}" if arg else "")


def inbox_data(action: str, ticket: int) -> str:
    return f"ib:{action}:{ticket}"


def settings_data(action: str, ident: int | str | None = None) -> str:
    """Callback data of a settings button: "st:<action>[:<id>]", always far below 64 bytes."""
    return f"st:{action}" if ident is None else f"st:{action}:{ident}"


def case_data(action: str, case: int, arg: int | None = None) -> str:
    """Callback data of a case action on a staff card: "cs:<action>:<case>[:<arg>]" (arg: a
    unit to transfer to, a canned answer); at most 26 bytes."""
    return f"cs:{action}:{case}" + (f":{arg}" if arg is not None else "")
