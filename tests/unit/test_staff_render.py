"""Staff formatting to safe Telegram HTML, typed times in Vietnam, ticket cards and answers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.dialog.flows.broadcast import parse_local_time
from jobs.channel import HTML, PLAIN, Capabilities
from jobs.render.cards import render_ticket_card
from jobs.render.messages import render_answer
from jobs.render.staff_markup import staff_html, staff_plain
from storage.records import AnswerContext, Feedback, FeedbackMessage
from tests.fakes.telegram_html import parse_telegram_html as parse_html

NOW = datetime(2026, 11, 28, 1, 0, tzinfo=UTC)  # 08:00 in Vietnam


@pytest.mark.parametrize(
    ("staff", "html"),
    [
        ("*đậm* và _nghiêng_", "<b>đậm</b> và <i>nghiêng</i>"),
        ("a < b & c > d", "a &lt; b &amp; c &gt; d"),
        ("<b>không phải thẻ</b>", "&lt;b&gt;không phải thẻ&lt;/b&gt;"),
        ("[Cổng](https://x.vn/a?b=1&c=2)", '<a href="https://x.vn/a?b=1&amp;c=2">Cổng</a>'),
        ("[xấu](javascript:alert(1))", "[xấu](javascript:alert(1))"),
        ("file_name_here và 2*3*4", "file_name_here và 2*3*4"),
        ("*mở\nđóng*", "*mở\nđóng*"),
        ('[a"b](https://x.vn/"x)', '<a href="https://x.vn/&quot;x">a&quot;b</a>'),
    ],
)
def test_staff_html_is_escaped_and_parses(staff: str, html: str) -> None:
    out = staff_html(staff)
    assert out == html
    parse_html(out)  # the fake Bot API's strict parser accepts it


def test_staff_plain_drops_marks() -> None:
    assert staff_plain("*Họp* _gấp_ [xem](https://x.vn)") == "Họp gấp xem (https://x.vn)"


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("09:30", datetime(2026, 11, 28, 2, 30, tzinfo=UTC)),
        ("07:00", datetime(2026, 11, 29, 0, 0, tzinfo=UTC)),  # passed today: tomorrow
        ("05/12 7h15", datetime(2026, 12, 5, 0, 15, tzinfo=UTC)),
        ("01/01/2027 00:00", datetime(2026, 12, 31, 17, 0, tzinfo=UTC)),
        ("01/01/2020 00:00", datetime(2019, 12, 31, 17, 0, tzinfo=UTC)),  # past: caller refuses
        ("31/02 10:00", None),
        ("25:00", None),
        ("mai", None),
    ],
)
def test_parse_local_time(typed: str, expected: datetime | None) -> None:
    assert parse_local_time(typed, NOW) == expected


def _ticket(**kw: object) -> Feedback:
    base: dict[str, object] = dict(
        id=12,
        subscriber_id=1,
        article_id=None,
        text="Đường <ĐT.188> & cầu",
        status="new",
        created_at=NOW,
        forwarded_at=None,
        forwarded_message_id=None,
    )
    base.update(kw)
    return Feedback(**base)  # type: ignore[arg-type]


def test_ticket_card_buttons_and_status() -> None:
    card = render_ticket_card(_ticket(), None, None, "vi", Capabilities(markup=HTML))
    assert [b.data for row in card.buttons for b in row] == ["ib:r:12", "ib:c:12", "ib:b:12"]
    assert "mới" in card.text and "&lt;ĐT.188&gt; &amp; cầu" in card.text
    parse_html(card.text)
    banned = render_ticket_card(
        _ticket(status="closed", photo_file_id="AgAD"),
        None,
        None,
        "vi",
        Capabilities(HTML),
        banned=True,
    )
    assert banned.buttons[0][2].data == "ib:u:12" and banned.photo_url == "AgAD"
    assert "đã đóng" in banned.text


def test_answer_quotes_the_citizen() -> None:
    answer = FeedbackMessage(12, 12, "staff", "telegram:900", "Sẽ sửa <sớm> & ngay", NOW)
    context = AnswerContext(answer=answer, ticket=_ticket(), quoted="Đường <ĐT.188> & cầu")
    html = render_answer(context, "vi", Capabilities(markup=HTML))
    assert "<blockquote>Đường &lt;ĐT.188&gt; &amp; cầu</blockquote>" in html.text
    assert "#12" in html.text
    parse_html(html.text)
    text = render_answer(context, "vi", Capabilities(markup=PLAIN, buttons=False))
    assert "« Đường <ĐT.188> & cầu »" in text.text and "Sẽ sửa <sớm> & ngay" in text.text
