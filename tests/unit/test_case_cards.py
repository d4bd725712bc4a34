"""The staff case card: code, category, unit, state, assignee, priority, due time in Vietnam time
(«quá hạn» once passed), the place as an openstreetmap.org link, the photo count, held notices,
and the actions: buttons on Telegram (the first row keeps the data of cards sent before cases),
the commands to type on Zalo."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from jobs.channel import HTML, PLAIN, Capabilities
from jobs.render.cards import CardFacts, map_link, render_inbox, render_ticket_card
from storage.records import Feedback, FeedbackMessage, Subscriber
from tests.fakes.telegram_html import parse_telegram_html as parse_html

NOW = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)  # 10:00 in Vietnam
TG = Capabilities(markup=HTML)
ZALO = Capabilities(markup=PLAIN, max_text=1800, buttons=True)
FACTS = CardFacts(unit="Phòng <QLĐT>", category="Giao thông", photos=2, held=1, now=NOW)


def _case(**kw: object) -> Feedback:
    base: dict[str, object] = dict(
        id=42,
        subscriber_id=1,
        article_id=None,
        text="Ổ gà <to> & sâu",
        status="accepted",
        created_at=NOW - timedelta(days=1),
        forwarded_at=None,
        forwarded_message_id=None,
        code="PA00042",
        assignee="telegram:901",
        priority="high",
        due_at=NOW + timedelta(days=2),
        place_lat=10.7725,
        place_lon=106.698,
        place_label="Lê Lợi & Pasteur",
    )
    base.update(kw)
    return Feedback(**base)  # type: ignore[arg-type]


def _sub() -> Subscriber:
    return Subscriber(
        id=1,
        platform="zalo",
        chat_id="z501",
        chat_type="private",
        display_name="Trần <B>",
        language="vi",
        active=True,
        dialog_state=None,
        dialog_ref=None,
        created_at=NOW,
    )


def test_the_full_card_on_telegram() -> None:
    card = render_ticket_card(_case(), None, None, "vi", TG, facts=FACTS)
    parse_html(card.text)
    text = card.text
    assert "PA00042" in text and "#42" in text and "Ổ gà &lt;to&gt; &amp; sâu" in text
    assert "Lĩnh vực: Giao thông" in text and "Phòng &lt;QLĐT&gt;" in text
    assert "Người xử lý: telegram:901" in text and "Mức ưu tiên: cao" in text
    assert "Hạn trả lời: 04/12/2026 10:00" in text and "quá hạn" not in text
    link = map_link(10.7725, 106.698).replace("&", "&amp;")
    assert f'<a href="{link}">Lê Lợi &amp; Pasteur</a>' in text
    assert "Ảnh: 2" in text and "1 thông báo" in text and "đã tiếp nhận" in text
    data = [[b.data for b in row] for row in card.buttons]
    assert data[0] == ["ib:r:42", "ib:c:42", "ib:b:42"]
    assert data[1:] == [["cs:t:42", "cs:n:42"], ["cs:x:42", "cs:m:42"], ["cs:k:42"]]


def test_overdue_and_legacy_cards() -> None:
    late = render_ticket_card(
        _case(due_at=NOW - timedelta(hours=1)), None, None, "vi", TG, facts=FACTS
    )
    assert "quá hạn" in late.text
    closed = _case(due_at=NOW - timedelta(hours=1), status="closed")
    assert "quá hạn" not in render_ticket_card(closed, None, None, "vi", TG, facts=FACTS).text
    legacy = render_ticket_card(_case(), None, None, "vi", TG, banned=True)
    assert [b.data for row in legacy.buttons for b in row] == ["ib:r:42", "ib:c:42", "ib:u:42"]


def test_the_card_on_zalo_lists_commands_and_has_no_buttons() -> None:
    facts = CardFacts(unit="UBND phường", now=NOW, typed=True)
    card = render_ticket_card(_case(), _sub(), None, "vi", ZALO, facts=facts)
    assert card.buttons == ()
    assert "PA00042 nhan" in card.text and "PA00042 tl" in card.text and "PA00042 dong" in card.text
    assert "Trần <B> (zalo:z501)" in card.text and "<a" not in card.text
    assert "https://www.openstreetmap.org/?mlat=10.772500&mlon=106.698000" in card.text


def test_a_reply_card_and_the_inbox() -> None:
    reply = FeedbackMessage(7, 42, "citizen", None, "Thêm <ảnh>", NOW, photo_file_id="AgAD")
    card = render_ticket_card(_case(), _sub(), None, "vi", TG, reply=reply, facts=FACTS)
    parse_html(card.text)
    assert "PA00042" in card.text and "Thêm &lt;ảnh&gt;" in card.text
    assert card.photo_url == "AgAD" and card.photo_platform == "zalo"
    listed = render_inbox(
        [(_case(due_at=NOW - timedelta(days=1)), _sub()), (_case(id=43, code="PA00043"), None)],
        2,
        "vi",
        TG,
        now=NOW,
    )
    assert listed.text.index("PA00042") < listed.text.index("PA00043")
    assert "quá hạn" in listed.text and "đã tiếp nhận" in listed.text
