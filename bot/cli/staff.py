"""`bantin staff add|list|remove`, `bantin audit`, and the feedback export's writers.

Staff changes from the CLI are audited like those from chat (actor "cli"), so `bantin audit`
answers "who did what, when" whichever way it was done.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from bot.cli.common import err, run_sync, settings_or_exit, with_store
from bot.cli.export_cells import safe_row, safe_xlsx_cell
from jobs.i18n import t
from jobs.render.markup import VIETNAM
from storage.audit import CLI_ACTOR, actor_of
from storage.feedback import FeedbackExportRow
from storage.records import AuditEntry, StaffMember
from storage.staff import ADMIN, EDITOR
from storage.store import Store

staff_app = typer.Typer(help="Staff members and their roles.", no_args_is_help=True)

EXPORT_COLUMNS = [
    "ticket",
    "time",
    "platform",
    "chat",
    "name",
    "article_id",
    "article_title",
    "article_link",
    "status",
    "text",
]


@staff_app.command("list")
def staff_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Every staff member: platform, user id, role, who added them."""
    settings = settings_or_exit()

    async def work(store: Store) -> list[StaffMember]:
        return await store.staff.all()

    members = run_sync(with_store(settings, work))
    if as_json:
        data = [
            {
                "platform": m.platform,
                "user_id": m.user_id,
                "role": m.role,
                "added_by": m.added_by,
                "created_at": m.created_at.isoformat(),
            }
            for m in members
        ]
        typer.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    if not members:
        typer.echo(t("cli_staff_none"))
    for m in members:
        typer.echo(f"{m.platform}:{m.user_id}\t{m.role}\t{m.added_by or ''}")


@staff_app.command("add")
def staff_add(
    user_id: str,
    role: Annotated[str, typer.Option(help="admin or editor")] = EDITOR,
    platform: Annotated[str, typer.Option(help="telegram, zalo, …")] = "telegram",
) -> None:
    """Make a user staff (or change their role)."""
    if role not in (ADMIN, EDITOR):
        err(t("cli_staff_bad_role", role=role))
        raise typer.Exit(2)
    settings = settings_or_exit()

    async def work(store: Store) -> str:
        changed = await store.staff.set_role_unless_last_admin(
            platform, user_id, role=role, added_by=CLI_ACTOR
        )
        if changed != "last_admin":
            target = actor_of(platform, user_id)
            await store.audit.record(CLI_ACTOR, "staff.add", target, role)
        return changed

    if run_sync(with_store(settings, work)) == "last_admin":
        err(t("authz_cli_staff_last_admin", platform=platform, user=user_id))
        raise typer.Exit(1)
    typer.echo(t("cli_staff_added", platform=platform, user=user_id, role=role))


@staff_app.command("remove")
def staff_remove(
    user_id: str,
    platform: Annotated[str, typer.Option(help="telegram, zalo, …")] = "telegram",
) -> None:
    """Remove a staff member (the CLI may remove the last admin: it is the operator's way back
    in, and BANTIN_ADMIN_IDS admins come back at the next start anyway)."""
    settings = settings_or_exit()

    async def work(store: Store) -> bool:
        removed = await store.staff.remove(platform, user_id)
        if removed:
            await store.audit.record(CLI_ACTOR, "staff.remove", actor_of(platform, user_id))
        return removed

    if not run_sync(with_store(settings, work)):
        err(t("cli_staff_missing", platform=platform, user=user_id))
        raise typer.Exit(1)
    typer.echo(t("cli_staff_removed", platform=platform, user=user_id))


def audit(
    limit: Annotated[int, typer.Option(help="At most this many entries")] = 50,
    since: Annotated[str | None, typer.Option(help="YYYY-MM-DD (Vietnam time)")] = None,
    actor: Annotated[str | None, typer.Option(help='e.g. "telegram:123" or "cli"')] = None,
    action: Annotated[str | None, typer.Option(help='prefix, e.g. "feedback"')] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Staff actions, newest first: who, when, what, on what."""
    start = parse_since(since)
    settings = settings_or_exit()

    async def work(store: Store) -> list[AuditEntry]:
        return await store.audit.recent(limit=limit, since=start, actor=actor, action=action)

    entries = run_sync(with_store(settings, work))
    if as_json:
        data = [
            {
                "id": e.id,
                "at": e.at.isoformat(),
                "actor": e.actor,
                "action": e.action,
                "target": e.target,
                "detail": e.detail,
            }
            for e in entries
        ]
        typer.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    if not entries:
        typer.echo(t("cli_audit_none"))
    for e in entries:
        when = e.at.astimezone(VIETNAM).strftime("%Y-%m-%d %H:%M:%S")
        cells = safe_row([when, e.actor, e.action, e.target or "", e.detail or ""])
        typer.echo("\t".join(cells))  # often redirected to a file and opened in a spreadsheet


def parse_since(value: str | None) -> datetime | None:
    """--since YYYY-MM-DD as the start of that day in Vietnam, in UTC; exit 2 if unreadable."""
    if value is None:
        return None
    try:
        day = datetime.strptime(value.strip(), "%Y-%m-%d")
    except ValueError:
        err(t("cli_export_bad_date", value=value))
        raise typer.Exit(2) from None
    return day.replace(tzinfo=VIETNAM).astimezone(UTC)


def _cells(r: FeedbackExportRow) -> list[Any]:
    return [
        r.ticket,
        r.created_at.isoformat(),
        r.platform,
        r.chat_id,
        r.display_name or "",
        r.article_id or "",
        r.article_title or "",
        r.article_link or "",
        r.status,
        r.text,
    ]


def feedback_csv(rows: Sequence[FeedbackExportRow]) -> str:
    """CSV text starting with a UTF-8 BOM, so spreadsheet programs read Vietnamese right;
    every cell through bot/cli/export_cells.py, so citizens' text never runs as a formula."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(EXPORT_COLUMNS)
    for r in rows:
        writer.writerow(safe_row(_cells(r)))
    return "\ufeff" + buf.getvalue()


def write_feedback_xlsx(rows: Sequence[FeedbackExportRow], path: Path) -> None:
    """One sheet "Phản hồi", a bold frozen header, times as real dates in Vietnam time."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Phản hồi"
    sheet.append(EXPORT_COLUMNS)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    sheet.freeze_panes = "A2"
    for r in rows:
        cells = _cells(r)
        cells[1] = r.created_at.astimezone(VIETNAM).replace(tzinfo=None)
        sheet.append([safe_xlsx_cell(c) for c in cells])
    for row in sheet.iter_rows(min_row=2, min_col=2, max_col=2):
        for cell in row:
            cell.number_format = "yyyy-mm-dd hh:mm"
    for letter, width in zip("ABCDEFGHIJ", (8, 17, 10, 14, 20, 10, 40, 40, 10, 80), strict=True):
        sheet.column_dimensions[letter].width = width
    book.save(path)
