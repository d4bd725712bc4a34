"""Main-text extraction, teaser detection and the article-fetch security rules (all pure)."""

from __future__ import annotations

import ipaddress
import unicodedata

import pytest

from jobs.enrich.page import (
    address_allowed,
    decode_html,
    extract_main_text,
    host_allowed,
    is_teaser,
)
from jobs.enrich.summarize import summarize

# A district portal article page, modeled on the seed (Chiêm Hóa, Tuyên Quang): a header menu, a
# breadcrumb, the article in div.detail > div.content with photo captions, a byline, the "./."
# end mark, the "Gửi phản hồi" / "In bài" tools, a "Tin liên quan" list, a sidebar of notices and
# a visit counter, and a footer; plus script and style that must never show.
PORTAL_TITLE = "Hội nghị sơ kết phong trào Toàn dân bảo vệ ANTQ"
PORTAL_PAGE = """<!DOCTYPE html>
<html lang="vi">
<head>
<meta charset="utf-8">
<title>Hội nghị sơ kết phong trào Toàn dân bảo vệ ANTQ - Cổng thông tin điện tử huyện</title>
<style>.menu { color: red } /* không hiện */</style>
<script>var tracking = "Mã theo dõi không được hiện ra";</script>
</head>
<body>
<div id="header" class="header">
  <div class="logo"><a href="/">Cổng thông tin điện tử huyện Chiêm Hóa</a></div>
  <ul class="menu top-menu">
    <li><a href="/">Trang chủ</a></li><li><a href="/gioi-thieu">Giới thiệu</a></li>
    <li><a href="/tin-tuc">Tin tức - Sự kiện</a></li>
    <li><a href="/van-ban">Văn bản chỉ đạo điều hành</a></li>
    <li><a href="/thu-tuc">Thủ tục hành chính</a></li><li><a href="/lien-he">Liên hệ</a></li>
  </ul>
</div>
<div class="breadcrumb"><a href="/">Trang chủ</a> » <a href="/tin-tuc">Tin tức - Sự kiện</a></div>
<div class="main-wrapper">
 <div class="col-left">
  <div class="detail">
   <h1 class="title">Hội nghị sơ kết phong trào Toàn dân bảo vệ ANTQ</h1>
   <div class="date">Thứ Năm, 10/11/2022 | 08:15</div>
   <div class="content">
    <p><strong>Sáng 10/11, Bộ Công an tổ chức hội nghị trực tuyến sơ kết Ngày hội toàn dân bảo
    vệ ANTQ năm 2022 tới điểm cầu các huyện trên toàn quốc.</strong></p>
    <p>Dự Hội nghị tại điểm cầu Chiêm Hóa có các đồng chí lãnh đạo Công an huyện, Ban Chỉ huy
    Quân sự huyện, các cơ quan phòng, ban chuyên môn huyện.</p>
    <figure><img src="/anh/hoi-nghi-1.jpg" alt="">
    <figcaption>Các đại biểu dự hội nghị trực tuyến tại điểm cầu Chiêm Hóa.</figcaption></figure>
    <p>Theo báo cáo, các hoạt động tổ chức “Ngày hội toàn dân bảo vệ ANTQ” năm 2022 được các
    địa phương tổ chức với nhiều hoạt động phong phú, đa dạng. Phần hội được tổ chức sôi nổi
    với các hoạt động văn hóa, văn nghệ, thể dục, thể thao phù hợp với tình hình địa phương.</p>
    <p style="text-align:center"><img src="/anh/hoi-nghi-2.jpg"></p>
    <p style="text-align:center"><em>Toàn cảnh hội nghị tại điểm cầu Chiêm Hóa.</em></p>
    <p>Phát biểu tại Hội nghị, Trung tướng Lê Quốc Hùng, Thứ trưởng Bộ Công an nhấn mạnh: Ngày
    hội toàn dân bảo vệ ANTQ năm 2022 đã tạo nên khí thế thi đua sôi nổi, thực sự là Ngày hội
    của nhân dân, góp phần đưa phong trào toàn dân bảo vệ ANTQ lên tầm cao mới./.</p>
    <p style="text-align:right"><strong>Nguyễn Văn An (Công an huyện)</strong></p>
    <p style="display:none">Nội dung ẩn không được hiện ra</p>
    <script>document.write("quảng cáo trong bài");</script>
   </div>
   <div class="tools"><a href="/gop-y?id=123">Gửi phản hồi</a> |
     <a href="javascript:print()">In bài</a> | <a href="#">Chia sẻ</a></div>
   <div class="related">
    <h3>Tin liên quan</h3>
    <ul><li><a href="/tin/1">Công an huyện ra quân bảo đảm trật tự an toàn giao thông</a></li>
    <li><a href="/tin/2">Huyện Chiêm Hóa tổng kết công tác phòng cháy chữa cháy năm 2022</a></li>
    </ul>
   </div>
  </div>
 </div>
 <div class="col-right sidebar">
  <div class="box"><h3>Thông báo</h3><ul>
   <li><a href="/tb/1">Thông báo lịch tiếp công dân của Chủ tịch UBND huyện tháng 11</a></li>
   <li><a href="/tb/2">Thông báo tuyển dụng viên chức sự nghiệp giáo dục huyện năm 2022</a></li>
  </ul></div>
  <div class="box"><h3>Thống kê truy cập</h3><p>Đang truy cập: 25</p>
   <p>Tổng lượt truy cập: 1.234.567</p></div>
 </div>
</div>
<div id="footer" class="footer">
 <p>CỔNG THÔNG TIN ĐIỆN TỬ HUYỆN CHIÊM HÓA, TỈNH TUYÊN QUANG</p>
 <p>Cơ quan chủ quản: Ủy ban nhân dân huyện Chiêm Hóa. Địa chỉ: thị trấn Vĩnh Lộc, huyện Chiêm
 Hóa, tỉnh Tuyên Quang. Điện thoại: 0207.3851.234.</p>
</div>
</body></html>
"""

