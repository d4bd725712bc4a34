"""jobs.ingest.fastfeed gives exactly what feedparser gives, and hands anything unusual back to
it."""

from __future__ import annotations

import random

import pytest

from bench.sample_feeds import make_feed
from jobs.ingest.fastfeed import Unusual, read_feed
from jobs.ingest.parse import ParsedFeed, parse_feed
from tests.unit.test_parse import ATOM, RSS1, RSS2, URL, rss_items

NS = (
    'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:media="http://search.yahoo.com/mrss/" '
    'xmlns:atom="http://www.w3.org/2005/Atom" '
    'xmlns:sy="http://purl.org/rss/1.0/modules/syndication/" '
    'xmlns:slash="http://purl.org/rss/1.0/modules/slash/"'
)


def rss(*items: str, channel: str = "<title>Kênh</title><link>/</link>") -> bytes:
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0" {NS}><channel>{channel}'
        + "".join(f"<item>{i}</item>" for i in items)
        + "</channel></rss>"
    ).encode()


# Each of these is read by the fast path (and must agree with feedparser).
ORDINARY = {
    "bench feed": make_feed(7),
    "RSS2 fixture": RSS2,
    "no entries": rss_items(),
    "ttl": rss_items(extra="<ttl> 60 </ttl>"),
    "guid permalink resolved": rss("<title>a</title><guid>bai/1.html</guid>"),
    "guid permalink not a link when link given": rss(
        "<guid>https://a.vn/g</guid><link>https://a.vn/l</link>"
    ),
    "guid isPermaLink=false": rss("<guid isPermaLink='false'>x-1</guid><title>t</title>"),
    "guid isPermaLink=True is not 'true'": rss("<guid isPermaLink='True'>x-2</guid>"),
    "guid empty": rss("<guid></guid><title>t</title>"),
    "link with &amp; query": rss("<link>https://a.vn/?a=1&amp;b=2&amp;amp;c=3</link>"),
    "link empty": rss("<link></link><title>t</title>"),
    "link relative and whitespace": rss("<link>\n  ../x/y.html \n</link>"),
    "title that looks like html": rss("<title>A &amp; B &lt;b&gt;đậm&lt;/b&gt;</title>"),
    "title plain with angle brackets": rss("<title>Cổng &lt;dichvucong.gov.vn&gt;</title>"),
    "title with entity text": rss("<title>Giá &amp;nbsp; xăng &amp;amp; dầu</title>"),
    "title in CDATA": rss("<title><![CDATA[Tin <i>mới</i> & cũ]]></title>"),
    "c1 controls": rss("<title>Gi\u0093a\u0094 \u0080 x</title>"),
    "mojibake repaired": rss("<title>Ã©tÃ©</title>"),
    "content before description": rss(
        "<content:encoded><![CDATA[<p>Toàn văn</p>]]></content:encoded>"
        "<description>Sapo</description>"
    ),
    "content only": rss("<title>t</title><content:encoded>&lt;p&gt;A&lt;/p&gt;</content:encoded>"),
    "dates": rss(
        "<title>a</title><pubDate>Tue, 05 Mar 2024 08:30:00 +0700</pubDate>",
        "<title>b</title><dc:date>2024-03-05T10:00:00+07:00</dc:date>",
        "<title>c</title><pubDate>không phải ngày</pubDate>",
        "<title>d</title><pubDate>2024-03-05 10:00:00</pubDate>",
    ),
    "categories": rss(
        "<category>An ninh</category><category>An ninh</category><category> </category>"
        "<category>Kinh &amp;amp; tế</category>"
    ),
    "authors": rss("<dc:creator>Phóng viên</dc:creator>", "<author>a@b.vn (Ban)</author>"),
    "images": rss(
        "<enclosure url='/a.JPG' length='1'/><title>a</title>",
        "<enclosure url='https://a.vn/s.mp3' type='audio/mpeg'/>"
        "<media:content url='/m.png' medium='image'/><media:thumbnail url='/t.jpg'/>",
        "<media:thumbnail url='/t.jpg'/>",
        "<description>&lt;img src='/i.png'&gt;</description>",
    ),
    "ignored extras": rss(
        "<title>a</title><comments>/c</comments><slash:comments>3</slash:comments>",
        channel=(
            "<title>K</title><atom:link href='https://a.vn/rss' rel='self'/>"
            "<image><url>/l.png</url><title>Logo</title><link>/logo</link></image>"
            "<sy:updatePeriod>hourly</sy:updatePeriod><lastBuildDate>x</lastBuildDate>"
        ),
    ),
    "nfd text": rss(
        "<title>Ho\u0323i nghi\u0323</title><description>Tie\u0302\u0301ng</description>"
    ),
    "comment between items": rss("<title>a</title><!-- x -->", "<title>b</title>"),
    "comment and PI inside text": rss("<title>Tin<!-- x --> mới<?pi x?>!</title>"),
    "cdata between text": rss(
        "<title>a <![CDATA[<b>]]> c</title><description>x<![CDATA[y]]></description>"
    ),
    "bom": b"\xef\xbb\xbf" + rss("<title>BOM</title>"),
    "no title, date or link": rss(
        "<description>một</description>", "<description>hai</description>"
    ),
    "duplicate guids": rss(
        "<guid isPermaLink='false'>x</guid><title>đầu</title>",
        "<guid isPermaLink='false'>x</guid><title>lặp</title>",
    ),
    "header charset, ascii body": rss("<title>ASCII only &#7879;</title>"),
}

