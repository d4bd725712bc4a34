"""`bantin units|categories|canned …` and `bantin cases report`: how admins set up who handles
citizens' cases, and the monthly report offices file.

Every change is audited with actor "cli", like the same change made from chat (/donvi,
/linhvuc), so `bantin audit` answers "who set this up" whichever way it was done. A unit or a
category is named by its id or its name (case-insensitive), as listed by `list`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from bot.cli.common import err, run_sync, settings_or_exit, with_store
from bot.cli.export_cells import safe_row, safe_xlsx_cell
from jobs.cases.canned import unknown_placeholders
from jobs.i18n import t
from storage.audit import CLI_ACTOR
from storage.case_reports import MonthReport, ReportLine, month_bounds
from storage.records import Category, Unit
from storage.store import Store

T = TypeVar("T")

units_app = typer.Typer(help="Units (đơn vị xử lý): their staff chats and members.")
members_app = typer.Typer(help="Members of a unit (staff who handle its cases).")
categories_app = typer.Typer(help="Categories (lĩnh vực): the unit and the deadline of each.")
canned_app = typer.Typer(help="Canned answers a unit keeps ({ma_phan_anh}, {ten}, {han}…).")
cases_app = typer.Typer(help="Citizens' cases: the monthly report.")
for _typer in (units_app, members_app, categories_app, canned_app, cases_app):
    _typer.info.no_args_is_help = True
units_app.add_typer(members_app, name="members")

PLATFORMS = ("telegram", "zalo", "console")


def register(app: typer.Typer) -> None:
    """Add `units`, `categories`, `canned` and `cases` to the `bantin` command."""
    app.add_typer(units_app, name="units")
    app.add_typer(categories_app, name="categories")
    app.add_typer(canned_app, name="canned")
    app.add_typer(cases_app, name="cases")


def _run(work: Callable[[Store], Awaitable[T]]) -> T:
    return run_sync(with_store(settings_or_exit(), work))


def _fail(text: str, code: int = 1) -> None:
    err(text)
    raise typer.Exit(code)


def _chat(telegram: str | None, zalo: str | None) -> tuple[str | None, str | None]:
    if telegram and zalo:
        _fail(t("cu_cli_one_chat"), 2)
    if telegram:
        return "telegram", telegram.strip()
    if zalo:
        return "zalo", zalo.strip()
    return None, None


def _person(value: str) -> tuple[str, str]:
    platform, sep, user = value.partition(":")
    if not sep or platform not in PLATFORMS or not user.strip():
        _fail(t("cu_cli_bad_person", value=value), 2)
    return platform, user.strip()


async def _unit(store: Store, ref: str) -> Unit:
    unit = await store.units.find(ref)
    if unit is None:
        _fail(t("cu_unit_missing", unit=ref))
    assert unit is not None
    return unit


async def _category(store: Store, ref: str) -> Category:
    category = await store.units.find_category(ref)
    if category is None:
        _fail(t("cu_category_missing", category=ref))
    assert category is not None
    return category


def _chat_text(unit: Unit) -> str:
    if unit.platform and unit.chat_id:
        return f"{unit.platform}:{unit.chat_id}"
    return t("cu_staff_chat")


# -- units ------------------------------------------------------------------------------------


@units_app.command("list")
def units_list() -> None:
    """Every unit: id, name, staff chat, members; the default unit first."""

    settings = settings_or_exit()

    async def work(store: Store) -> list[tuple[Unit, int]]:
        await store.units.ensure_default(settings.default_unit_name)
        return [(u, len(await store.units.members(u.id))) for u in await store.units.all()]

    for unit, members in run_sync(with_store(settings, work)):
        mark = " *" if unit.is_default else ""
        cells = safe_row([f"#{unit.id}", unit.name + mark, _chat_text(unit), str(members)])
        typer.echo("\t".join(cells))


@units_app.command("add")
def units_add(
    name: str,
    telegram_chat: Annotated[str | None, typer.Option(help="The unit's Telegram group id")] = None,
    zalo_chat: Annotated[str | None, typer.Option(help="The unit's Zalo group id")] = None,
) -> None:
    """A new unit; without a chat its cases go to the configured staff chat."""
    platform, chat = _chat(telegram_chat, zalo_chat)

    async def work(store: Store) -> Unit | None:
        unit = await store.units.add(name, platform=platform, chat_id=chat)
        if unit is not None:
            detail = f"{platform}:{chat}" if chat else None
            await store.audit.record(CLI_ACTOR, "unit.add", f"unit:{unit.id}", detail)
        return unit

    try:
        unit = _run(work)
    except ValueError as exc:
        _fail(str(exc), 2)
    if unit is None:
        _fail(t("cu_unit_taken", unit=name))
    assert unit is not None
    typer.echo(t("cu_unit_added", unit=unit.name, id=unit.id, chat=_chat_text(unit)))


@units_app.command("set-chat")
def units_set_chat(
    unit: str,
    telegram_chat: Annotated[str | None, typer.Option(help="A Telegram group id")] = None,
    zalo_chat: Annotated[str | None, typer.Option(help="A Zalo group id")] = None,
) -> None:
    """Set the unit's staff chat; with neither option, back to the configured staff chat."""
    platform, chat = _chat(telegram_chat, zalo_chat)

    async def work(store: Store) -> Unit:
        found = await _unit(store, unit)
        await store.units.set_chat(found.id, platform, chat)
        detail = f"{platform}:{chat}" if chat else "staff chat"
        await store.audit.record(CLI_ACTOR, "unit.set_chat", f"unit:{found.id}", detail)
        changed = await store.units.get(found.id)
        assert changed is not None
        return changed

    changed = _run(work)
    typer.echo(t("cu_unit_chat_set", unit=changed.name, chat=_chat_text(changed)))