CHROME = (
    "Trang chủ",
    "Văn bản chỉ đạo",
    "Gửi phản hồi",
    "In bài",
    "Tin liên quan",
    "phòng cháy chữa cháy",
    "tuyển dụng viên chức",
    "Thống kê truy cập",
    "Cơ quan chủ quản",
    "Mã theo dõi",
    "quảng cáo",
    "color: red",
    "Nội dung ẩn",
)

# A short article in a plain div.detail next to a long "about the district" text in a box with
# no telltale class: readability's scoring prefers the longer prose; the container must win.
SIDEBAR_PAGE = """<html><head><title>Xã Tân An</title></head><body>
<div class="nav"><a href="/">Trang chủ</a> <a href="/tin-tuc">Tin tức</a></div>
<div class="wrap">
 <div><h1>Xã Tân An ra quân làm đường giao thông nông thôn</h1>
  <div class="detail">
   <p>Sáng 12/3, xã Tân An tổ chức ra quân làm đường giao thông nông thôn năm 2024 với sự
   tham gia của hơn 300 người dân.</p>
   <p>Tuyến đường dài 1,2 km nối thôn Nà Mỏ với trung tâm xã, tổng kinh phí 2 tỷ đồng./.</p>
  </div>
  <a href="/phan-hoi">Gửi phản hồi</a>
 </div>
 <div class="gioithieu-text"><h3>Giới thiệu chung</h3>
  <p>Huyện Chiêm Hóa nằm ở phía Bắc tỉnh Tuyên Quang, cách thành phố Tuyên Quang khoảng 65 km,
  có tổng diện tích tự nhiên hơn 1.278 km vuông, gồm 25 xã và 1 thị trấn, dân số khoảng 136
  nghìn người với 18 dân tộc cùng sinh sống.</p>
  <p>Huyện có nhiều di tích lịch sử cách mạng, danh lam thắng cảnh, lễ hội truyền thống đặc sắc
  của đồng bào các dân tộc Tày, Dao, Mông, là điểm đến hấp dẫn của du khách trong và ngoài
  tỉnh, góp phần phát triển kinh tế du lịch của địa phương.</p>
  <p>Trong những năm qua, kinh tế của huyện tăng trưởng khá, cơ cấu kinh tế chuyển dịch đúng
  hướng, đời sống vật chất và tinh thần của nhân dân không ngừng được nâng lên.</p>
 </div>
</div>
<div class="footer">Bản quyền thuộc UBND huyện Chiêm Hóa</div></body></html>
"""