# Each of these must go to feedparser (and still come out as feedparser reads it).
UNUSUAL = {
    "atom": ATOM,
    "rss 1.0": RSS1,
    "malformed": rss("<title>hai &nbsp; <b>đậm</title>"),
    "doctype": (
        b'<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY nbsp "&#160;">\n]>\n'
        b'<rss version="2.0"><channel><title>t</title><item><title>a&nbsp;b</title>'
        b"</item></channel></rss>"
    ),
    "xml:base": rss("<title>a</title>").replace(b"<channel>", b'<channel xml:base="/x/">'),
    "unknown item element": rss("<title>a</title><source url='https://a.vn'>A</source>"),
    "unknown namespace": rss("<title>a</title>").replace(
        b"<title>a", b'<x:y xmlns:x="urn:x">1</x:y><title>a'
    ),
    "markup in description": rss("<description><p>Đoạn</p></description>"),
    "two titles": rss("<title>a</title><title>b</title>"),
    "title with type": rss("<title type='html'>a</title>"),
    "two channels titles": rss(channel="<title>a</title><title>b</title>"),
    "dc:title in channel": rss(channel="<dc:title>a</dc:title>"),
    "atom alternate link": rss(channel="<atom:link href='https://a.vn/'/>"),
    "items outside channel": b'<rss version="0.91"><channel><title>t</title></channel>'
    b"<item><title>a</title></item></rss>",
    "media thumbnail text": rss("<media:thumbnail>https://a.vn/t.jpg</media:thumbnail>"),
    "legacy charset": rss("<title>Café</title>")
    .replace(b'encoding="utf-8"', b'encoding="iso-8859-1"')
    .decode()
    .encode("iso-8859-1"),
}

BASE = "https://chiemhoa.tuyenquang.gov.vn/rss/tin-tuc.rss"


def atom(*entries: str, feed: str = "<title>Kênh Atom</title>") -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom" '
        f'xmlns:media="http://search.yahoo.com/mrss/">{feed}'
        + "".join(f"<entry>{e}</entry>" for e in entries)
        + "</feed>"
    ).encode()


