"""parse_feed / discover_feed_links on small hand-written feeds, including hostile ones."""

from __future__ import annotations

import json
import time
import unicodedata
from datetime import UTC, datetime

import pytest

from jobs.ingest.parse import FeedParseError, ParsedFeed, discover_feed_links, parse_feed

URL = "https://chiemhoa.tuyenquang.gov.vn/rss/tin-tuc.rss"

RSS2 = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"
     xmlns:media="http://search.yahoo.com/mrss/" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel>
  <title>Cổng thông tin điện tử huyện Chiêm Hóa</title>
  <link>https://chiemhoa.tuyenquang.gov.vn/</link>
  <ttl>30</ttl>
  <item>
    <title>Công an huyện Chiêm Hóa &amp; hội nghị &lt;b&gt;trực tuyến&lt;/b&gt;</title>
    <link>/tin-tuc/hoi-nghi-1.html</link>
    <guid isPermaLink="false">bai-1</guid>
    <description>&lt;p&gt;Sáng 5/3, Công an huyện tổ chức hội nghị.&lt;/p&gt;</description>
    <content:encoded><![CDATA[<p>Toàn văn bài viết.</p><img src="/anh/1.jpg">]]></content:encoded>
    <pubDate>Tue, 05 Mar 2024 08:30:00 +0700</pubDate>
    <category>An ninh</category>
    <category>Chiêm Hóa</category>
    <dc:creator>Phòng Văn hóa</dc:creator>
    <enclosure url="https://chiemhoa.tuyenquang.gov.vn/anh/bia.jpg" type="image/jpeg" length="1"/>
  </item>
  <item>
    <title>Bài không có ngày</title>
    <link>https://chiemhoa.tuyenquang.gov.vn/tin-tuc/2.html</link>
    <media:content url="/anh/media.png" medium="image"/>
  </item>
</channel>
</rss>
""".encode()


def rss_items(*items: str, extra: str = "") -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>'
        + extra
        + "".join(items)
        + "</channel></rss>"
    ).encode()


def test_rss2() -> None:
    feed = parse_feed(RSS2, url=URL, headers={"Content-Type": "application/rss+xml"})
    assert feed.title == "Cổng thông tin điện tử huyện Chiêm Hóa"
    assert feed.link == "https://chiemhoa.tuyenquang.gov.vn/"
    assert feed.ttl_minutes == 30
    assert feed.warning is None
    first, second = feed.entries
    assert first.guid == "bai-1"
    assert first.link == "https://chiemhoa.tuyenquang.gov.vn/tin-tuc/hoi-nghi-1.html"
    assert first.title == "Công an huyện Chiêm Hóa & hội nghị trực tuyến"
    assert "Sáng 5/3" in first.summary_html
    assert "Toàn văn bài viết." in first.content_html
    assert first.published == datetime(2024, 3, 5, 1, 30, tzinfo=UTC)
    assert first.categories == ("An ninh", "Chiêm Hóa")
    assert first.author == "Phòng Văn hóa"
    assert first.image_url == "https://chiemhoa.tuyenquang.gov.vn/anh/bia.jpg"
    assert second.guid == "https://chiemhoa.tuyenquang.gov.vn/tin-tuc/2.html"  # link as id
    assert second.published is None
    assert second.image_url == "https://chiemhoa.tuyenquang.gov.vn/anh/media.png"
    assert (second.summary_html, second.content_html, second.categories) == ("", "", ())


RSS1 = b"""<?xml version="1.0" encoding="utf-8"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"
         xmlns:dc="http://purl.org/dc/elements/1.1/">
  <channel rdf:about="https://example.vn/rss"><title>RDF</title><link>https://example.vn/</link>
    <items><rdf:Seq><rdf:li rdf:resource="https://example.vn/a"/></rdf:Seq></items>
  </channel>
  <item rdf:about="https://example.vn/a">
    <title>Tin RSS 1.0</title><link>https://example.vn/a</link>
    <description>M\xc3\xb4 t\xe1\xba\xa3</description><dc:date>2024-03-05T10:00:00+07:00</dc:date>
  </item>
