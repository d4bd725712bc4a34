"""OPML parsing and writing: folders as categories, names, hostile files, the round trip."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime

import pytest

from jobs.ingest.opml import OpmlError, OpmlFeed, parse_opml, to_opml

READER_EXPORT = """<?xml version="1.0" encoding="UTF-8"?>
<opml version="1.0">
  <head><title>Đăng ký của tôi</title></head>
  <body>
    <outline text="Tin địa phương" title="Tin địa phương">
      <outline type="rss" text="Chiêm Hóa" title="Cổng TTĐT huyện Chiêm Hóa"
               xmlUrl="https://chiemhoa.tuyenquang.gov.vn/rss/tin-tuc.rss"
               htmlUrl="https://chiemhoa.tuyenquang.gov.vn/"/>
      <outline text="Xã">
        <outline type="rss" text="Xã Tân An" xmlUrl="http://tanan.gov.vn/rss"/>
      </outline>
    </outline>
    <outline type="rss" text="Báo Tuyên Quang" xmlUrl="https://baotuyenquang.com.vn/rss/home.rss"/>
    <outline type="rss" text="https://example.gov.vn/feed" xmlUrl="https://example.gov.vn/feed"/>
    <outline type="rss" text="Có danh mục" xmlUrl="https://a.gov.vn/rss"
             category="/Thời sự/Trong nước"/>
    <outline type="rss" text="Trùng" xmlUrl="http://tanan.gov.vn/rss"/>
    <outline type="rss" text="Tệp" xmlUrl="file:///etc/passwd"/>
    <outline type="rss" text="Rỗng" xmlUrl="   "/>
    <outline text="Thư mục trống"/>
  </body>
</opml>
"""


def test_reader_export_feeds_names_and_categories() -> None:
    result = parse_opml(READER_EXPORT.encode("utf-8"))
    assert list(result.feeds) == [
        OpmlFeed(
            "https://chiemhoa.tuyenquang.gov.vn/rss/tin-tuc.rss",
            "Cổng TTĐT huyện Chiêm Hóa",  # title wins over text
            "Tin địa phương",
        ),
        OpmlFeed("http://tanan.gov.vn/rss", "Xã Tân An", "Tin địa phương / Xã"),
        OpmlFeed("https://baotuyenquang.com.vn/rss/home.rss", "Báo Tuyên Quang", None),
        OpmlFeed("https://example.gov.vn/feed", None, None),  # text = URL means no name
        OpmlFeed("https://a.gov.vn/rss", "Có danh mục", "Thời sự / Trong nước"),
    ]
    assert result.invalid == ("file:///etc/passwd",)


def test_names_are_nfc_and_single_line() -> None:
    nfd = unicodedata.normalize("NFD", "Huyện  Chiêm\nHóa")
    data = f'<opml version="2.0"><body><outline text="{nfd}" xmlUrl="http://x.vn/r"/></body></opml>'
    (feed,) = parse_opml(data.encode()).feeds
    assert feed.name == "Huyện Chiêm Hóa"


def test_utf16_file() -> None:
    data = '<?xml version="1.0" encoding="UTF-16"?><opml><body><outline text="Hà Giang" xmlUrl="http://hagiang.gov.vn/rss"/></body></opml>'
    (feed,) = parse_opml(data.encode("utf-16")).feeds
    assert feed.name == "Hà Giang"


BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE opml [
 <!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa">
 <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
 <!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
]>
<opml><body><outline text="&c;" xmlUrl="http://x.vn/rss"/></body></opml>
"""
EXTERNAL = b"""<?xml version="1.0"?>
<!DOCTYPE opml SYSTEM "http://evil.example/opml.dtd">
<opml><body><outline text="x" xmlUrl="http://x.vn/rss"/></body></opml>
"""


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (BOMB, "DOCTYPE"),
        (EXTERNAL, "DOCTYPE"),
        (b"", "not valid XML"),
        (b"<opml><body><outline", "not valid XML"),
        (b"<rss version='2.0'><channel/></rss>", "not an OPML file"),
        (b"\xff\xfe\xfd not xml", "not valid XML"),
    ],
)
def test_hostile_and_broken_files_are_refused(data: bytes, message: str) -> None:
    with pytest.raises(OpmlError, match=message):
        parse_opml(data)


def test_export_is_opml_2_with_folders_and_round_trips() -> None:
    feeds = [
        OpmlFeed("https://chiemhoa.tuyenquang.gov.vn/rss", "Chiêm Hóa", "Tin địa phương"),
        OpmlFeed("http://tanan.gov.vn/rss", "Xã Tân An & <Phúc Sơn>", "Tin địa phương / Xã"),
        OpmlFeed("https://baotuyenquang.com.vn/rss", None, None),
        OpmlFeed("https://b.gov.vn/rss?a=1&b=2", "Sở/Ngành", "Sở/ngành"),
    ]
    data = to_opml(feeds, now=datetime(2024, 3, 1, 8, 0, tzinfo=UTC))
    assert data.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    text = data.decode("utf-8")
    assert '<opml version="2.0">' in text and "<dateCreated>" in text
    assert "Chiêm Hóa" in text  # UTF-8, not character references
    assert sorted(parse_opml(data).feeds, key=lambda f: f.url) == sorted(feeds, key=lambda f: f.url)


def test_export_of_nothing_is_still_valid() -> None:
    assert parse_opml(to_opml([])).feeds == ()
