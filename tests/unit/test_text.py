"""html_to_text / plain_title / normalize: the text rules every ingested string goes through."""

from __future__ import annotations

import unicodedata

import pytest

from jobs.enrich.text import html_to_text, normalize, plain_title


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("<p>Một</p><p>Hai</p>", "Một\nHai"),
        ("<p>  nhiều   khoảng\n\t trắng </p>", "nhiều khoảng trắng"),
        ("dòng một<br>dòng hai<br/>dòng ba", "dòng một\ndòng hai\ndòng ba"),
        ("<div><div>A</div>B<div><p>C</p></div></div>", "A\nB\nC"),
        ("<ul><li>một</li><li>hai</li></ul>", "một\nhai"),
        ("<h2>Tiêu đề</h2>Đoạn <b>đậm</b> và <i>nghiêng</i>.", "Tiêu đề\nĐoạn đậm và nghiêng."),
        (
            "<blockquote>trích</blockquote>"
            "<figure><img src=x><figcaption>Ảnh</figcaption></figure>",
            "trích\nẢnh",
        ),
        ("<table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></table>", "a b\nc"),
        ("<p></p><div> </div><p>x</p><br><br>", "x"),
        ("", ""),
        ("chỉ là văn bản", "chỉ là văn bản"),
    ],
)
def test_structure(html: str, text: str) -> None:
    assert html_to_text(html) == text


def test_script_style_noscript_iframe_removed() -> None:
    html = (
        "<p>Trước<script>var s = '<p>không</p>';</script> sau</p>"
        "<style>p { color: red }</style>"
        "<noscript><p>bật JavaScript</p></noscript>"
        "<iframe src='x'>khung</iframe><p>Cuối</p>"
    )
    assert html_to_text(html) == "Trước sau\nCuối"


def test_entities_decoded() -> None:
    assert html_to_text("A &amp; B &lt;c&gt; &quot;d&quot; &#7879; &#x1EC7; &nbsp;e") == (
        'A & B <c> "d" ệ ệ e'
    )


@pytest.mark.parametrize(
    "broken",
    [
        "<p>chưa đóng <b>đậm <i>nghiêng",
        "</div></p>lạc<<>>",
        "<p class='x>thuộc tính hỏng</p>",
        "<script>không bao giờ đóng",
        "<!-- chú thích không đóng",
        "<![CDATA[x]]><?php echo 1 ?>",
        "&#99999999; &#0; &bogus; &",
        "<" * 1000,
        "<div>" * 5000 + "sâu" + "</div>" * 5000,
    ],
)
def test_broken_html_never_raises(broken: str) -> None:
    result = html_to_text(broken)
    assert isinstance(result, str)
    assert "<p" not in result and "<b" not in result


def test_broken_html_keeps_the_text_it_can() -> None:
    assert html_to_text("<p>chưa đóng <b>đậm <i>nghiêng") == "chưa đóng đậm nghiêng"
    assert html_to_text("<div>" * 5000 + "sâu" + "</div>" * 5000) == "sâu"


def test_output_is_nfc() -> None:
    nfd = unicodedata.normalize("NFD", "<p>Hội nghị trực tuyến</p>")
    assert html_to_text(nfd) == "Hội nghị trực tuyến"
    assert unicodedata.is_normalized("NFC", html_to_text(nfd))


@pytest.mark.parametrize(
    ("raw", "title"),
    [
        ("A &amp; B", "A & B"),
        ("<b>x</b>", "x"),
        ("  Công an\n huyện   Chiêm Hóa ", "Công an huyện Chiêm Hóa"),
        ("<p>Hai</p><p>đoạn</p>", "Hai đoạn"),
        ("Giá <5% & tăng", "Giá <5% & tăng"),
        (unicodedata.normalize("NFD", "Tuyên Quang"), "Tuyên Quang"),
        ("", ""),
    ],
)
def test_plain_title(raw: str, title: str) -> None:
    assert plain_title(raw) == title


def test_normalize() -> None:
    assert normalize(" a\u00a0\u200bb\n\tc ") == "a b c"
    assert normalize(unicodedata.normalize("NFD", "Việt")) == "Việt"
