"""The strict Telegram-HTML checker refuses exactly what would make a real send fail."""

from __future__ import annotations

import pytest

from tests.fakes.telegram_html import (
    TelegramHtmlError,
    check_telegram_caption,
    check_telegram_html,
    parse_telegram_html,
    utf16_len,
)

BAD = "Bad Request: can't parse entities: "

ACCEPTED = [
    ("plain text", "Xin chào", 8),
    ("bold", "<b>Tin mới</b>", 7),
    (
        "strong em ins strike del",
        "<strong>a</strong><em>b</em><ins>c</ins><strike>d</strike><del>e</del>",
        5,
    ),
    ("i u s", "<i>a</i> <u>b</u> <s>c</s>", 5),
    ("tags are case-insensitive", "<B>a</B>", 1),
    ("spoiler span", '<span class="tg-spoiler">bí mật</span>', 6),
    ("spoiler tag", "<tg-spoiler>bí mật</tg-spoiler>", 6),
    ("link", '<a href="https://chiemhoa.tuyenquang.gov.vn/tin?id=1&amp;p=2">Đọc tiếp</a>', 8),
    ("single-quoted attribute", "<a href='https://x.vn/'>x</a>", 1),
    ("code", "<code>x &lt; y</code>", 5),
    ("pre with language", '<pre><code class="language-python">print(1)</code></pre>', 8),
    ("blockquote", "<blockquote>Trích dẫn</blockquote>", 9),
    ("expandable blockquote", "<blockquote expandable>Trích dẫn</blockquote>", 9),
    ("custom emoji", '<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>', 2),
    ("nested formatting", "<b>đậm <i>nghiêng <u>gạch</u></i></b>", 16),
    ("link inside bold", '<b><a href="https://x.vn">x</a></b>', 1),
    ("named entities", "&lt;&gt;&amp;&quot;", 4),
    ("numeric entities", "&#272;&#xE0;", 2),
    ("newlines kept", "a\nb", 3),
    ("emoji counts two UTF-16 units", "📰 Tin", 6),
    ("Vietnamese precomposed (NFC)", "Chiêm Hóa", 9),
    ("Vietnamese decomposed (NFD) counts marks", "Chie\u0302m Ho\u0301a", 11),
    ("surrounding spaces trimmed", "  <b>x</b>  ", 1),
    ("exactly 4096", "a" * 4096, 4096),
    ("4096 after entity parsing", "&amp;" * 4096, 4096),
    ("2048 emoji are 4096 units", "😀" * 2048, 4096),
]


@pytest.mark.parametrize(
    ("text", "length"), [(t, n) for _, t, n in ACCEPTED], ids=[c[0] for c in ACCEPTED]
)
def test_accepted(text: str, length: int) -> None:
    assert check_telegram_html(text) == length