@units_app.command("rename")
def units_rename(unit: str, name: str) -> None:
    """Give a unit another name."""

    async def work(store: Store) -> Unit | None:
        found = await _unit(store, unit)
        renamed = await store.units.rename(found.id, name)
        if renamed is not None:
            await store.audit.record(CLI_ACTOR, "unit.rename", f"unit:{found.id}", name)
        return renamed

    renamed = _run(work)
    if renamed is None:
        _fail(t("cu_unit_taken", unit=name))
    assert renamed is not None
    typer.echo(t("cu_unit_renamed", unit=renamed.name))


@units_app.command("remove")
def units_remove(unit: str) -> None:
    """Remove a unit (not the default one, nor one with open cases: transfer them first)."""

    async def work(store: Store) -> tuple[str, Unit]:
        found = await _unit(store, unit)
        outcome = await store.units.remove(found.id)
        if outcome == "removed":
            await store.audit.record(CLI_ACTOR, "unit.remove", f"unit:{found.id}", found.name)
        return outcome, found

    outcome, found = _run(work)
    if outcome != "removed":
        _fail(t(f"cu_unit_remove_{outcome}", unit=found.name))
    typer.echo(t("cu_unit_removed", unit=found.name))


@members_app.command("list")
def members_list(unit: str) -> None:
    """The unit's members."""

    async def work(store: Store) -> list[str]:
        found = await _unit(store, unit)
        return [f"{m.platform}:{m.user_id}\t{m.role}" for m in await store.units.members(found.id)]

    lines = _run(work)
    if not lines:
        typer.echo(t("cu_members_none"))
    for line in lines:
        typer.echo(line)


@members_app.command("add")
def members_add(
    unit: str,
    person: Annotated[str, typer.Argument(help="PLATFORM:USER, e.g. telegram:12345")],
) -> None:
    """Add a staff member (`bantin staff add` first) to a unit."""
    platform, user = _person(person)

    async def work(store: Store) -> tuple[str, Unit]:
        found = await _unit(store, unit)
        outcome = await store.units.add_member(found.id, platform, user)
        if outcome == "added":
            await store.audit.record(CLI_ACTOR, "unit.member_add", f"unit:{found.id}", person)
        return outcome, found

    outcome, found = _run(work)
    if outcome == "no_staff":
        _fail(t("cu_member_not_staff", person=person))
    key = "cu_member_added" if outcome == "added" else "cu_member_exists"
    typer.echo(t(key, person=person, unit=found.name))


@members_app.command("remove")
def members_remove(
    unit: str,
    person: Annotated[str, typer.Argument(help="PLATFORM:USER")],
) -> None:
    """Take a member out of a unit (they stay staff)."""
    platform, user = _person(person)

    async def work(store: Store) -> tuple[bool, Unit]:
        found = await _unit(store, unit)
        removed = await store.units.remove_member(found.id, platform, user)
        if removed:
            await store.audit.record(CLI_ACTOR, "unit.member_remove", f"unit:{found.id}", person)
        return removed, found

    removed, found = _run(work)
    if not removed:
        _fail(t("cu_member_missing", person=person, unit=found.name))
    typer.echo(t("cu_member_removed", person=person, unit=found.name))


# -- categories -------------------------------------------------------------------------------


@categories_app.command("list")
def categories_list() -> None:
    """Every category in the citizens' order: id, name, unit, deadline, active."""

    async def work(store: Store) -> list[list[str]]:
        units = {u.id: u.name for u in await store.units.all()}
        out = []
        for c in await store.units.categories():
            out.append(
                [
                    f"#{c.id}",
                    c.name,
                    units.get(c.unit_id or 0) or t("cu_default_unit"),
                    t("cu_days", days=c.deadline_days),
                    "" if c.active else t("cu_inactive"),
                ]
            )
        return out

    rows = _run(work)
    if not rows:
        typer.echo(t("cu_categories_none"))
    for cells in rows:
        typer.echo("\t".join(safe_row(cells)).rstrip())