# An old table-layout page: no article container, no class names at all.
TABLE_PAGE = """<html><body><table><tr>
<td><a href="/">Trang chủ</a><br><a href="/a">Tin tức</a><br><a href="/b">Liên hệ</a></td>
<td>
<p>Ngày 20/4, Hội Nông dân xã Phúc Sơn tổ chức lớp tập huấn kỹ thuật trồng cam sành cho 60
hội viên nông dân trên địa bàn.</p>
<p>Tại lớp tập huấn, các học viên được cán bộ kỹ thuật hướng dẫn cách chăm sóc, bón phân,
phòng trừ sâu bệnh hại trên cây cam theo tiêu chuẩn VietGAP.</p>
<p>Qua đó giúp hội viên nâng cao năng suất, chất lượng sản phẩm và thu nhập./.</p>
</td></tr></table></body></html>
"""


def test_portal_page_keeps_article_paragraphs_and_drops_chrome() -> None:
    text = extract_main_text(PORTAL_PAGE, "http://chiemhoa.tuyenquang.gov.vn/tin/123")
    lines = text.split("\n")
    assert lines[0].startswith("Sáng 10/11, Bộ Công an tổ chức hội nghị trực tuyến")
    assert any(line.startswith("Phát biểu tại Hội nghị, Trung tướng") for line in lines)
    assert any(line.startswith("Theo báo cáo") for line in lines)
    for chrome in CHROME:
        assert chrome not in text, chrome
    # One paragraph per line, whitespace inside a paragraph collapsed.
    assert all(line == " ".join(line.split()) for line in lines)
    assert "vệ ANTQ năm 2022 tới điểm cầu" in lines[0]


def test_portal_page_summary_is_article_text_not_caption() -> None:
    text = extract_main_text(PORTAL_PAGE, "http://chiemhoa.tuyenquang.gov.vn/tin/123")
    summary = summarize(PORTAL_TITLE, text)
    assert "ANTQ" in summary
    assert "Toàn cảnh" not in summary and "Gửi phản hồi" not in summary


def test_bytes_in_legacy_encoding_and_nfd_come_out_nfc() -> None:
    nfd = unicodedata.normalize("NFD", PORTAL_PAGE)
    assert extract_main_text(nfd, "http://x.gov.vn/") == extract_main_text(
        PORTAL_PAGE, "http://x.gov.vn/"
    )
    text = extract_main_text(PORTAL_PAGE.encode("utf-8"), "http://x.gov.vn/")
    assert unicodedata.is_normalized("NFC", text)
    assert "Bộ Công an" in text


def test_short_article_beats_longer_sidebar_prose() -> None:
    text = extract_main_text(SIDEBAR_PAGE, "http://tanan.gov.vn/tin/1")
    assert text.startswith("Sáng 12/3, xã Tân An")
    assert "Huyện Chiêm Hóa nằm ở phía Bắc" not in text
    assert "Gửi phản hồi" not in text and "Bản quyền" not in text


def test_table_layout_page_without_containers() -> None:
    text = extract_main_text(TABLE_PAGE, "http://phucson.gov.vn/")
    assert text.startswith("Ngày 20/4, Hội Nông dân xã Phúc Sơn")
    assert "VietGAP" in text
    assert "Liên hệ" not in text


@pytest.mark.parametrize(
    "page",
    [
        "",
        "   ",
        b"",
        "<html><body></body></html>",
        "<html><body><script>alert('x')</script><style>p{}</style></body></html>",
        "<<<>>> &&& <p",
        "\x00\x01 binary \xff",
        b"\xff\xfe\x00garbage",
        '<?xml version="1.0" encoding="utf-8"?><html><body><p>Một câu.</p></body></html>',
        "<div>" * 5000 + "sâu" + "</div>" * 5000,
    ],
)
def test_hostile_or_empty_pages_never_raise(page: str | bytes) -> None:
    text = extract_main_text(page, "http://x.gov.vn/")
    assert isinstance(text, str)
    assert "alert" not in text


def test_decode_html_prefers_utf8_then_declared_then_meta() -> None:
    vi = "<p>Tiếng Việt có dấu</p>"
    assert decode_html(vi.encode("utf-8"), "iso-8859-1") == vi  # wrong header, real UTF-8
    cp = "<meta charset='windows-1258'><p>Hà Nam</p>"
    assert "Hà" in decode_html(cp.encode("cp1258"))
    assert "Hà" in decode_html(cp.encode("cp1258"), "no-such-charset")
    assert decode_html(b"\xef\xbb\xbf<p>x</p>") == "<p>x</p>"


# --- teasers ----------------------------------------------------------------------------------

