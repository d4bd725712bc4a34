"""ROUGE-1/2/L F1 on whole Vietnamese syllables.

Why our own and not the ``rouge_score`` package: its default tokenizer keeps only ``[a-z0-9]``,
so every accented Vietnamese letter becomes a split point and "Hội nghị" scores like "H i ngh".
Here a token is a lowercased ``\\w+`` run after NFC normalization, i.e. one whole syllable with
its diacritics ("hội", "nghị"). NFC first because a decomposed "ộ" (o + two combining marks) is
not ``\\w`` and would cut the syllable in three.

ROUGE-L is the plain (not summary-level) LCS over the whole summary and the whole reference, so a
long summary pays in precision: that is deliberate, it is what a reader of a push message feels.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

_TOKEN = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class Scores:
    """F1 scores in [0, 1] for one summary against one reference."""

    rouge1: float
    rouge2: float
    rougeL: float  # the metric's usual spelling


def tokenize(text: str) -> list[str]:
    """Lowercased whole syllables (NFC, ``\\w+``)."""
    return _TOKEN.findall(unicodedata.normalize("NFC", text).lower())


def _f1(overlap: int, candidate_len: int, reference_len: int) -> float:
    if overlap == 0 or candidate_len == 0 or reference_len == 0:
        return 0.0
    precision = overlap / candidate_len
    recall = overlap / reference_len
    return 2 * precision * recall / (precision + recall)


def _ngrams(tokens: Sequence[str], n: int) -> Counter[tuple[str, ...]]:
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def rouge_n(candidate: Sequence[str], reference: Sequence[str], n: int) -> float:
    """ROUGE-N F1 with clipped n-gram counts."""
    cand = _ngrams(candidate, n)
    ref = _ngrams(reference, n)
    overlap = sum((cand & ref).values())
    return _f1(overlap, sum(cand.values()), sum(ref.values()))


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence (one row of DP, O(len(a) * len(b)))."""
    if not a or not b:
        return 0
    if len(b) > len(a):
        a, b = b, a
    previous = [0] * (len(b) + 1)
    for token in a:
        current = [0]
        for j, other in enumerate(b, start=1):
            if token == other:
                current.append(previous[j - 1] + 1)
            else:
                current.append(max(previous[j], current[j - 1]))
        previous = current
    return previous[-1]


def rouge_l(candidate: Sequence[str], reference: Sequence[str]) -> float:
    """ROUGE-L F1 from the LCS of the two whole token sequences."""
    return _f1(lcs_length(candidate, reference), len(candidate), len(reference))


def score(candidate: str, reference: str) -> Scores:
    """ROUGE-1/2/L F1 of ``candidate`` against ``reference``, both raw text."""
    cand = tokenize(candidate)
    ref = tokenize(reference)
    return Scores(rouge_n(cand, ref, 1), rouge_n(cand, ref, 2), rouge_l(cand, ref))
