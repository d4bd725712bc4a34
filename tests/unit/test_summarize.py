"""The summarizer on the seed article and on the edge cases feeds produce."""

from __future__ import annotations

import unicodedata

import pytest

from jobs.enrich.summarize import is_caption, is_chrome, is_real_sapo, summarize, truncate

# The seed article (shared/seeds), as the Chiêm Hóa portal serves it: captions interleaved as
# one-line paragraphs, the "./." end mark, then the "Gửi phản hồi" link.
SEED_TITLE = "Hội nghị trực tuyến sơ kết Ngày hội toàn dân bảo vệ ANTQ"
SEED_BODY = (
    "Dự Hội nghị tại điểm cầu Chiêm Hóa có các đồng chí lãnh đạo Công an huyện, Ban Chỉ huy "
    "Quân sự huyện, các cơ quan phòng, ban chuyên môn huyện.\n"
    "Các đại biểu dự hội nghị trực tuyến tại điểm cầu Chiêm Hóa.\n"
    "Theo báo cáo, các hoạt động tổ chức “Ngày hội toàn dân bảo vệ ANTQ” năm 2022 được các "
    "địa phương tổ chức với nhiều hoạt động phong phú, đa dạng. Phần hội được tổ chức sôi nổi"
    " với các hoạt động văn hóa, văn nghệ, thể dục, thể thao phù hợp với tình hình, điều "
    "kiện, hoàn cảnh của địa phương, tạo sức lan tỏa, thu hút sự tham gia của đông đảo nhân "
    "dân, góp phần tích cực thực hiện nhiệm vụ đảm bảo ANTT ở cơ sở…\n"
    "Thực hiện Chương trình nâng cao chất lượng, hiệu quả thực hiện tiêu chí ANTT trong xây "
    "dựng NTM giai đoạn 2021-2025 cần tổ chức, triển khai đúng quan điểm, thực hiện có hiệu "
    "quả các nhiệm vụ và giải pháp, hoàn thành các Chương trình đề ra bảo đảm giữ vững ANTT, "
    "an toàn xã hội ở địa bàn nông thôn; trình bày Kế hoạch xây dựng thí điểm “Công an phường"
    " điển hình, kiểu mẫu về ANTT và văn minh đô thị” trên phạm vi toàn quốc, nhằm đẩy mạnh "
    "công tác tuyên truyền, tạo sự chuyển biến về nhận thức và hành động của cán bộ, chiến sĩ"
    " Công an, xây dựng hình ảnh đẹp của người cán bộ, chiến sĩ Công an, tạo môi trường văn "
    "minh, an toàn cho nhân dân; sự đồng tình, ủng hộ của cấp ủy, chính quyền các cấp, các cơ"
    " quan, ban, ngành, tổ chức chính trị - xã hội và nhân dân trong xây dựng công an phường "
    "điển hình, kiểu mẫu về ANTT và văn minh đô thị.\n"
    "Toàn cảnh hội nghị tại điểm cầu Chiêm Hóa.\n"
    "Phát biểu tại Hội nghị, Trung tướng Lê Quốc Hùng, Thứ trưởng Bộ Công an nhấn mạnh: Ngày "
    "hội toàn dân bảo vệ ANTQ năm 2022 đã tạo nên khí thế thi đua sôi nổi, thực sự là Ngày "
    "hội của nhân dân, góp phần đưa phong trào toàn dân bảo vệ ANTQ phát triển lên tầm cao "
    "mới, tạo chuyển biến thêm về nhận thức của cấp ủy, chính quyền các cấp đối với công tác "
    "bảo đảm ANTT, đa dạng hóa các hình thức tập hợp, động viên cán bộ, đảng viên và nhân dân"
    " tham gia có hiệu quả phong trào toàn dân bảo vệ ANTQ và công tác bảo đảm ANTT tại địa "
    "bàn cơ sở, góp phần phát triển kinh tế - xã hội tại địa phương. Ngày hội năm nay được "
    "các đồng chí Ủy viên Bộ Chính trị, Ủy viên Trung ương Đảng thuộc các Ban, Bộ, ngành "
    "Trung ương… đánh giá cao, tạo tiền đề quan trọng để tiếp tục tham mưu tổ chức Ngày hội "
    "trong năm 2023 và những năm tiếp theo. Đồng chí Thứ trưởng Lê Quốc Hùng yêu cầu: Đảng ủy"
    " Công an các tỉnh, thành phố trực thuộc Trung ương cần bám sát những bài học kinh nghiệm"
    " để tiếp tục tham mưu, tổ chức thực hiện phong trào toàn dân bảo vệ ANTQ đạt được thực "
    "chất, hiệu quả, đồng thời huy động cả hệ thống chính trị cùng vào cuộc xây dựng phong "
    "trào Toàn dân bảo vệ ANTQ./.\n"
    "Gửi phản hồi"
)
SEED_SAPO = (
    "Sáng 1/11, Bộ Công an tổ chức hội nghị trực tuyến sơ kết Ngày hội toàn dân bảo vệ an ninh "
    "Tổ quốc năm 2022 với điểm cầu các tỉnh, thành phố, trong đó có điểm cầu huyện Chiêm Hóa."
)


