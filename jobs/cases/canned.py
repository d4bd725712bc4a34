"""Canned answers: a unit's ready texts with placeholders, filled in for one case.

Pure and forgiving: staff write these templates in a chat, so a typo such as {ma_phan_an} or a
lone brace must never stop an answer going out. A known placeholder is replaced, an unknown one
is left exactly as written (visible to the staff member who reviews the answer before sending),
and nothing here raises.

Placeholders (Vietnamese names, what staff type; English aliases for the English-speaking):
{ma_phan_anh} / {code}   the case's public code (PA00042)
{ten} / {name}           the citizen's display name ("bạn" / "you" when unknown)
{han} / {due}            the due time, dd/mm/yyyy HH:MM in Vietnam time
{linh_vuc} / {category}  the case's category
{don_vi} / {unit}        the responsible unit
{ngay_nhan} / {received} the day the case was received, dd/mm/yyyy
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from jobs.cases.worktime import TZ

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
ALIASES = {
    "code": "ma_phan_anh",
    "name": "ten",
    "due": "han",
    "category": "linh_vuc",
    "unit": "don_vi",
    "received": "ngay_nhan",
}
PLACEHOLDERS = ("ma_phan_anh", "ten", "han", "linh_vuc", "don_vi", "ngay_nhan")


@dataclass(frozen=True)
class CaseFacts:
    """What a template may mention about one case (all optional but the code)."""

    code: str
    name: str | None = None
    due_at: datetime | None = None
    category: str | None = None
    unit: str | None = None
    received_at: datetime | None = None


def _when(moment: datetime | None, with_time: bool) -> str | None:
    if moment is None:
        return None
    local = moment.astimezone(TZ)
    return local.strftime("%d/%m/%Y %H:%M" if with_time else "%d/%m/%Y")


def values_for(facts: CaseFacts, *, anonymous: str = "bạn") -> dict[str, str]:
    """Placeholder name → text; a fact that is unknown is left out (its placeholder stays)."""
    found = {
        "ma_phan_anh": facts.code,
        "ten": facts.name or anonymous,
        "han": _when(facts.due_at, True),
        "linh_vuc": facts.category,
        "don_vi": facts.unit,
        "ngay_nhan": _when(facts.received_at, False),
    }
    return {k: v for k, v in found.items() if v is not None}


def render_canned(template: str, values: Mapping[str, str]) -> str:
    """Fill `{name}` placeholders from `values` (aliases accepted); everything else — unknown
    names, lone or doubled braces, format specs — is kept as written. Never raises."""

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        key = ALIASES.get(name.lower(), name.lower())
        value = values.get(key)
        return match.group(0) if value is None else str(value)

    return _PLACEHOLDER.sub(fill, template)


def unknown_placeholders(template: str) -> list[str]:
    """The placeholders in a template that will never be filled (to warn the admin who saves
    it), in order of appearance, each once."""
    seen: list[str] = []
    for match in _PLACEHOLDER.finditer(template):
        name = match.group(1).lower()
        if ALIASES.get(name, name) not in PLACEHOLDERS and match.group(1) not in seen:
            seen.append(match.group(1))
    return seen
