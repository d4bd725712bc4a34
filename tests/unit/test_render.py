"""Rendering is pure: hostile titles and huge bodies always produce a message Telegram takes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.dialog.screens import render_broadcast_preview
from jobs.channel import HTML, PLAIN, Capabilities
from jobs.render.cards import render_feedback_card
from jobs.render.markup import shorten, utf16_len, visible_length
from jobs.render.messages import render_announcement, render_article
from storage.records import Announcement, Article, Feedback, Subscriber
from tests.fakes.telegram_html import check_telegram_html

NOW = datetime(2026, 11, 28, 1, 30, tzinfo=UTC)
TG = Capabilities(markup=HTML, max_text=4096)
PLAIN_CAPS = Capabilities(markup=PLAIN, max_text=2000, buttons=False)
HOSTILE = 'Giá <b>xăng</b> & "dầu" > 20.000đ <script>alert(1)</script> &amp; 1<2'


def _article(
    title: str = HOSTILE,
    summary: str = "Tóm tắt ngắn.",
    link: str | None = None,
    feed_name: str | None = "Cổng <TTĐT> & huyện",
) -> Article:
    return Article(
        id=12,
        feed_id=1,
        guid="g",
        link=link or 'https://p.vn/a?x=1&y="2"',
        title=title,
        summary=summary,
        image_url=None,
        categories=(),
        published_at=NOW,
        created_at=NOW,
        fanned_out_at=None,
        feed_name=feed_name,
    )


def test_hostile_title_is_escaped_and_accepted() -> None:
    msg = render_article(_article(), "vi", TG)
    check_telegram_html(msg.text)
    assert "&lt;script&gt;" in msg.text and "<script>" not in msg.text
    assert msg.text.startswith('<b><a href="https://p.vn/a?x=1&amp;y=&quot;2&quot;">')
    assert "28/11/2026 08:30" in msg.text  # Vietnam time
    [[button]] = msg.buttons
    assert button.label == "Gửi phản hồi" and button.data == "fb:12"
    assert len(button.data.encode()) <= 64


def test_ten_thousand_character_body_fits_the_limit() -> None:
    body = ('Người dân & doanh nghiệp <phản ánh> về "thủ tục" hành chính. ' * 200)[:10_000]
    msg = render_article(_article(summary=body, title=HOSTILE * 20), "vi", TG)
    length = check_telegram_html(msg.text)
    assert 3500 < length <= 4096
    assert visible_length(msg.text, HTML) == length


def test_emoji_count_twice_in_utf16() -> None:
    body = "😀" * 5000
    msg = render_article(_article(summary=body), "vi", TG)
    assert check_telegram_html(msg.text) <= 4096


def test_plain_markup_has_link_and_no_tags() -> None:
    msg = render_article(_article(summary="x" * 5000), "vi", PLAIN_CAPS)
    assert msg.markup == PLAIN and msg.buttons == ()
    assert msg.text.startswith(HOSTILE + "\n")  # no markup added, nothing escaped
    assert "https://p.vn/a" in msg.text and utf16_len(msg.text) <= 2000


def test_announcement_and_preview() -> None:
    ann = Announcement(
        id=3,
        text="Cắt điện <8h-17h> & nghỉ",
        status="draft",
        created_by="x",
        origin_platform=None,
        origin_chat_id=None,
        recipients=0,
        created_at=NOW,
        queued_at=None,
    )
    msg = render_announcement(ann, "vi", TG)
    check_telegram_html(msg.text)
    assert "Thông báo" in msg.text and "&lt;8h-17h&gt; &amp;" in msg.text
    preview = render_broadcast_preview(ann, 1234, "vi", TG)
    check_telegram_html(preview.text)
    assert msg.text in preview.text and "1234" in preview.text
    assert [b.data for b in preview.buttons[0]] == ["bc:ok:3", "bc:no:3"]


def test_feedback_card_escapes_citizen_text() -> None:
    fb = Feedback(
        id=7,
        subscriber_id=1,
        article_id=12,
        text="<i>ổ gà</i> & nước",
        status="new",
        created_at=NOW,
        forwarded_at=None,
        forwarded_message_id=None,
    )
    sub = Subscriber(
        id=1,
        platform="telegram",
        chat_id="501",
        chat_type="private",
        display_name="Trần <B>",
        language="vi",
        active=True,
        dialog_state=None,
        dialog_ref=None,
        created_at=NOW,
    )
    card = render_feedback_card(fb, sub, _article(), "vi", TG)
    check_telegram_html(card.text)
    assert "#7" in card.text and "&lt;i&gt;ổ gà" in card.text and "Trần &lt;B&gt;" in card.text


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("ngắn", 10, "ngắn"),
        ("một hai ba bốn năm", 12, "một hai ba…"),
        ("abcdefghij", 5, "abcd…"),
        ("😀😀😀", 5, "😀😀…"),
    ],
)
def test_shorten(text: str, limit: int, expected: str) -> None:
    assert shorten(text, limit) == expected
    assert utf16_len(shorten(text, limit)) <= limit


def test_split_long_message_at_paragraphs() -> None:
    from jobs.channel import Button, OutMessage
    from jobs.render.markup import split_message

    paragraphs = [f"<b>Mục {i}</b> " + "nội dung &amp; chi tiết " * 40 for i in range(12)]
    msg = OutMessage(text="\n\n".join(paragraphs), buttons=((Button("Gửi phản hồi", "fb:1"),),))
    parts = split_message(msg, 1000)
    assert len(parts) > 1
    for part in parts:
        assert check_telegram_html(part.text) <= 1000
    assert all(p.buttons == () for p in parts[:-1]) and parts[-1].buttons == msg.buttons
    joined = "\n\n".join(p.text for p in parts)
    assert joined == msg.text  # nothing lost, nothing reordered


def test_split_one_huge_paragraph_into_words() -> None:
    from jobs.channel import OutMessage
    from jobs.render.markup import split_message

    text = "Thông báo &lt;khẩn&gt; " + "từ " * 3000
    parts = split_message(OutMessage(text=text), 500)
    assert len(parts) >= 18
    assert all(check_telegram_html(p.text) <= 500 for p in parts)
    words = " ".join(html_unescape(p.text) for p in parts).split()
    assert words == html_unescape(text).split()


def html_unescape(text: str) -> str:
    import html

    return html.unescape(text)