ATOM_ORDINARY = {
    "atom fixture without xml:base": ATOM.replace(
        b' xml:base="https://base.example.vn/thu-muc/"', b""
    ),
    "atom ids, links and their order": atom(
        "<id>tag:a.vn,2024:1</id><title>a</title>",
        "<id>bai/2.html</id><link href='/x/2.html'/>",
        "<link rel='alternate' href='/l/3'/><id>https://a.vn/3</id>",
        "<link href='/one'/><link href='/two'/><link rel='self' href='/self'/>",
        "<link rel='alternate' type='application/atom+xml' href='/feed'/><id>i-5</id>",
        feed="<title type='html'>A &amp;amp; B</title><id>https://a.vn/</id>",
    ),
    "atom feed link after id": atom(feed="<id>https://a.vn/id</id><link href='/home'/>"),
    "atom text types": atom(
        "<title type='text'>1 &lt; 2 &lt;b&gt;</title><summary type='html'>&lt;p&gt;S&lt;/p&gt;"
        "</summary><content type='html'>&lt;p&gt;C &lt;img src='i.png'&gt;&lt;/p&gt;</content>",
        "<title>t</title><content>Chỉ văn bản</content>",
        "<content type='html'><![CDATA[<p>Toàn văn</p>]]></content><summary>Sapo</summary>",
    ),
    "atom dates, authors, categories": atom(
        "<published>2024-03-05T10:00:00+07:00</published><updated>2024-03-06T00:00:00Z"
        "</updated><author><name>Ban Biên tập</name><email>bbt@a.vn</email></author>"
        "<category term='kinh-te' label='Kinh tế'/><category term='x'/><category term='x'/>",
        "<updated>Tue, 05 Mar 2024 08:30:00 +0700</updated><author><email>e@a.vn</email></author>",
        "<author><name>Tên</name><uri>https://a.vn/</uri></author>",
    ),
    "atom enclosures and media": atom(
        "<link rel='enclosure' type='image/jpeg' href='/a.jpg'/><title>a</title>",
        "<media:thumbnail url='/t.jpg'/><title>b</title>",
    ),
}

ATOM_UNUSUAL = {
    "xhtml content": atom("<content type='xhtml'><div xmlns='http://www.w3.org/1999/xhtml'>"
                          "<p>x</p></div></content>"),
    "base64 content": atom("<content type='image/png'>aGk=</content>"),
    "out of line content": atom("<content src='https://a.vn/x' type='text/html'/>"),
    "two titles": atom("<title>a</title><title>b</title>"),
    "source": atom("<source><title>S</title></source><title>a</title>"),
    "atom 0.3": b'<feed version="0.3" xmlns="http://purl.org/atom/ns#"><title>t</title></feed>',
    "link text": atom("<link>https://a.vn/</link>"),
}  # fmt: skip


def both(body: bytes, headers: dict[str, str] | None = None) -> tuple[ParsedFeed, ParsedFeed]:
    fast = parse_feed(body, url=BASE, headers=headers, fast=True)
    slow = parse_feed(body, url=BASE, headers=headers, fast=False)
    return fast, slow


@pytest.mark.parametrize("body", ORDINARY.values(), ids=ORDINARY.keys())
def test_fast_path_reads_ordinary_rss_exactly_as_feedparser(body: bytes) -> None:
    read_feed(body, BASE)  # really the fast path: no Unusual
    fast, slow = both(body)
    assert fast.entries == slow.entries
    assert fast == slow


@pytest.mark.parametrize("body", ATOM_ORDINARY.values(), ids=ATOM_ORDINARY.keys())
def test_fast_path_reads_ordinary_atom_exactly_as_feedparser(body: bytes) -> None:
    read_feed(body, BASE)
    fast, slow = both(body)
    assert fast.entries == slow.entries
    assert fast == slow


@pytest.mark.parametrize("body", ATOM_UNUSUAL.values(), ids=ATOM_UNUSUAL.keys())
def test_unusual_atom_falls_back_to_feedparser(body: bytes) -> None:
    with pytest.raises(Unusual):
        read_feed(body, BASE)
    fast, slow = both(body)
    assert fast == slow


@pytest.mark.parametrize("body", UNUSUAL.values(), ids=UNUSUAL.keys())
def test_unusual_documents_fall_back_to_feedparser(body: bytes) -> None:
    with pytest.raises(Unusual):
        read_feed(body, BASE)
    fast, slow = both(body)
    assert fast == slow


def test_charset_claims_are_settled_before_the_fast_path() -> None:
    body = rss("<title>Hội nghị</title>").replace(b'encoding="utf-8"', b'encoding="windows-1252"')
    for headers in ({"Content-Type": "text/xml; charset=ISO-8859-1"}, None):
        fast, slow = both(body, headers)
        assert fast == slow
        assert fast.entries[0].title == "Hội nghị"
        assert fast.warning is not None and "UTF-8" in fast.warning


