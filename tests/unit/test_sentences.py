"""Sentence splitting on the cases Vietnamese portal text actually throws at us."""

from __future__ import annotations

import pytest

from jobs.enrich.sentences import cut_at_end_mark, split_paragraphs, split_sentences


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "Ông Nguyễn Văn A, Th.S kinh tế, phát biểu. Sau đó đoàn về TP.HCM.",
            ["Ông Nguyễn Văn A, Th.S kinh tế, phát biểu.", "Sau đó đoàn về TP.HCM."],
            id="glued-abbreviations",
        ),
        pytest.param(
            "PGS.TS Lê Văn B chủ trì. TS. Trần Văn C báo cáo. Q.1 có 10 phường.",
            ["PGS.TS Lê Văn B chủ trì.", "TS. Trần Văn C báo cáo.", "Q.1 có 10 phường."],
            id="titles-before-names",
        ),
        pytest.param(
            "Ths. Nông Văn Hưng cho biết. TP. Tuyên Quang có 10 phường.",
            ["Ths. Nông Văn Hưng cho biết.", "TP. Tuyên Quang có 10 phường."],
            id="abbreviation-then-space",
        ),
        pytest.param(
            "Anh Nguyễn V. An đến dự. UBND huyện họp.",
            ["Anh Nguyễn V. An đến dự.", "UBND huyện họp."],
            id="initial",
        ),
        pytest.param(
            "Góp phần bảo vệ ANTQ. Hội nghị đánh giá ANTT ổn định.",
            ["Góp phần bảo vệ ANTQ.", "Hội nghị đánh giá ANTT ổn định."],
            id="acronym-ends-sentence",
        ),
        pytest.param(
            "Xem tại vnexpress.net hoặc chiemhoa.tuyenquang.gov.vn. Hết.",
            ["Xem tại vnexpress.net hoặc chiemhoa.tuyenquang.gov.vn.", "Hết."],
            id="domains",
        ),
        pytest.param(
            "Chi 1.000.000 đồng, tăng 3,5% so với năm 2025. Lãi suất 6.8 điểm.",
            ["Chi 1.000.000 đồng, tăng 3,5% so với năm 2025.", "Lãi suất 6.8 điểm."],
            id="decimals",
        ),
        pytest.param(
            "Bà nói: “Rất tốt.” Sau đó bà về.",
            ["Bà nói: “Rất tốt.”", "Sau đó bà về."],
            id="closing-quote-after-period",
        ),
        pytest.param(
            "Các Bộ, ngành Trung ương… đánh giá cao. Họ chờ… Rồi đi... Xong.",
            ["Các Bộ, ngành Trung ương… đánh giá cao.", "Họ chờ…", "Rồi đi...", "Xong."],
            id="ellipsis",
        ),
        pytest.param(
            "Có thật không? Có! Được rồi.",
            ["Có thật không?", "Có!", "Được rồi."],
            id="question-exclamation",
        ),
        pytest.param(
            "Giữ vững phong trào bảo vệ ANTQ./.\nGửi phản hồi",
            ["Giữ vững phong trào bảo vệ ANTQ."],
            id="end-mark-ends-article",
        ),
        pytest.param(
            "Dòng một không có dấu chấm\nDòng hai.   Câu   ba.",
            ["Dòng một không có dấu chấm", "Dòng hai.", "Câu ba."],
            id="lines-and-spaces",
        ),
        pytest.param(
            "1. Mục tiêu chung\nII. Nhiệm vụ",
            ["1. Mục tiêu chung", "II. Nhiệm vụ"],
            id="list-numbers",
        ),
        pytest.param("", [], id="empty"),
        pytest.param(" \n\n ", [], id="blank"),
    ],
)
def test_split_sentences(text: str, expected: list[str]) -> None:
    assert split_sentences(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hết bài./.", "Hết bài."),
        ("Hết bài. /.\nIn bài", "Hết bài."),
        ("Không có dấu kết thúc.", "Không có dấu kết thúc."),
        ("Xem https://example.vn/./trang thêm.", "Xem https://example.vn/./trang thêm."),
    ],
)
def test_cut_at_end_mark(text: str, expected: str) -> None:
    assert cut_at_end_mark(text) == expected


def test_split_paragraphs_drops_blank_lines_and_chrome_after_end_mark() -> None:
    text = "Đoạn một.\n\n  Đoạn   hai./.\nGửi phản hồi\nChia sẻ"
    assert split_paragraphs(text) == ["Đoạn một.", "Đoạn hai."]
