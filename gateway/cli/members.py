"""``huzhu members``: import a member roster from CSV or XLSX."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from gateway.cli._common import (
    cli_session,
    console,
    current_settings,
    err_console,
    field_cipher,
    parse_date,
)
from gateway.members.importer import ImportRefused

members_app = typer.Typer(help="会员 Members.", no_args_is_help=True)


def _print_refusal(refused: ImportRefused) -> None:
    table = Table(title="导入被拒绝 Import refused — 未导入任何会员 nothing imported")
    for header in ("行 Row", "列 Column", "值 Value", "原因 Reason"):
        table.add_column(header)
    for error in refused.errors:
        table.add_row(str(error.row), error.column, error.value, error.reason)
    err_console().print(table)
    err_console().print(f"{refused.message_zh} ({refused.message_en})")


@members_app.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV or XLSX file.")],
    association: Annotated[str, typer.Option("--association", help="Association code.")],
    joined_on: Annotated[
        str | None, typer.Option("--joined-on", help="Default join date (YYYY-MM-DD).")
    ] = None,
    actor: Annotated[str, typer.Option("--actor", help="Who imports (audit log).")] = "cli",
) -> None:
    """Import members: every row is checked; any bad row refuses the whole file."""
    from gateway.members.importer import import_members

    settings = current_settings()
    default_joined = parse_date(joined_on) if joined_on else settings.today()
    with cli_session(settings) as session:
        cipher = field_cipher(settings, session)
        try:
            imported = import_members(
                session,
                cipher,
                file,
                association,
                joined_on=default_joined,
                actor=actor,
                today=settings.today(),
            )
        except ImportRefused as refused:
            _print_refusal(refused)
            raise typer.Exit(1) from refused
        count = len(imported)
    console().print(f"已导入 {count} 名会员到协会 {association} (imported {count} members)")


def register(app: typer.Typer) -> None:
    app.add_typer(members_app, name="members")
