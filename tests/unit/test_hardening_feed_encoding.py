"""Entity declarations are refused in whatever charset the feed is written.

The refusal used to look at the raw bytes only (with nulls dropped for UTF-16), so a feed in
UTF-7 ("+ADw-!ENTITY" decodes to "<!ENTITY"), EBCDIC (cp037) or UTF-16/32 without a null in its
first bytes reached feedparser with its DTD intact.
"""

from __future__ import annotations

import codecs

import pytest

from jobs.ingest.parse import FeedParseError, parse_feed

URL = "https://cong.tuyenquang.gov.vn/rss"
REFUSED = "declares XML entities"


def _feed(encoding_name: str, dtd: bool = True) -> str:
    doctype = '<!DOCTYPE rss [<!ENTITY a "' + "A" * 200 + '">]>\n' if dtd else ""
    title = "&a;&a;&a;" if dtd else "Tin mới"
    return (
        f'<?xml version="1.0" encoding="{encoding_name}"?>\n{doctype}'
        '<rss version="2.0"><channel><title>Cổng</title>'
        f"<item><title>{title}</title><link>https://a.vn/1</link></item>"
        "</channel></rss>"
    )


def _utf7_hostile() -> bytes:
    """UTF-7 with every "<" after the declaration in the shifted form "+ADw-": the bytes
    never spell "<!ENTITY"."""
    declaration, _, rest = _feed("utf-7").encode("utf-7").partition(b"\n")
    body = declaration + b"\n" + rest.replace(b"<", b"+ADw-")
    assert body.startswith(b'<?xml version="1.0" encoding="utf-7"?>')
    assert b"<!ENTITY" not in body and b"ENTITY" in body
    return body


def _cases() -> dict[str, tuple[bytes, dict[str, str]]]:
    return {
        "utf-7": (_utf7_hostile(), {}),
        "utf-7 http charset": (
            _feed("utf-7").encode("utf-7").replace(b"<", b"+ADw-"),
            {"Content-Type": "application/rss+xml; charset=utf-7"},
        ),
        "utf-16-le bom": (codecs.BOM_UTF16_LE + _feed("utf-16").encode("utf-16-le"), {}),
        "utf-16-be bom": (codecs.BOM_UTF16_BE + _feed("utf-16").encode("utf-16-be"), {}),
        "utf-32": (_feed("utf-32").encode("utf-32"), {}),
        "utf-32-be bom": (codecs.BOM_UTF32_BE + _feed("utf-32").encode("utf-32-be"), {}),
        "cp037": (_feed("cp037").encode("cp037", "xmlcharrefreplace"), {}),
        # UTF-16 by HTTP charset only, starting with two CJK characters: no null in the
        # first four bytes, so the null-dropping byte check never looked.
        "utf-16 no nulls up front": (
            ("\u4e4e\u4e4e" + _feed("utf-16")).encode("utf-16-le"),
            {"Content-Type": "application/xml; charset=utf-16-le"},
        ),
    }


@pytest.mark.parametrize("name", list(_cases()))
def test_entity_declarations_are_refused_in_any_encoding(name: str) -> None:
    body, headers = _cases()[name]
    with pytest.raises(FeedParseError, match=REFUSED):
        parse_feed(body, url=URL, headers=headers)


@pytest.mark.parametrize("name", list(_cases()))
def test_the_slow_reader_is_guarded_too(name: str) -> None:
    body, headers = _cases()[name]
    with pytest.raises(FeedParseError, match=REFUSED):
        parse_feed(body, url=URL, headers=headers, fast=False)


@pytest.mark.parametrize("bom", [codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE])
def test_ordinary_utf16_feeds_still_parse(bom: bytes) -> None:
    codec = "utf-16-le" if bom == codecs.BOM_UTF16_LE else "utf-16-be"
    body = bom + _feed("utf-16", dtd=False).encode(codec)
    feed = parse_feed(body, url=URL)
    assert feed.title == "Cổng"
    assert [e.title for e in feed.entries] == ["Tin mới"]


def test_ordinary_utf7_and_cp037_feeds_still_parse() -> None:
    for name in ("utf-7", "cp037"):
        body = _feed(name, dtd=False).encode(name, "xmlcharrefreplace")
        feed = parse_feed(body, url=URL)
        assert [e.title for e in feed.entries] == ["Tin mới"], name


def test_netscape_doctype_without_entities_still_parses() -> None:
    body = (
        '<?xml version="1.0" encoding="utf-16"?>\n'
        '<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" '
        '"http://my.netscape.com/publish/formats/rss-0.91.dtd">\n'
        '<rss version="0.91"><channel><title>Cổng</title>'
        "<item><title>Tin mới</title><link>https://a.vn/1</link></item></channel></rss>"
    ).encode("utf-16")
    assert [e.title for e in parse_feed(body, url=URL).entries] == ["Tin mới"]