</rdf:RDF>"""


def test_rss1() -> None:
    feed = parse_feed(RSS1, url="https://example.vn/rss")
    assert feed.title == "RDF"
    (entry,) = feed.entries
    assert entry.title == "Tin RSS 1.0"
    assert entry.link == "https://example.vn/a"
    assert entry.summary_html == "Mô tả"
    assert entry.published == datetime(2024, 3, 5, 3, 0, tzinfo=UTC)


ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://base.example.vn/thu-muc/">
  <title type="html">A &amp;amp; B</title>
  <link rel="alternate" href="/"/>
  <entry>
    <id>tag:example.vn,2024:1</id>
    <title type="html">&lt;b&gt;Tin&lt;/b&gt; m\xe1\xbb\x9bi</title>
    <link rel="alternate" href="bai/1.html"/>
    <updated>2024-05-01T10:00:00+07:00</updated>
    <author><name>Ban Bi\xc3\xaan t\xe1\xba\xadp</name></author>
    <summary>1 &lt; 2 l\xc3\xa0 \xc4\x91\xc3\xbang</summary>
    <content type="html">&lt;p&gt;N\xe1\xbb\x99i dung &lt;img src="img/a.jpg"&gt;&lt;/p&gt;
    </content>
    <category term="kinh-te" label="Kinh t\xe1\xba\xbf"/>
  </entry>
</feed>"""


def test_atom_with_xml_base_and_updated_only() -> None:
    feed = parse_feed(ATOM, url="https://other.example/feed.atom")
    assert feed.title == "A & B"
    assert feed.link == "https://base.example.vn/"
    (entry,) = feed.entries
    assert entry.guid == "tag:example.vn,2024:1"
    assert entry.title == "Tin mới"
    assert entry.link == "https://base.example.vn/thu-muc/bai/1.html"
    assert entry.published == datetime(2024, 5, 1, 3, 0, tzinfo=UTC)
    assert entry.author == "Ban Biên tập"
    assert entry.summary_html == "1 &lt; 2 là đúng"  # text/plain summary escaped into HTML
    assert entry.image_url == "https://base.example.vn/thu-muc/img/a.jpg"
    assert entry.categories == ("Kinh tế",)  # the label, not the term


JSON_FEED = {
    "version": "https://jsonfeed.org/version/1.1",
    "title": "Tin JSON",
    "home_page_url": "https://example.vn/",
    "items": [
        {
            "id": "1",
            "url": "/bai/1",
            "title": "Hội nghị &amp; tổng kết",
            "content_html": "<p>Nội dung</p>",
            "summary": "Tóm tắt <ngắn>",
            "date_published": "2024-03-05T08:30:00+07:00",
            "tags": ["An ninh"],
            "image": "/anh/1.jpg",
            "authors": [{"name": "Phóng viên"}],
        },
        {"id": 2, "content_text": "Dòng một\nDòng hai", "date_modified": "2024-03-06T00:00:00Z"},
        {"id": "1", "title": "bản lặp"},
    ],
}


def test_json_feed() -> None:
    body = json.dumps(JSON_FEED, ensure_ascii=False).encode()
    feed = parse_feed(body, url="https://example.vn/feed.json")
    assert (feed.title, feed.link, feed.ttl_minutes) == ("Tin JSON", "https://example.vn/", None)
    first, second = feed.entries  # the duplicate id "1" is dropped
    assert first.guid == "1"
    assert first.link == "https://example.vn/bai/1"
    assert first.title == "Hội nghị & tổng kết"
    assert first.content_html == "<p>Nội dung</p>"
    assert first.summary_html == "<p>Tóm tắt &lt;ngắn&gt;</p>"
    assert first.published == datetime(2024, 3, 5, 1, 30, tzinfo=UTC)
    assert first.categories == ("An ninh",)
    assert first.image_url == "https://example.vn/anh/1.jpg"
    assert first.author == "Phóng viên"
    assert second.guid == "2"
    assert second.content_html == "<p>Dòng một</p><p>Dòng hai</p>"
    assert second.published == datetime(2024, 3, 6, tzinfo=UTC)