def test_seed_summary_skips_captions_and_chrome() -> None:
    summary = summarize(SEED_TITLE, SEED_BODY)
    assert summary
    assert len(summary) <= 400
    assert "Toàn cảnh hội nghị" not in summary
    assert "Các đại biểu dự hội nghị trực tuyến" not in summary
    assert "Gửi phản hồi" not in summary
    assert "./." not in summary
    assert "Ngày hội toàn dân bảo vệ ANTQ" in summary  # guided by the title
    assert summary.endswith(".")


@pytest.mark.parametrize("max_chars", [60, 120, 200, 400, 1000])
def test_seed_summary_respects_max_chars(max_chars: int) -> None:
    summary = summarize(SEED_TITLE, SEED_BODY, max_chars=max_chars)
    assert 0 < len(summary) <= max_chars
    assert "Gửi phản hồi" not in summary


@pytest.mark.parametrize(
    ("line", "caption"),
    [
        ("Toàn cảnh hội nghị tại điểm cầu Chiêm Hóa.", True),
        ("Các đại biểu dự hội nghị trực tuyến tại điểm cầu Chiêm Hóa.", True),
        ("Đồng chí Chủ tịch UBND huyện phát biểu tại hội nghị.", True),
        ("Lãnh đạo huyện trao quà cho các gia đình chính sách.", True),
        ("Nông dân xã Hòa Phú chuẩn bị đất gieo mạ vụ Xuân", True),  # no final stop
        ("Ảnh hưởng của bão số 3 làm 5 ngôi nhà bị tốc mái.", False),
        ("Đại biểu Quốc hội đề nghị làm rõ trách nhiệm của chủ đầu tư.", False),
        (
            "Dự Hội nghị tại điểm cầu Chiêm Hóa có các đồng chí lãnh đạo Công an huyện, Ban Chỉ "
            "huy Quân sự huyện, các cơ quan phòng, ban chuyên môn huyện.",
            False,
        ),
    ],
)
def test_is_caption(line: str, caption: bool) -> None:
    assert is_caption(line) is caption


@pytest.mark.parametrize(
    ("line", "chrome"),
    [
        ("Gửi phản hồi", True),
        ("In bài", True),
        ("Chia sẻ", True),
        ("./.", True),
        ("Ảnh: Thu Hà", True),
        ("(Theo Báo Tuyên Quang)", True),
        ("Tác giả: Minh Anh", True),
        ("Lượt xem: 1.024", True),
        ("Theo báo cáo, năm nay huyện trồng 1.250 ha lúa lai, tăng 10% so với năm trước.", False),
        ("Người dân gửi phản hồi qua cổng thông tin của huyện.", False),
    ],
)
def test_is_chrome(line: str, chrome: bool) -> None:
    assert is_chrome(line) is chrome


def test_chrome_lines_never_reach_the_summary() -> None:
    body = "Chia sẻ\nIn bài\nẢnh: Thu Hà\nGửi phản hồi"
    assert summarize("Tin mẫu về lịch tiếp công dân", body) == "Tin mẫu về lịch tiếp công dân"


@pytest.mark.parametrize(
    ("sapo", "real"),
    [
        pytest.param(SEED_SAPO, True, id="editor-sapo"),
        pytest.param(None, False, id="none"),
        pytest.param("", False, id="empty"),
        pytest.param(SEED_TITLE, False, id="teaser-equals-title"),
        pytest.param(SEED_TITLE.upper() + ".", False, id="teaser-title-other-case"),
        pytest.param("Xem chi tiết", False, id="too-short"),
        pytest.param(SEED_SAPO[:120] + "...", False, id="truncated-dots"),
        pytest.param(SEED_SAPO[:120] + " […]", False, id="truncated-bracket"),
        pytest.param(SEED_BODY[:150], False, id="body-prefix-cut-mid-sentence"),
        pytest.param(SEED_BODY, False, id="whole-article-as-description"),
        pytest.param(" ".join([SEED_SAPO] * 4), False, id="too-long-for-a-lead"),
    ],
)
def test_is_real_sapo(sapo: str | None, real: bool) -> None:
    assert is_real_sapo(sapo, SEED_BODY, SEED_TITLE) is real