REFUSED = [
    ("paragraph", "<p>x</p>", BAD + 'Unsupported start tag "p" at byte offset 0'),
    ("br", "a<br>b", BAD + 'Unsupported start tag "br" at byte offset 1'),
    ("self-closing br", "a<br/>b", BAD + 'Unsupported start tag "br/" at byte offset 1'),
    ("div", "<div>x</div>", BAD + 'Unsupported start tag "div" at byte offset 0'),
    ("img", '<img src="x.png">', BAD + 'Unsupported start tag "img" at byte offset 0'),
    ("byte offset is in UTF-8", "Hóa <p>", BAD + 'Unsupported start tag "p" at byte offset 5'),
    ("raw < before space", "a < b", BAD + 'Unsupported start tag "" at byte offset 2'),
    ("raw < before digit", "1<2 và", BAD + 'Unsupported start tag "2" at byte offset 1'),
    ("raw < with no space after", "1<2", BAD + "Unclosed start tag at byte offset 1"),
    ("raw < at the end", "a <", BAD + "Unclosed start tag at byte offset 2"),
    ("raw >", "a > b", BAD + 'Unescaped ">" at byte offset 2'),
    ("raw &", "AT&T", BAD + 'Unescaped "&" at byte offset 2'),
    ("entity without ;", "&amp x", BAD + 'Unescaped "&" at byte offset 0'),
    ("unknown named entity", "&nbsp;", BAD + 'Unescaped "&" at byte offset 0'),
    ("numeric zero", "&#0;", BAD + 'Unescaped "&" at byte offset 0'),
    ("numeric out of range", "&#x110000;", BAD + 'Unescaped "&" at byte offset 0'),
    ("surrogate", "&#xD800;", BAD + 'Unescaped "&" at byte offset 0'),
    ("raw & in href", '<a href="https://x.vn/?a&b">x</a>', BAD + 'Unescaped "&" at byte offset 24'),
    ("unclosed", "<b>x", BAD + 'Can\'t find end tag corresponding to start tag "b"'),
    (
        "crossed",
        "<b><i>x</b></i>",
        BAD + 'Unmatched end tag at byte offset 7, expected "</i>", found "</b>"',
    ),
    ("stray end tag", "x</b>", BAD + "Unexpected end tag at byte offset 1"),
    ("unclosed end tag", "<b>x</b", BAD + "Unclosed end tag at byte offset 4"),
    ("unclosed attribute", '<a href="x>y</a>', BAD + 'Unclosed start tag "a" at byte offset 0'),
    (
        "unquoted attribute",
        "<a href=https://x.vn>x</a>",
        BAD + 'Unquoted value of attribute "href" in the tag "a" at byte offset 0',
    ),
    (
        "attribute without =",
        "<a href>x</a>",
        BAD + 'Expected equal sign in declaration of an attribute of the tag "a" at byte offset 0',
    ),
    ("a without href", "<a>x</a>", BAD + 'Tag "a" must have attribute "href" at byte offset 0'),
    (
        "nested a",
        '<a href="https://a.vn"><a href="https://b.vn">x</a></a>',
        BAD + 'Tag "a" can\'t be nested in another "a" at byte offset 23',
    ),
    (
        "span without spoiler class",
        "<span>x</span>",
        BAD + 'Tag "span" must have class "tg-spoiler" at byte offset 0',
    ),
    (
        "span with other class",
        '<span class="red">x</span>',
        BAD + 'Tag "span" must have class "tg-spoiler" at byte offset 0',
    ),
    (
        "bold inside code",
        "<code><b>x</b></code>",
        BAD + 'Tag "b" can\'t be nested in "code" at byte offset 6',
    ),
    (
        "tg-emoji without id",
        "<tg-emoji>👍</tg-emoji>",
        BAD + 'Tag "tg-emoji" must have attribute "emoji-id" at byte offset 0',
    ),
    ("empty", "", "Bad Request: message text is empty"),
    ("only spaces", "  \n ", "Bad Request: message text is empty"),
    ("only tags", "<b></b>", "Bad Request: message text is empty"),
    ("4097", "a" * 4097, "Bad Request: message is too long"),
    ("4097 units with emoji", "a" + "😀" * 2048, "Bad Request: message is too long"),
]


@pytest.mark.parametrize(
    ("text", "description"), [(t, d) for _, t, d in REFUSED], ids=[c[0] for c in REFUSED]
)
def test_refused(text: str, description: str) -> None:
    with pytest.raises(TelegramHtmlError) as caught:
        check_telegram_html(text)
    assert caught.value.description == description
    assert str(caught.value) == description


@pytest.mark.parametrize(
    ("text", "length"),
    [("a > b", 5), ("AT&T", 4), ("<a href=https://x.vn>x</a>", 1), ("<a>x</a>", 1)],
)
def test_lenient_mode_tolerates_what_telegram_tolerates(text: str, length: int) -> None:
    assert check_telegram_html(text, strict=False) == length


def test_lenient_mode_still_refuses_what_telegram_refuses() -> None:
    with pytest.raises(TelegramHtmlError, match="Unsupported start tag"):
        check_telegram_html("a < b", strict=False)


def test_entities_have_telegram_offsets_in_utf16_units() -> None:
    parsed = parse_telegram_html('😀 <b>Tin</b> <a href="https://x.vn/?a=1&amp;b=2">đọc</a>')
    assert parsed.text == "😀 Tin đọc"
    assert parsed.entities == [
        {"offset": 3, "length": 3, "type": "bold"},
        {"offset": 7, "length": 3, "type": "text_link", "url": "https://x.vn/?a=1&b=2"},
    ]


def test_pre_language_and_expandable_blockquote_entities() -> None:
    parsed = parse_telegram_html(
        '<pre><code class="language-python">x</code></pre><blockquote expandable>q</blockquote>'
    )
    assert parsed.entities == [
        {"offset": 0, "length": 1, "type": "pre", "language": "python"},
        {"offset": 1, "length": 1, "type": "expandable_blockquote"},
    ]


def test_caption_limit_is_1024_and_may_be_empty() -> None:
    assert check_telegram_caption("") == 0
    assert check_telegram_caption("ả" * 1024) == 1024
    with pytest.raises(TelegramHtmlError, match=r"^Bad Request: message caption is too long$"):
        check_telegram_caption("ả" * 1025)
    with pytest.raises(TelegramHtmlError, match="can't parse entities"):
        check_telegram_caption("<p>x</p>")


def test_utf16_len() -> None:
    assert utf16_len("") == 0
    assert utf16_len("Tiếng Việt") == 10
    assert utf16_len("👍🏽") == 4
