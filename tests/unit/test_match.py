"""Keyword and scope matching (jobs/route/match.py): whole words, any case, with or without
marks."""

from __future__ import annotations

import pytest

from jobs.route.match import Candidate, clean_keyword, contains, fold, wants, words
from storage.records import Preferences


def item(title: str, summary: str = "", feed: int = 1, topics: tuple[int, ...] = ()) -> Candidate:
    return Candidate.of(feed, topics, title, summary)


def test_fold_removes_marks_and_d_stroke() -> None:
    assert fold("Đường Sắt ĐÔ THỊ") == "duong sat do thi"
    assert words("An ninh-trật tự, ANTT!") == ("an", "ninh", "trat", "tu", "antt")


@pytest.mark.parametrize(
    ("keyword", "title", "expected"),
    [
        ("an ninh", "Bảo đảm An Ninh trật tự", True),
        ("an ninh", "Bao dam an ninh trat tu", True),
        ("AN NINH", "bảo đảm an ninh", True),
        ("ANTT", "Hội nghị ANTT quý IV", True),
        ("đường", "Sửa chữa duong ĐT.188", True),
        ("an", "Anh hùng lao động", False),  # whole words only
        ("ninh an", "an ninh", False),  # order matters for a phrase
        ("an ninh", "an toàn ninh thuận", False),  # words must be adjacent
        ("(.*)", "anything", False),  # no regular expressions: punctuation is no word
    ],
)
def test_include_keyword(keyword: str, title: str, expected: bool) -> None:
    word = clean_keyword(keyword)
    prefs = Preferences(1, include=(word,) if word else ("zzz",))
    assert wants(prefs, item(title)) is expected


def test_keyword_in_summary_and_exclude_wins() -> None:
    prefs = Preferences(1, include=("giao thông",), exclude=("xổ số",))
    assert wants(prefs, item("Tin ngày", "Tình hình giao thông dịp lễ"))
    assert not wants(prefs, item("Giao thông và xo so", ""))
    assert not wants(Preferences(1, exclude=("quang cao",)), item("Quảng cáo"))


def test_scope_is_any_mix_of_topics_and_sources() -> None:
    mix = Preferences(1, all_news=False, topics=frozenset({5}), feeds=frozenset({2}))
    assert wants(mix, item("x", feed=2))
    assert wants(mix, item("x", feed=9, topics=(5, 6)))
    assert not wants(mix, item("x", feed=9, topics=(6,)))
    assert wants(Preferences(1), item("x", feed=9))


def test_contains_and_clean() -> None:
    assert contains(("a", "b", "c"), ("b", "c")) and not contains(("a",), ())
    assert clean_keyword("  an   ninh ") == "an ninh"
    assert clean_keyword("!!!") is None
