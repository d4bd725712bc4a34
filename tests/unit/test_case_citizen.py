"""Pure parts of the citizen's side of cases (#15): typed places, folded words, the intake's
draft round trip, the window verdict that holds owed notices, the citizen's due date."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.dialog.flows.cases_citizen import folded, typed_place
from jobs.cases.intake import local_date
from jobs.channel import Rejected
from jobs.send.verdict import Cancel, verdict
from storage.kinds import RejectReason
from storage.privacy import Draft


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("21.0285, 105.8542", (21.0285, 105.8542)),
        ("https://maps.google.com/?q=10.7769,106.7009", (10.7769, 106.7009)),
        ("https://www.google.com/maps/@21.0301,105.8520,17z", (21.0301, 105.8520)),
        ("Ổ gà ở km 12, 3 cái", None),
        ("95.1234, 10.1234", None),  # no such latitude
    ],
)
def test_typed_place(text: str, expected: tuple[float, float] | None) -> None:
    place = typed_place(text)
    assert (None if place is None else (place.latitude, place.longitude)) == expected


def test_folded_words() -> None:
    assert folded("  Gửi   Phản Ánh ") == "gui phan anh"
    assert folded("Xong") == "xong" and folded("Đường") == "duong"


def test_draft_round_trip_and_garbage() -> None:
    draft = Draft(category_id=3, text="Ngập", photos=["a", "b"], place=(21.0, 105.8, "Ngõ 5"))
    again = Draft.loads(draft.dumps())
    assert again == draft
    assert Draft.loads("not json") == Draft() and Draft.loads("[1]") == Draft()
    assert Draft.loads('{"l": ["x", 1, null], "p": "nope"}') == Draft()


def test_a_closed_window_is_a_cancel_the_deliverer_may_hold() -> None:
    now = datetime(2026, 12, 4, tzinfo=UTC)
    decided = verdict(Rejected("outside", RejectReason.WINDOW), 0, now=now)
    assert isinstance(decided, Cancel) and decided.window
    other = verdict(Rejected("bad", RejectReason.OTHER), 0, now=now)
    assert not isinstance(other, Cancel)


def test_due_date_reads_in_vietnam() -> None:
    assert local_date(datetime(2026, 12, 8, 17, 30, tzinfo=UTC)) == "09/12/2026"  # 00:30 +7
    assert local_date(None) == "—"