def test_real_sapo_is_preferred() -> None:
    assert summarize(SEED_TITLE, SEED_BODY, sapo=SEED_SAPO) == SEED_SAPO


def test_teaser_sapo_is_rejected_for_extraction() -> None:
    summary = summarize(SEED_TITLE, SEED_BODY, sapo=SEED_TITLE)
    assert summary != SEED_TITLE
    assert summary == summarize(SEED_TITLE, SEED_BODY)


def test_long_sapo_is_cut_on_a_sentence() -> None:
    sapo = SEED_SAPO + " " + SEED_SAPO
    assert summarize(SEED_TITLE, SEED_BODY, sapo=sapo, max_chars=250) == SEED_SAPO


def test_length_limit_on_a_10000_character_body() -> None:
    sentence = (
        "Huyện Chiêm Hóa triển khai tiêm chủng mở rộng cho trẻ em dưới năm tuổi tại các trạm y tế"
        " xã, thị trấn trong tháng mười hai"
    )
    body = "\n".join([sentence + "."] * 90)
    giant = ", ".join([sentence] * 90) + "."  # one 10,000-character sentence
    assert len(body) >= 10_000 and len(giant) >= 10_000
    title = "Lịch tiêm chủng mở rộng tháng 12"
    for text in (body, giant, body + "\n" + giant):
        summary = summarize(title, text)
        assert 0 < len(summary) <= 400
    cut = summarize(title, giant)
    assert cut.endswith("…")
    assert not cut[:-1].endswith((" ", ","))
    assert giant.startswith(cut[:-1])  # cut on a word boundary


def test_nfd_input_gives_nfc_output() -> None:
    title = unicodedata.normalize("NFD", SEED_TITLE)
    body = unicodedata.normalize("NFD", SEED_BODY)
    summary = summarize(title, body)
    assert summary == unicodedata.normalize("NFC", summary)
    assert summary == summarize(SEED_TITLE, SEED_BODY)
    sapo = unicodedata.normalize("NFD", SEED_SAPO)
    assert summarize(title, body, sapo=sapo) == SEED_SAPO


@pytest.mark.parametrize("body", ["", "   \n\n  ", "./.", "Gửi phản hồi"])
def test_empty_body_falls_back_to_title(body: str) -> None:
    assert summarize(" Thông báo lịch tiếp công dân ", body) == "Thông báo lịch tiếp công dân"


def test_no_title_and_no_article_text_falls_back_to_body_words() -> None:
    assert summarize("", "Gửi phản hồi") == "Gửi phản hồi"
    assert summarize("", "") == ""


def test_long_title_fallback_is_cut() -> None:
    title = "Thông báo " * 60
    summary = summarize(title, "", max_chars=50)
    assert len(summary) <= 50 and summary.endswith("…")


def test_short_best_sentence_gets_a_second_one_in_article_order() -> None:
    body = (
        "Huyện tổ chức nhiều hoạt động văn hóa, thể thao sôi nổi cho nhân dân các xã.\n"
        "Hội nghị tiêm chủng mở rộng khai mạc sáng nay."
    )
    summary = summarize("Hội nghị tiêm chủng mở rộng", body)
    assert summary == body.replace("\n", " ")


@pytest.mark.parametrize(
    ("text", "max_chars", "expected"),
    [
        ("Câu một. Câu hai.", 100, "Câu một. Câu hai."),
        ("Câu một. Câu hai dài hơn.", 12, "Câu một."),
        ("Một câu rất dài không có chỗ ngắt", 15, "Một câu rất…"),
        ("Mộtcâukhôngcókhoảngtrắng", 10, "Mộtcâukhô…"),
        ("Câu một, hai, ba", 10, "Câu một…"),
    ],
)
def test_truncate(text: str, max_chars: int, expected: str) -> None:
    result = truncate(text, max_chars)
    assert result == expected
    assert len(result) <= max_chars
