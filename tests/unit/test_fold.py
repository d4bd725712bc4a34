"""jobs.route.match.fold, made fast (issue #17), folds exactly as the plain definition does."""

from __future__ import annotations

import random
import unicodedata

from jobs.route.match import fold


def reference(text: str) -> str:
    """The definition: lower case, "đ" to "d", every combining mark dropped after NFD."""
    lowered = unicodedata.normalize("NFC", text).lower().replace("đ", "d")
    decomposed = unicodedata.normalize("NFD", lowered)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def test_fold_agrees_with_the_definition_on_vietnamese_and_other_scripts() -> None:
    rnd = random.Random(17)
    samples = [
        "Đường Sắt ĐƯỜNG SẮT đường sắt",
        "Ủy ban nhân dân huyện Chiêm Hóa; Mặt trận Tổ quốc",
        "a\u034fb",  # COMBINING GRAPHEME JOINER: in the marks' block, but class 0 (kept)
        "Ệ\u0483 İstanbul ﬁ Ǆ",  # a Cyrillic mark outside the Latin block; special casings
        "",
        "plain ascii",
    ]
    samples += ["".join(chr(rnd.randrange(0x20, 0x2000)) for _ in range(80)) for _ in range(500)]
    samples += ["".join(chr(rnd.randrange(0x20, 0x30000)) for _ in range(80)) for _ in range(500)]
    for text in samples:
        assert fold(text) == reference(text), text