FULL_TEXT = (
    "Sáng 10/11, Bộ Công an tổ chức hội nghị trực tuyến sơ kết Ngày hội toàn dân bảo vệ ANTQ năm "
    "2022 tới điểm cầu các huyện trên toàn quốc.\n"
    "Dự Hội nghị tại điểm cầu Chiêm Hóa có các đồng chí lãnh đạo Công an huyện, Ban Chỉ huy Quân "
    "sự huyện, các cơ quan phòng, ban chuyên môn huyện.\n"
    "Theo báo cáo, các hoạt động tổ chức năm 2022 được các địa phương tổ chức với nhiều hoạt động "
    "phong phú, đa dạng, thu hút sự tham gia của đông đảo nhân dân."
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", True),
        ("   \n ", True),
        (PORTAL_TITLE, True),  # the title again
        ("Hội nghị sơ kết", True),  # part of the title
        ("Sáng 10/11, Bộ Công an tổ chức hội nghị trực tuyến sơ kết Ngày hội...", True),
        (FULL_TEXT[:300] + "…", True),  # a CMS excerpt cut mid-sentence
        (FULL_TEXT[:300] + " [...]", True),
        (FULL_TEXT + " Xem tiếp »", True),
        (FULL_TEXT.split("\n")[0], True),  # one lead sentence: a sapo, not the article
        (FULL_TEXT, False),
        (FULL_TEXT.replace("\n", " "), False),
    ],
)
def test_is_teaser(text: str, expected: bool) -> None:
    assert is_teaser(text, PORTAL_TITLE) is expected


def test_long_text_ending_with_ellipsis_is_not_a_teaser() -> None:
    body = "\n".join([FULL_TEXT] * 8) + " Và còn nữa…"
    assert is_teaser(body, PORTAL_TITLE) is False


# --- where an article may come from -------------------------------------------------------------

FEED = "http://chiemhoa.tuyenquang.gov.vn/rss/tin-tuc.rss"


@pytest.mark.parametrize(
    ("url", "allowed", "expected"),
    [
        ("http://chiemhoa.tuyenquang.gov.vn/tin/1", (), True),
        ("https://chiemhoa.tuyenquang.gov.vn/tin/1", (), True),  # http→https, default ports
        ("http://CHIEMHOA.tuyenquang.gov.vn./tin/1", (), True),  # case, trailing dot
        ("http://chiemhoa.tuyenquang.gov.vn:8080/tin/1", (), False),  # another service
        ("http://tuyenquang.gov.vn/tin/1", (), False),
        ("http://evil.example/tin/1", (), False),
        ("file:///etc/passwd", (), False),
        ("ftp://chiemhoa.tuyenquang.gov.vn/x", (), False),
        ("http://tuyenquang.gov.vn/tin/1", ("tuyenquang.gov.vn",), True),
        ("http://baotuyenquang.com.vn/a", ("*.tuyenquang.gov.vn",), False),
        ("http://www.tuyenquang.gov.vn/a", ("*.tuyenquang.gov.vn",), True),
        ("http://cdn.example:8080/a", ("cdn.example",), False),
        ("http://cdn.example:8080/a", ("cdn.example:8080",), True),
        ("https://cdn.example/a", ("https://cdn.example/",), True),
        ("http://[::1]:99999/a", (), False),  # bad port
    ],
)
def test_host_allowed(url: str, allowed: tuple[str, ...], expected: bool) -> None:
    assert host_allowed(url, FEED, allowed) is expected


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    return ipaddress.ip_address(text)


@pytest.mark.parametrize(
    ("address", "own", "expected"),
    [
        ("203.113.131.1", [], True),  # a public address (VNPT)
        ("127.0.0.1", [], False),
        ("127.0.0.1", ["127.0.0.1"], True),  # the feed's own host is on loopback
        ("127.0.0.2", ["127.0.0.1"], False),
        ("10.0.0.5", [], False),
        ("192.168.1.10", ["192.168.1.10"], True),
        ("172.16.0.1", ["192.168.1.10"], False),
        ("169.254.169.254", [], False),  # cloud metadata
        ("100.64.0.1", [], False),  # carrier-grade NAT
        ("0.0.0.0", [], False),
        ("::1", [], False),
        ("fe80::1", [], False),
        ("fd00::1", [], False),
        ("::ffff:127.0.0.1", [], False),
        ("::ffff:127.0.0.1", ["127.0.0.1"], True),
        ("224.0.0.1", [], False),
        ("2001:ee0:4141::1", [], True),
    ],
)
def test_address_allowed(address: str, own: list[str], expected: bool) -> None:
    assert address_allowed(_ip(address), [_ip(a) for a in own]) is expected