def test_a_feed_without_rss_version_is_still_a_feed() -> None:
    body = b"<rss><channel><title>t</title><item><title>a</title></item></channel></rss>"
    fast, slow = both(body)
    assert fast == slow and len(fast.entries) == 1


def test_hostile_documents_are_refused_before_either_parser() -> None:
    xxe = (
        b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<rss version="2.0"><channel><title>t</title><item><title>&x;</title></item>'
        b"</channel></rss>"
    )
    with pytest.raises(Exception, match="declares XML entities"):
        parse_feed(xxe, url=URL)
    with pytest.raises(Unusual):  # and the fast reader alone never expands them either
        read_feed(xxe, BASE)


def test_rfc822_dates_come_out_as_feedparser_reads_them() -> None:
    from feedparser.datetimes import _parse_date

    from jobs.ingest.fastfeed_common import date as _date

    rnd = random.Random(5)
    days = "Mon Tue Wed Thu Fri Sat Sun".split()
    months = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
    zones = ["+0700", "-0330", "+0000", "GMT", "UT", "Z", "gmt", "+1400", "-1200", "UTC"]
    samples = [
        f"{rnd.choice([*days, ''])}{', ' if rnd.random() < 0.7 else ''}{rnd.randint(1, 31):02d} "
        f"{rnd.choice(months)} {rnd.randint(1900, 2100)} {rnd.randint(0, 24):02d}:"
        f"{rnd.randint(0, 60):02d}:{rnd.randint(0, 60):02d} {rnd.choice(zones)}".strip()
        for _ in range(3000)
    ]
    samples += ["", "không phải ngày", "2024-03-05T10:00:00+07:00", "31 Feb 2024 10:00:00 +0700"]
    for sample in samples:
        assert _date(sample) == _parse_date(sample), sample


def test_simple_html_is_split_as_html_parser_splits_it() -> None:
    from jobs.enrich.text import _simple_paragraphs, _TextExtractor

    rnd = random.Random(3)
    pieces = [
        "<p>",
        "</p>",
        "<br>",
        "<br/>",
        "<br />",
        "<td>",
        "</td>",
        "<td/>",
        "<b>",
        "</b>",
        "<DIV class='a'>",
        "</div >",
        '<a href="/x?a=1&amp;b=2">',
        "</a>",
        "<img src=x.png>",
        '<li data-x="a>b">',
        "Hội nghị ",
        "&amp;",
        "&nbsp;",
        "&#7879;",
        " \n ",
        "a > b",
        "&",
        "<script>",
        "</script>",
        "<!-- c -->",
        "< p>",
        "<o:p>",
        "x<",
        "&lt;b&gt;",
        "\u00ad",
    ]
    simple = 0
    for _ in range(4000):
        fragment = "".join(rnd.choice(pieces) for _ in range(rnd.randint(1, 12)))
        fast = _simple_paragraphs(fragment)
        if fast is None:
            continue
        simple += 1
        extractor = _TextExtractor()
        extractor.feed(fragment)
        assert fast == [p for p in extractor.finish() if p], fragment
    assert simple > 500  # the fast path was really exercised


