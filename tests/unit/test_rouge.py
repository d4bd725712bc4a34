"""ROUGE on whole Vietnamese syllables, checked against figures worked out by hand."""

from __future__ import annotations

import unicodedata

import pytest

from bench.rouge import lcs_length, rouge_l, rouge_n, score, tokenize


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hội nghị sơ kết ANTQ.", ["hội", "nghị", "sơ", "kết", "antq"]),
        ("Đà Nẵng, 3,5%", ["đà", "nẵng", "3", "5"]),
        (unicodedata.normalize("NFD", "Hội nghị"), ["hội", "nghị"]),  # NFD kept whole
        ("", []),
        ("… – “ ”", []),
    ],
)
def test_tokenize_keeps_whole_syllables(text: str, expected: list[str]) -> None:
    assert tokenize(text) == expected


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("a b c d", "a c d", 3),
        ("a b c", "c b a", 1),
        ("a b c", "", 0),
        ("x y", "a b", 0),
        ("a b a b", "b a b a", 3),
    ],
)
def test_lcs_length(a: str, b: str, expected: int) -> None:
    assert lcs_length(a.split(), b.split()) == expected
    assert lcs_length(b.split(), a.split()) == expected


@pytest.mark.parametrize(
    ("candidate", "reference", "n", "expected"),
    [
        # 3 of 4 candidate unigrams match 3 of 5 reference ones: P 3/4, R 3/5, F1 2/3.
        ("hội nghị sơ kết", "hội nghị tổng kết năm", 1, 2 * 0.75 * 0.6 / 1.35),
        # bigrams: "hội nghị" only; P 1/3, R 1/4.
        ("hội nghị sơ kết", "hội nghị tổng kết năm", 2, 2 * (1 / 3) * (1 / 4) / (1 / 3 + 1 / 4)),
        # clipped counts: "an an an" vs "an" matches once.
        ("an an an", "an", 1, 2 * (1 / 3) * 1 / (1 / 3 + 1)),
        ("", "hội nghị", 1, 0.0),
        ("hội nghị", "", 1, 0.0),
        ("hội", "hội", 2, 0.0),  # no bigram on either side
    ],
)
def test_rouge_n(candidate: str, reference: str, n: int, expected: float) -> None:
    assert rouge_n(candidate.split(), reference.split(), n) == pytest.approx(expected)


def test_rouge_l_rewards_order() -> None:
    reference = "huyện tổ chức hội nghị sơ kết".split()
    in_order = "huyện tổ chức hội nghị".split()
    shuffled = "hội nghị huyện tổ chức".split()
    assert rouge_l(in_order, reference) > rouge_l(shuffled, reference)
    assert rouge_l(reference, reference) == pytest.approx(1.0)


def test_score_identical_and_disjoint() -> None:
    same = score("Hội nghị sơ kết ANTQ.", "hội nghị sơ kết antq")
    assert (same.rouge1, same.rouge2, same.rougeL) == pytest.approx((1.0, 1.0, 1.0))
    none = score("Tiêm chủng mở rộng", "Hội nghị sơ kết")
    assert (none.rouge1, none.rouge2, none.rougeL) == (0.0, 0.0, 0.0)


def test_score_ignores_accent_free_lookalikes() -> None:
    # "hội" and "hoi" are different syllables: the rouge_score default would call them equal.
    assert score("hội nghị", "hoi nghi").rouge1 == 0.0