def test_json_that_is_not_a_json_feed() -> None:
    with pytest.raises(FeedParseError, match="not a JSON Feed"):
        parse_feed(b'{"hello": "world"}', url=URL)
    with pytest.raises(FeedParseError, match="cannot be read as JSON"):
        parse_feed(b'{"version": ', url=URL)
    with pytest.raises(FeedParseError, match="cannot be read as JSON"):
        parse_feed(b"{" * 100_000, url=URL)  # deep nesting: RecursionError, not a crash


def test_relative_links_resolved_and_unsafe_links_dropped() -> None:
    body = rss_items(
        "<item><title>a</title><link>../bai/a.html</link></item>",
        "<item><title>b</title><link>javascript:alert(1)</link></item>",
        "<item><title>c</title><link>//cdn.example.vn/c</link></item>",
    )
    feed = parse_feed(body, url="https://user:secret@example.vn/rss/feed.xml")
    a, b, c = feed.entries
    assert a.link == "https://example.vn/bai/a.html"  # and no credentials in it
    assert b.link is None
    assert c.link == "https://cdn.example.vn/c"


def test_nfd_input_comes_out_nfc() -> None:
    nfd = unicodedata.normalize("NFD", "Hội nghị trực tuyến toàn quốc")
    body = rss_items(f"<item><title>{nfd}</title><description>{nfd}</description></item>")
    (entry,) = parse_feed(body, url=URL).entries
    assert entry.title == "Hội nghị trực tuyến toàn quốc"
    assert unicodedata.is_normalized("NFC", entry.title)


def test_missing_dates_and_fallback_guid_is_stable() -> None:
    body = rss_items("<item><title>Không ngày, không link</title></item>")
    (entry,) = parse_feed(body, url=URL).entries
    assert entry.published is None
    assert entry.link is None
    assert entry.guid.startswith("sha1:")
    assert parse_feed(body, url=URL).entries[0].guid == entry.guid


def test_entries_without_title_date_or_link_do_not_collapse() -> None:
    body = rss_items(
        "<item><description>một</description></item>",
        "<item><description>hai</description></item>",
    )
    assert len(parse_feed(body, url=URL).entries) == 2


def test_duplicate_guids_keep_the_first() -> None:
    body = rss_items(
        "<item><guid isPermaLink='false'>x</guid><title>đầu</title></item>",
        "<item><guid isPermaLink='false'>y</guid><title>khác</title></item>",
        "<item><guid isPermaLink='false'>x</guid><title>lặp</title></item>",
    )
    feed = parse_feed(body, url=URL)
    assert [(e.guid, e.title) for e in feed.entries] == [("x", "đầu"), ("y", "khác")]


def test_summary_copied_from_content_is_not_a_sapo() -> None:
    body = (
        '<?xml version="1.0"?><rss version="2.0" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>T</title>'
        "<item><title>a</title><content:encoded><![CDATA[<p>Toàn văn</p>]]></content:encoded>"
        "</item></channel></rss>"
    ).encode()
    (entry,) = parse_feed(body, url=URL).entries
    assert entry.content_html == "<p>Toàn văn</p>"
    assert entry.summary_html == ""


def test_ttl_absent_or_bad_is_none() -> None:
    assert parse_feed(rss_items(), url=URL).ttl_minutes is None
    assert parse_feed(rss_items(extra="<ttl>abc</ttl>"), url=URL).ttl_minutes is None
    assert parse_feed(rss_items(extra="<ttl>0</ttl>"), url=URL).ttl_minutes is None
    assert parse_feed(rss_items(extra="<ttl> 60 </ttl>"), url=URL).ttl_minutes == 60


def test_valid_feed_without_entries() -> None:
    feed = parse_feed(rss_items(), url=URL)
    assert feed == ParsedFeed(title="T", link=None, entries=(), ttl_minutes=None, warning=None)