@categories_app.command("add")
def categories_add(
    name: str,
    unit: Annotated[
        str | None, typer.Option(help="The unit (id or name); default unit if not")
    ] = None,
    days: Annotated[int, typer.Option(help="Deadline in working days", min=0, max=365)] = 10,
    position: Annotated[int | None, typer.Option(help="Place in the list (default: last)")] = None,
) -> None:
    """A new category routing its cases to a unit with a deadline in working days."""

    async def work(store: Store) -> Category | None:
        unit_id = (await _unit(store, unit)).id if unit else None
        added = await store.units.add_category(
            name, unit_id=unit_id, deadline_days=days, position=position
        )
        if added is not None:
            detail = f"unit={unit_id} days={days}"
            await store.audit.record(CLI_ACTOR, "category.add", f"category:{added.id}", detail)
        return added

    added = _run(work)
    if added is None:
        _fail(t("cu_category_taken", category=name))
    assert added is not None
    typer.echo(t("cu_category_added", category=added.name, id=added.id, days=added.deadline_days))


@categories_app.command("edit")
def categories_edit(
    category: str,
    name: Annotated[str | None, typer.Option(help="A new name")] = None,
    unit: Annotated[str | None, typer.Option(help="Another unit (id or name)")] = None,
    days: Annotated[
        int | None, typer.Option(help="Deadline in working days", min=0, max=365)
    ] = None,
    position: Annotated[int | None, typer.Option(help="Place in the list")] = None,
    active: Annotated[bool | None, typer.Option("--active/--inactive", help="Shown or not")] = None,
) -> None:
    """Change a category (a new deadline applies to cases filed from then on)."""

    async def work(store: Store) -> Category | None:
        found = await _category(store, category)
        unit_id: Any = (await _unit(store, unit)).id if unit else "keep"
        edited = await store.units.edit_category(
            found.id,
            name=name,
            unit_id=unit_id,
            deadline_days=days,
            position=position,
            active=active,
        )
        if edited is not None:
            detail = f"name={name} unit={unit} days={days} position={position} active={active}"
            await store.audit.record(CLI_ACTOR, "category.edit", f"category:{found.id}", detail)
        return edited

    edited = _run(work)
    if edited is None:
        _fail(t("cu_category_taken", category=name or category))
    assert edited is not None
    typer.echo(t("cu_category_changed", category=edited.name))


@categories_app.command("deactivate")
def categories_deactivate(category: str) -> None:
    """Hide a category from citizens (its cases keep it)."""

    async def work(store: Store) -> Category:
        found = await _category(store, category)
        await store.units.deactivate_category(found.id)
        await store.audit.record(CLI_ACTOR, "category.deactivate", f"category:{found.id}")
        return found

    found = _run(work)
    typer.echo(t("cu_category_deactivated", category=found.name))


@categories_app.command("remove")
def categories_remove(category: str) -> None:
    """Delete a category no case uses; one that cases use is deactivated instead."""

    async def work(store: Store) -> tuple[str, Category]:
        found = await _category(store, category)
        outcome = await store.units.remove_category(found.id)
        await store.audit.record(CLI_ACTOR, f"category.{outcome}", f"category:{found.id}")
        return outcome, found

    outcome, found = _run(work)
    key = "cu_category_removed" if outcome == "removed" else "cu_category_deactivated"
    typer.echo(t(key, category=found.name))


# -- canned answers ---------------------------------------------------------------------------


@canned_app.command("list")
def canned_list(
    unit: Annotated[
        str | None, typer.Option(help="A unit (id or name); shared ones if not")
    ] = None,
) -> None:
    """A unit's canned answers and the shared ones."""

    async def work(store: Store) -> list[list[str]]:
        unit_id = (await _unit(store, unit)).id if unit else None
        answers = await store.units.canned(unit_id)
        return [
            [f"#{a.id}", a.title, t("cu_shared") if a.unit_id is None else "", a.text]
            for a in answers
        ]

    rows = _run(work)
    if not rows:
        typer.echo(t("cu_canned_none"))
    for cells in rows:
        typer.echo("\t".join(safe_row(cells)))


