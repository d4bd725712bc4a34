"""User-facing text, Vietnamese first and English second, from gettext catalogs.

Every string a citizen or staff member reads lives in jobs/locales/<lang>/LC_MESSAGES/bantin.po
(read with Babel; msgids are stable keys, msgstrs the text) and is fetched through `t()` or,
for counts, `tn()`; logic never holds inline user text. Placeholders use str.format names,
identical in every language (a unit test checks that, and that no catalog lacks a message).
Keys ending in `_html` carry Telegram HTML. Catalogs load on first use, not at import.
"""

from __future__ import annotations

import functools
import gettext
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

from babel.messages.pofile import read_po

DEFAULT_LANGUAGE = "vi"
LANGUAGES = ("vi", "en")
DOMAIN = "bantin"


@dataclass(frozen=True)
class Messages:
    """One language's catalog: key → text, or key → plural forms."""

    singular: dict[str, str]
    plural: dict[str, tuple[str, ...]]
    plural_index: Callable[[int], int]


@functools.cache
def messages(lang: str) -> Messages:
    path = resources.files("jobs").joinpath(f"locales/{lang}/LC_MESSAGES/{DOMAIN}.po")
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=lang, domain=DOMAIN)
    singular: dict[str, str] = {}
    plural: dict[str, tuple[str, ...]] = {}
    for message in catalog:
        if not message.id:
            continue  # the header
        if isinstance(message.id, (tuple, list)):
            forms = message.string if isinstance(message.string, (tuple, list)) else ()
            plural[str(message.id[0])] = tuple(str(s) for s in forms)
        else:
            singular[str(message.id)] = str(message.string or "")
    return Messages(singular, plural, gettext.c2py(catalog.plural_expr))


def keys(lang: str = DEFAULT_LANGUAGE) -> set[str]:
    found = messages(lang)
    return set(found.singular) | set(found.plural)


def t(key: str, lang: str | None = None, /, **params: Any) -> str:
    """The message `key` in `lang` (falling back to Vietnamese), formatted with params."""
    found = messages(lang if lang in LANGUAGES else DEFAULT_LANGUAGE)
    text = found.singular.get(key)
    if text is None:
        text = messages(DEFAULT_LANGUAGE).singular[key]
    return text.format(**params) if params else text


def tn(key: str, n: int, lang: str | None = None, /, **params: Any) -> str:
    """A counted message: the plural form the language's rule picks for `n` (Vietnamese has
    one form, English two); `{n}` is available to the text besides `params`."""
    found = messages(lang if lang in LANGUAGES else DEFAULT_LANGUAGE)
    forms = found.plural.get(key)
    if forms is None:
        found = messages(DEFAULT_LANGUAGE)
        forms = found.plural[key]
    text = forms[min(found.plural_index(n), len(forms) - 1)]
    return text.format(n=n, **params)


def language_of(code: str | None) -> str:
    """Map a platform language code ('en-US', 'vi') to a supported language."""
    if code and code.split("-")[0].lower() in LANGUAGES:
        return code.split("-")[0].lower()
    return DEFAULT_LANGUAGE
