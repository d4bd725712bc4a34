"""The catalog: every message in both languages with the same placeholders."""

from __future__ import annotations

import string

import pytest

from bot.i18n import CATALOG, LANGUAGES, language_of, t


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("key", sorted(CATALOG))
def test_every_language_present_with_same_placeholders(key: str) -> None:
    entry = CATALOG[key]
    assert set(entry) == set(LANGUAGES), f"{key} lacks a language"
    assert all(entry[lang].strip() for lang in LANGUAGES)
    assert _fields(entry["vi"]) == _fields(entry["en"])


def test_lookup_and_fallback() -> None:
    assert t("cancelled") == "Đã hủy."
    assert t("cancelled", "en") == "Cancelled."
    assert t("cancelled", "fr") == "Đã hủy."
    assert "#12" in t("feedback_thanks", "vi", ticket=12)
    assert language_of("en-US") == "en" and language_of(None) == "vi" and language_of("ja") == "vi"