def test_a_failure_inside_the_fast_reader_falls_back_to_feedparser(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(body: bytes, base: str) -> dict[str, object]:
        raise RuntimeError("a gap in the fast reader")

    expected = parse_feed(RSS2, url=BASE, fast=False)
    monkeypatch.setattr("jobs.ingest.parse.read_feed", broken)
    assert parse_feed(RSS2, url=BASE) == expected


# Pieces of ordinary feeds, combined at random by the test below.
RSS_BITS = [
    "<title>T &amp; U</title>",
    "<title>&lt;b&gt;x&lt;/b&gt;</title>",
    "<title>  </title>",
    "<title>Ã© \u0093q\u0094</title>",
    "<link>/a?x=1&amp;y=2</link>",
    "<link>https://a.vn/b#f</link>",
    "<link></link>",
    "<link>javascript:x</link>",
    "<guid>g1</guid>",
    "<guid isPermaLink='false'>g2</guid>",
    "<guid>https://a.vn/g3</guid>",
    "<guid isPermaLink='true'>/g4</guid>",
    "<description>&lt;p&gt;Mô tả &lt;img src='/i.jpg'&gt;&lt;/p&gt;</description>",
    "<description></description>",
    '<content:encoded><![CDATA[<p>C</p><img src="c.png">]]></content:encoded>',
    "<pubDate>Tue, 05 Mar 2024 08:30:00 +0700</pubDate>",
    "<pubDate>5 Mar 24 08:30 EST</pubDate>",
    "<dc:date>2024-03-05T10:00:00Z</dc:date>",
    "<category>A</category>",
    "<category>B &amp; C</category>",
    "<dc:creator>X</dc:creator>",
    "<author>y@a.vn (Y)</author>",
    "<enclosure url='/e.png' type='image/png'/>",
    "<enclosure url='/e.mp3'/>",
    "<media:content url='m.jpg' medium='image'/>",
    "<media:thumbnail url='/t.gif'/>",
    "<comments>/c</comments>",
    "<!-- c -->",
]
ATOM_BITS = [
    "<title>T</title>",
    "<title type='html'>&lt;i&gt;H&lt;/i&gt;</title>",
    "<title type='text'>a &lt; b</title>",
    "<id>tag:x,2024:1</id>",
    "<id>/rel/id</id>",
    "<id>https://a.vn/i</id>",
    "<link href='/l'/>",
    "<link rel='alternate' href='l2'/>",
    "<link rel='self' href='/s'/>",
    "<link rel='enclosure' href='/e.jpg' type='image/jpeg'/>",
    "<link rel='related' href='/r'/>",
    "<link rel='alternate' type='application/pdf' href='/p.pdf'/>",
    "<summary>S &lt;x&gt;</summary>",
    "<summary type='html'>&lt;p&gt;S&lt;/p&gt;</summary>",
    "<content>C</content>",
    "<content type='html'>&lt;p&gt;C&lt;img src=\"i.png\"&gt;&lt;/p&gt;</content>",
    "<published>2024-03-05T10:00:00+07:00</published>",
    "<updated>2024-03-06</updated>",
    "<author><name>N</name></author>",
    "<author><name>N</name><email>e@a.vn</email></author>",
    "<category term='t'/>",
    "<category term='t' label='L'/>",
    "<category scheme='s'/>",
    "<rights>R</rights>",
    "<media:thumbnail url='/t.jpg'/>",
]
FEED_BITS_RSS = [
    "<title>K</title>",
    "<link>/home</link>",
    "<ttl>30</ttl>",
    "<description>d</description>",
    "<image><url>/i</url><title>I</title><link>/il</link></image>",
    "<atom:link rel='self' href='/self'/>",
    "<language>vi</language>",
    "<lastBuildDate>x</lastBuildDate>",
]
FEED_BITS_ATOM = [
    "<title>K</title>",
    "<id>https://a.vn/f</id>",
    "<link href='/home'/>",
    "<link rel='self' href='/s'/>",
    "<updated>2024-01-01T00:00:00Z</updated>",
    "<subtitle>s</subtitle>",
    "<author><name>A</name></author>",
    "<generator uri='x'>g</generator>",
]


def test_random_ordinary_documents_read_alike_by_both_readers() -> None:
    """Random combinations of ordinary RSS and Atom pieces (repeats, orders, odd values): the
    fast reader either declines or agrees with feedparser, and it reads most of them."""
    rnd = random.Random(11)
    fast_used = 0
    for _ in range(400):
        is_atom = rnd.random() < 0.5
        bits, feed_bits = (ATOM_BITS, FEED_BITS_ATOM) if is_atom else (RSS_BITS, FEED_BITS_RSS)
        entries = ["".join(rnd.sample(bits, rnd.randint(0, 6))) for _ in range(rnd.randint(0, 3))]
        head = "".join(rnd.sample(feed_bits, rnd.randint(0, 4)))
        body = atom(*entries, feed=head) if is_atom else rss(*entries, channel=head)
        try:
            read_feed(body, BASE)
            fast_used += 1
        except Unusual:
            pass
        fast, slow = both(body)
        assert fast == slow, body.decode()
    assert fast_used > 200