HTML_PAGE = b"""<!DOCTYPE html><html><head><title>Trang ch\xe1\xbb\xa7</title>
<base href="https://chiemhoa.tuyenquang.gov.vn/">
<link rel="stylesheet" href="/a.css">
<link rel="alternate" type="application/rss+xml; charset=utf-8" title="Tin" href="rss/tin.rss">
<link rel="Alternate" type="application/atom+xml" href="https://chiemhoa.tuyenquang.gov.vn/atom">
<link rel="alternate" type="application/rss+xml" href="rss/tin.rss">
<link rel="alternate" type="text/html" hreflang="en" href="/en">
</head><body><p>Xin ch\xc3\xa0o</p></body></html>"""


def test_html_page_points_to_its_feed() -> None:
    with pytest.raises(FeedParseError) as info:
        parse_feed(
            HTML_PAGE,
            url="https://chiemhoa.tuyenquang.gov.vn/trang-chu",
            headers={"content-type": "text/html; charset=utf-8"},
        )
    alternate = "https://chiemhoa.tuyenquang.gov.vn/rss/tin.rss"
    assert info.value.alternate == alternate
    assert str(info.value).startswith(
        f"this address is a web page, not a feed; it announces a feed at {alternate}"
    )


def test_html_page_without_feed_link() -> None:
    with pytest.raises(FeedParseError, match="web page, not a feed") as info:
        parse_feed(b"<html><body><p>Trang</p></body></html>", url=URL)
    assert info.value.alternate is None


def test_discover_feed_links() -> None:
    assert discover_feed_links(HTML_PAGE, "https://ignored.example/") == [
        "https://chiemhoa.tuyenquang.gov.vn/rss/tin.rss",
        "https://chiemhoa.tuyenquang.gov.vn/atom",
    ]
    page = '<link rel="alternate" type="application/feed+json" href="/feed.json">'
    assert discover_feed_links(page, "http://a.vn/x/y") == ["http://a.vn/feed.json"]
    assert discover_feed_links("<link rel=alternate type=application/rss+xml", "http://a.vn") == []
    assert (
        discover_feed_links(
            '<link rel="alternate" type="application/rss+xml" href="javascript:x">', "http://a.vn"
        )
        == []
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "the response is empty"),
        (b"   \n\t ", "the response is empty"),
        (b"\x00\xff\xfe garbage \x89PNG", "the response is not a feed"),
        (b"just some text", "the response is not a feed"),
        (b"<?xml version='1.0'?><note><to>x</to></note>", "the response is not a feed"),
        (b"/etc/hostname", "the response is not a feed"),  # never opened as a file name
    ],
)
def test_garbage_and_empty(body: bytes, message: str) -> None:
    with pytest.raises(FeedParseError, match=message) as info:
        parse_feed(body, url=URL)
    assert info.value.alternate is None


def test_malformed_xml_with_entries_keeps_them_and_warns() -> None:
    body = rss_items(
        "<item><title>một</title><link>https://a.vn/1</link></item>",
        "<item><title>hai &nbsp; <b>đậm</title><link>https://a.vn/2</link></item>",
    )
    feed = parse_feed(body, url=URL)
    assert [e.title for e in feed.entries] == ["một", "hai đậm"]
    assert feed.warning is not None
    assert feed.warning.startswith("the feed is not well-formed (XML error at line 1:")
    assert feed.warning.endswith("2 entries were read anyway")


BILLION_LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY lol "lol">\n'
    + "\n".join(
        f'<!ENTITY lol{i} "' + f"&lol{i - 1 if i > 1 else ''};" * 10 + '">' for i in range(1, 10)
    )
    + '\n]>\n<rss version="2.0"><channel><title>t</title><item><title>&lol9;</title>'
    "</item></channel></rss>"
).encode()

# One big entity referenced many times: bounded by expat only after 8 MB, and expanded without
# any limit by feedparser's loose parser (measured: 2 s and ~380 MB for a 110 KB body).
QUADRATIC = (
    '<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY a "' + "A" * 50_000 + '">\n]>\n'
    '<rss version="2.0"><channel><title>t</title><item><title>' + "&a;" * 2000 + "</title>"
    "</item></channel></rss>"
).encode()

