"""The gettext catalogs: every message in every language, same placeholders, plurals right.

A message missing from one catalog fails here, before a user ever meets a KeyError.
"""

from __future__ import annotations

import string

import pytest

from jobs.i18n import LANGUAGES, keys, language_of, messages, t, tn


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


ALL_KEYS = sorted(keys("vi") | keys("en"))


def test_catalogs_hold_the_same_messages() -> None:
    assert keys("vi") == keys("en")
    assert len(ALL_KEYS) > 200


@pytest.mark.parametrize("key", ALL_KEYS)
def test_every_language_has_it_with_the_same_placeholders(key: str) -> None:
    texts: dict[str, list[str]] = {}
    for lang in LANGUAGES:
        found = messages(lang)
        if key in found.singular:
            texts[lang] = [found.singular[key]]
        else:
            texts[lang] = list(found.plural[key])
        assert all(s.strip() for s in texts[lang]), f"{key} is empty in {lang}"
    placeholders = {frozenset(_fields(s)) - {"n", "count"} for ts in texts.values() for s in ts}
    assert len(placeholders) == 1, f"{key}: placeholders differ {placeholders}"


def test_plural_forms_follow_each_language() -> None:
    assert len(messages("vi").plural["latest_header"]) == 1  # Vietnamese: one form
    assert len(messages("en").plural["latest_header"]) == 2
    assert tn("latest_header", 1, "en", count=1) == "The latest article:"
    assert tn("latest_header", 3, "en", count=3) == "The 3 latest articles:"
    assert tn("latest_header", 3, "vi", count=3) == "3 tin mới nhất:"


def test_lookup_and_fallback() -> None:
    assert t("cancelled") == "Đã hủy."
    assert t("cancelled", "en") == "Cancelled."
    assert t("cancelled", "fr") == "Đã hủy."
    assert "#12" in t("feedback_thanks", "vi", ticket=12)
    assert language_of("en-US") == "en" and language_of(None) == "vi" and language_of("ja") == "vi"
