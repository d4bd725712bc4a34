"""Staff formatting always renders to markup Telegram accepts, saying what the plain text says.

Overlapping marks (``*bold _ital* tail_``) used to come out mis-nested (``<b>…<i>…</b>…</i>``),
which Telegram refuses as a whole, and underscores inside a link's address were turned into
italics inside the href.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jobs.channel import HTML, PLAIN, Capabilities
from jobs.render.messages import render_staff_announcement
from jobs.render.staff_markup import parse, staff_html, staff_plain, to_plain
from storage.records import Announcement
from tests.fakes.telegram_html import parse_telegram_html

_PIECES = [
    "*",
    "_",
    "[",
    "]",
    "(",
    ")",
    " ",
    "\n",
    "a",
    "đậm",
    "x1",
    "<",
    ">",
    "&",
    '"',
    "&amp;",
    "https://",
    "http://x.vn/a_b*c_",
    "[nhãn](https://x.vn/a_b_c?d=1&e=*2*)",
    "[*đậm* _ng_](http://h.vn/_x_)",
    "](https://y.vn/",
]
staff_texts = st.lists(st.sampled_from(_PIECES), max_size=30).map("".join)


def _check(text: str) -> None:
    out = staff_html(text)
    parsed = parse_telegram_html(out)  # strict: refuses mis-nesting, stray "<", "&", ">"
    tree = parse(text)
    assert parsed.text == to_plain(tree, link_urls=False)
    assert staff_plain(text) == to_plain(tree)
    for entity in parsed.entities:
        if entity["type"] == "text_link":
            assert entity["url"] in text  # addresses are never altered


@settings(max_examples=400, deadline=None, derandomize=True)
@given(staff_texts)
def test_any_staff_text_renders_to_valid_html_saying_the_plain_text(text: str) -> None:
    _check(text)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.text(alphabet=st.sampled_from("*_[]()ab :/\n<&"), max_size=40))
def test_any_mix_of_marks_renders_to_valid_html(text: str) -> None:
    _check(text)


@pytest.mark.parametrize(
    ("staff", "html"),
    [
        ("*bold _ital* tail_", "<b>bold _ital</b> tail_"),
        ("_ital *bold_ tail*", "<i>ital *bold</i> tail*"),
        ("*a _b_ c*", "<b>a <i>b</i> c</b>"),
        ("_a *b* c_", "<i>a <b>b</b> c</i>"),
        (
            "[xem](https://x.vn/tin_moi_nhat_2026)",
            '<a href="https://x.vn/tin_moi_nhat_2026">xem</a>',
        ),
        (
            "_xem [đây](https://x.vn/a_b)_",
            '<i>xem <a href="https://x.vn/a_b">đây</a></i>',
        ),
        ("*[x](https://x.vn/*a*)*", '<b><a href="https://x.vn/*a*">x</a></b>'),
    ],
)
def test_overlapping_marks_and_link_addresses(staff: str, html: str) -> None:
    assert staff_html(staff) == html
    _check(staff)


def test_the_announcement_sent_is_the_one_previewed_and_parses() -> None:
    """Preview and delivery both render with render_staff_announcement: one valid text."""
    ann = Announcement(
        id=1,
        text="*Họp _gấp* lúc 8h_ tại [UBND](https://ubnd.vn/lich_hop_tuan)",
        status="draft",
        created_by="telegram:1",
        origin_platform="telegram",
        origin_chat_id="1",
        recipients=0,
        created_at=datetime(2026, 12, 4, tzinfo=UTC),
        queued_at=None,
        text_format="staff",
    )
    telegram = Capabilities(markup=HTML)
    message = render_staff_announcement(ann, "vi", telegram)
    parsed = parse_telegram_html(message.text)
    assert '<a href="https://ubnd.vn/lich_hop_tuan">UBND</a>' in message.text
    assert parsed.text.endswith("Họp _gấp lúc 8h_ tại UBND")
    zalo = render_staff_announcement(ann, "vi", Capabilities(markup=PLAIN))
    assert zalo.text.endswith("Họp _gấp lúc 8h_ tại UBND (https://ubnd.vn/lich_hop_tuan)")