XXE = (
    b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    b'<rss version="2.0"><channel><title>t</title><item><title>&x;</title></item></channel></rss>'
)


@pytest.mark.parametrize(
    "body",
    [BILLION_LAUGHS, QUADRATIC, XXE, BILLION_LAUGHS.decode().encode("utf-16")],
    ids=["billion-laughs", "quadratic", "xxe", "utf-16"],
)
def test_entity_declarations_are_refused_fast(body: bytes) -> None:
    started = time.monotonic()
    with pytest.raises(FeedParseError, match="declares XML entities"):
        parse_feed(body, url=URL)
    assert time.monotonic() - started < 0.5


def test_character_reference_entities_and_entity_text_are_allowed() -> None:
    body = (
        b'<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY nbsp "&#160;">\n]>\n'
        b'<rss version="2.0"><channel><title>t</title><item><title>a&nbsp;b</title>'
        b'<description><![CDATA[<pre><!ENTITY lol "lol"></pre>]]></description>'
        b"</item></channel></rss>"
    )
    (entry,) = parse_feed(body, url=URL).entries
    assert entry.title == "a b"


def test_wrong_declared_charset_utf8_body_wins() -> None:
    body = rss_items("<item><title>Hội nghị công an huyện Chiêm Hóa</title></item>")
    feed = parse_feed(body, url=URL, headers={"Content-Type": "text/xml; charset=ISO-8859-1"})
    assert feed.entries[0].title == "Hội nghị công an huyện Chiêm Hóa"
    assert feed.warning == (
        "the feed declares charset ISO-8859-1 but is UTF-8; it was read as UTF-8"
    )


def test_wrong_xml_declaration_utf8_body_wins() -> None:
    body = rss_items("<item><title>Tuyên Quang</title></item>").replace(
        b'encoding="utf-8"', b'encoding="windows-1252"'
    )
    feed = parse_feed(body, url=URL)
    assert feed.entries[0].title == "Tuyên Quang"
    assert feed.warning is not None and "windows-1252" in feed.warning


def test_correctly_declared_legacy_charset_still_works() -> None:
    body = rss_items("<item><title>Café crème</title></item>").replace(
        b'encoding="utf-8"', b'encoding="iso-8859-1"'
    )
    latin1 = body.decode("utf-8").encode("iso-8859-1")
    feed = parse_feed(latin1, url=URL, headers={"Content-Type": "application/rss+xml"})
    assert feed.entries[0].title == "Café crème"
    assert feed.warning is None


def test_image_falls_back_to_first_img_in_content() -> None:
    body = rss_items(
        "<item><title>a</title><description>&lt;p&gt;x&lt;img src='/a.png'&gt;&lt;/p&gt;"
        "</description></item>"
    )
    (entry,) = parse_feed(body, url="https://example.vn/rss").entries
    assert entry.image_url == "https://example.vn/a.png"


@pytest.mark.parametrize("ref", ["&#99999999;", "&#x110000;", "&#xD800;", "&#55296;"])
def test_character_references_to_no_character_do_not_crash(ref: str) -> None:
    # feedparser 6.0.14 itself raises ValueError / UnicodeEncodeError on these.
    body = rss_items(f"<item><title>Tin{ref} mới</title></item>")
    (entry,) = parse_feed(body, url=URL).entries
    assert entry.title == "Tin\ufffd mới"


def test_ordinary_character_references_untouched() -> None:
    body = rss_items("<item><title>Vi&#7879;t &#x1EC7; &#x1F600;</title></item>")
    assert parse_feed(body, url=URL).entries[0].title == "Việt ệ 😀"


def test_xml_mislabelled_as_json_is_read_as_xml() -> None:
    feed = parse_feed(RSS2, url=URL, headers={"Content-Type": "application/json"})
    assert len(feed.entries) == 2
