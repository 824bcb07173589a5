"""``huzhu ledger``: an association's trial balance at any date."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from adapters.money import format_yuan
from gateway.cli._common import cli_session, console, current_settings, parse_date

ledger_app = typer.Typer(help="账簿 Ledger.", no_args_is_help=True)


@ledger_app.command("balances")
def balances_command(
    association: Annotated[str, typer.Option("--association", help="Association code.")],
    as_of: Annotated[
        str | None, typer.Option("--date", help="Balances at the end of this day (YYYY-MM-DD).")
    ] = None,
) -> None:
    """Print the association's trial balance (every account with postings)."""
    from gateway.ledger.service import trial_balance
    from gateway.org.service import get_association_by_code

    day = parse_date(as_of) if as_of else None
    with cli_session(current_settings()) as session:
        found = get_association_by_code(session, association)
        tb = trial_balance(session, found.id, as_of=day)
    table = Table(title=f"{found.code} {found.name} 试算平衡表 {day.isoformat() if day else ''}")
    table.add_column("科目 Account")
    for header in ("借方 Debit", "贷方 Credit", "余额 Balance"):
        table.add_column(header, justify="right")
    for row in tb.rows:
        if row.debit_fen or row.credit_fen:
            table.add_row(
                f"{row.code.value} {row.name_zh}",
                format_yuan(row.debit_fen),
                format_yuan(row.credit_fen),
                format_yuan(row.balance_fen),
            )
    table.add_row(
        "合计 Total", format_yuan(tb.total_debit_fen), format_yuan(tb.total_credit_fen), ""
    )
    console().print(table)
    console().print("借贷平衡 balanced" if tb.balanced else "[red]借贷不平衡 NOT balanced[/red]")
    if not tb.balanced:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(ledger_app, name="ledger")
