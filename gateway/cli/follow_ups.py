"""``huzhu follow-ups list|resolve``: the bank follow-ups (待办事项) the county fund office
acts on, and marking one resolved with a note (audited)."""

from __future__ import annotations

import getpass
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy.orm import Session

from adapters.money import format_yuan
from gateway.cli._common import cli_session, console, current_settings
from gateway.org.models import Association
from gateway.org.service import get_association_by_code
from gateway.payments import follow_ups as service
from gateway.payments.models import FollowUpKind

follow_ups_app = typer.Typer(
    help="待办事项 bank follow-ups for the county fund office.", no_args_is_help=True
)


def _default_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no login name for this process's user
        return "cli"


def _association_code(session: Session, association_id: int | None) -> str:
    if association_id is None:
        return "—"
    found = session.get(Association, association_id)
    return found.code if found is not None else str(association_id)


@follow_ups_app.command("list")
def list_command(
    resolved: Annotated[
        bool, typer.Option("--resolved", help="List the resolved ones instead of the open.")
    ] = False,
    association: Annotated[
        str | None, typer.Option(help="Only this association's (its code).")
    ] = None,
    kind: Annotated[FollowUpKind | None, typer.Option(help="Only this kind.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=5000, help="At most this many.")] = 200,
) -> None:
    """Open follow-ups, newest first: kind, date, amount, message (or who resolved them)."""
    with cli_session(current_settings()) as session:
        association_id = get_association_by_code(session, association).id if association else None
        items = service.list_follow_ups(
            session, resolved=resolved, association_id=association_id, kind=kind, limit=limit
        )
        title = "已处理事项 Resolved follow-ups" if resolved else "待办事项 Open follow-ups"
        table = Table(title=title)
        for header in ("ID", "日期 Date", "类别 Kind", "协会", "金额（元）", "说明 Message"):
            table.add_column(header)
        if resolved:
            table.add_column("处理 Resolution")
        for item in items:
            row = [
                str(item.id),
                item.business_date.isoformat(),
                f"{item.kind.label_zh} {item.kind.label_en}",
                _association_code(session, item.association_id),
                format_yuan(item.amount_fen),
                item.message_zh,
            ]
            if resolved:
                row.append(f"{item.resolved_by or '—'}: {item.resolution_note or ''}")
            table.add_row(*row)
        console().print(table)
        if not items:
            console().print("没有事项 (none)")


@follow_ups_app.command("resolve")
def resolve_command(
    follow_up_id: Annotated[int, typer.Argument(metavar="ID", help="The follow-up's id.")],
    note: Annotated[str, typer.Option("--note", help="What was done (required; audited).")],
    actor: Annotated[
        str | None, typer.Option("--actor", help="Who resolves (audit log); default cli:<login>.")
    ] = None,
) -> None:
    """Mark a follow-up resolved with a note saying what was done; refused if resolved."""
    with cli_session(current_settings()) as session:
        item = service.resolve_follow_up(
            session, follow_up_id, actor=actor or _default_actor(), note=note
        )
        console().print(
            f"已处理 resolved #{item.id} {item.kind.label_zh} ({item.kind.label_en}) "
            f"by {item.resolved_by}"
        )


def register(app: typer.Typer) -> None:
    app.add_typer(follow_ups_app, name="follow-ups")