@canned_app.command("add")
def canned_add(
    title: str,
    text: str,
    unit: Annotated[
        str | None, typer.Option(help="The unit (id or name); every unit if not")
    ] = None,
) -> None:
    """A canned answer; placeholders: {ma_phan_anh} {ten} {han} {linh_vuc} {don_vi} {ngay_nhan}."""

    async def work(store: Store) -> Any:
        unit_id = (await _unit(store, unit)).id if unit else None
        added = await store.units.add_canned(unit_id, title, text, created_by=CLI_ACTOR)
        if added is not None:
            await store.audit.record(CLI_ACTOR, "canned.add", f"canned:{added.id}", title)
        return added

    try:
        added = _run(work)
    except ValueError as exc:
        _fail(str(exc), 2)
    if added is None:
        _fail(t("cu_canned_taken", title=title))
    typer.echo(t("cu_canned_added", title=title, id=added.id))
    unknown = unknown_placeholders(text)
    if unknown:
        err(t("cu_canned_unknown", names=", ".join("{" + n + "}" for n in unknown)))


@canned_app.command("remove")
def canned_remove(answer_id: int) -> None:
    """Delete a canned answer by its id (see `list`)."""

    async def work(store: Store) -> bool:
        removed = await store.units.remove_canned(answer_id)
        if removed:
            await store.audit.record(CLI_ACTOR, "canned.remove", f"canned:{answer_id}")
        return removed

    if not _run(work):
        _fail(t("cu_canned_missing", id=answer_id))
    typer.echo(t("cu_canned_removed", id=answer_id))


# -- the monthly report -----------------------------------------------------------------------

REPORT_COLUMNS = (
    "cu_col_group",
    "cu_col_name",
    "cu_col_received",
    "cu_col_answered",
    "cu_col_on_time",
    "cu_col_on_time_pct",
    "cu_col_duplicates",
    "cu_col_closed",
    "cu_col_median_answer",
    "cu_col_median_close",
    "cu_col_satisfied",
    "cu_col_unsatisfied",
    "cu_col_no_rating",
)


def report_rows(report: MonthReport, lang: str = "vi") -> list[list[Any]]:
    """The report as rows (header first): units, then categories, then the total."""

    def cells(group: str, line: ReportLine) -> list[Any]:
        if line.by == "total":
            name = t("cu_total", lang)
        else:
            name = line.name or t("cu_unknown", lang)
        return [
            t(group, lang),
            name,
            line.received,
            line.answered,
            line.on_time,
            line.on_time_percent if line.on_time_percent is not None else "",
            line.duplicates,
            line.closed,
            line.median_answer_hours if line.median_answer_hours is not None else "",
            line.median_close_hours if line.median_close_hours is not None else "",
            line.satisfied,
            line.unsatisfied,
            line.no_rating,
        ]

    rows: list[list[Any]] = [[t(c, lang) for c in REPORT_COLUMNS]]
    rows += [cells("cu_group_unit", x) for x in report.units]
    rows += [cells("cu_group_category", x) for x in report.categories]
    rows.append(cells("cu_group_total", report.total))
    return rows


def report_csv(report: MonthReport) -> str:
    """UTF-8 with a BOM, so Excel reads the Vietnamese headers right."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    for row in report_rows(report):
        writer.writerow(safe_row(row))
    return "\ufeff" + buf.getvalue()


def write_report_xlsx(report: MonthReport, path: Path) -> None:
    """One sheet per month, a bold frozen header, numbers as numbers."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = t("cu_sheet", month=report.month)[:31]
    for row in report_rows(report):
        sheet.append([safe_xlsx_cell(c) for c in row])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    sheet.freeze_panes = "C2"
    for letter, width in zip("ABCDEFGHIJKLM", (12, 32, *([14] * 11)), strict=True):
        sheet.column_dimensions[letter].width = width
    book.save(path)


@cases_app.command("report")
def cases_report(
    month: Annotated[str, typer.Option(help="YYYY-MM (a month in Vietnam time)")],
    unit: Annotated[str | None, typer.Option(help="Only this unit (id or name)")] = None,
    fmt: Annotated[str, typer.Option("--format", help="csv or xlsx")] = "csv",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File to write")] = None,
) -> None:
    """Received, answered, on time, median hours, satisfaction — by unit and by category."""
    if fmt not in ("csv", "xlsx"):
        _fail(t("cu_report_bad_format", format=fmt), 2)
    try:
        month_bounds(month)
    except ValueError:
        _fail(t("cu_report_bad_month", month=month), 2)

    async def work(store: Store) -> MonthReport:
        unit_id = (await _unit(store, unit)).id if unit else None
        return await store.case_reports.month(month, unit_id=unit_id)

    report = _run(work)
    if fmt == "xlsx":
        path = output or Path(f"bao-cao-phan-anh-{month}.xlsx")
        write_report_xlsx(report, path)
        typer.echo(t("cu_report_written", path=str(path)))
        return
    text = report_csv(report)
    if output is None:
        typer.echo(text, nl=False)
        return
    output.write_text(text, encoding="utf-8")
    typer.echo(t("cu_report_written", path=str(output)))
