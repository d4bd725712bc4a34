"""Which photo a channel may send: a public URL anywhere, a file id only on its own platform;
anything else becomes a note in the text (pure, no I/O)."""

from __future__ import annotations

from jobs.channel import HTML, PLAIN, OutMessage, usable_photo, without_foreign_photo


def test_a_public_url_goes_anywhere() -> None:
    message = OutMessage("Tin", markup=PLAIN, photo_url="https://p.example/a.jpg")
    assert usable_photo(message, "zalo") == "https://p.example/a.jpg"
    assert without_foreign_photo(message, "zalo") is message


def test_a_file_id_stays_on_its_platform() -> None:
    message = OutMessage("Tin", photo_url="AgAC-file", photo_platform="telegram")
    assert usable_photo(message, "telegram") == "AgAC-file"
    assert without_foreign_photo(message, "telegram") is message
    assert usable_photo(message, "zalo") is None


def test_a_foreign_file_id_becomes_a_note() -> None:
    message = OutMessage(
        "<b>Tin</b>", markup=HTML, photo_url="AgAC-file", photo_platform="telegram"
    )
    out = without_foreign_photo(message, "zalo")
    assert out.photo_url is None and out.photo_platform is None
    assert out.text == "<b>Tin</b>\n\n(Ảnh đính kèm chỉ xem được trên Telegram)"
    english = without_foreign_photo(message, "zalo_oa", "en")
    assert english.text.endswith("(The attached photo can only be seen on Telegram)")
    caption_only = without_foreign_photo(
        OutMessage("", markup=PLAIN, photo_url="x", photo_platform="telegram"), "zalo"
    )
    assert caption_only.text == "(Ảnh đính kèm chỉ xem được trên Telegram)"
