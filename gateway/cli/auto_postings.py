"""``huzhu auto-postings list|undo``: what the reconciler booked without a person (a borrower's
exact transfer, a bank fee, interest), and undoing one with a reason (audited)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import select

from adapters.money import format_yuan
from gateway.api.router import association_scope
from gateway.auth.acting import acting_principal
from gateway.auth.permissions import Permission
from gateway.cli._common import cli_session, console, current_settings, parse_date
from gateway.org.models import Association
from gateway.org.service import get_association_by_code
from gateway.reconcile import service
from gateway.reconcile.models import AutoPosting
from gateway.web.i18n import translate

auto_postings_app = typer.Typer(
    help="自动记账 what the reconciler booked without a person, and undoing it.",
    no_args_is_help=True,
)


def _kind(kind: str) -> str:
    """The posting's kind as the console names it (借款人转账还款, 银行手续费, 存款利息)."""
    return translate("zh", f"auto_kind_{kind}")


@auto_postings_app.command("list")
def list_command(
    association: Annotated[
        str | None, typer.Option(help="Only this association's (its code).")
    ] = None,
    every: Annotated[bool, typer.Option("--all", help="The undone ones too.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Automatic postings, newest first: the night, kind, association, amount, bank lines."""
    with cli_session(current_settings()) as session:
        association_id = get_association_by_code(session, association).id if association else None
        statement = service.auto_postings(
            association_id=association_id, undone=None if every else False
        )
        postings = list(session.scalars(statement.order_by(AutoPosting.id.desc())))
        days = service.auto_posting_days(session, postings)
        codes = dict(session.execute(select(Association.id, Association.code)).all())
        found = [(auto, days[auto.id], codes.get(auto.association_id)) for auto in postings]
    if json_out:
        rows = [
            {
                "id": auto.id,
                "business_date": day.isoformat(),
                "kind": auto.kind,
                "association": code,
                "amount_fen": auto.amount_fen,
                "lines": service.auto_posting_line_ids(auto),
                "undone_by": auto.undone_by,
                "undo_reason": auto.undo_reason,
            }
            for auto, day, code in found
        ]
        typer.echo(json.dumps(rows, ensure_ascii=False))
        return
    table = Table(title=f"自动记账 automatic postings ({len(found)})")
    for header in (
        "ID",
        "日期 Date",
        "类别 Kind",
        "协会",
        "金额（元）",
        "流水 Lines",
        "撤销 Undone",
    ):
        table.add_column(header, overflow="fold")
    for auto, day, code in found:
        table.add_row(
            str(auto.id),
            str(day),
            _kind(auto.kind),
            code or "",
            format_yuan(auto.amount_fen),
            ", ".join(service.auto_posting_line_ids(auto)),
            f"{auto.undone_by}: {auto.undo_reason}" if auto.undone_by else "",
        )
    console().print(table)


@auto_postings_app.command("undo")
def undo_command(
    auto_posting_id: Annotated[int, typer.Argument(metavar="ID", help="The posting's id.")],
    by: Annotated[
        str,
        typer.Option(
            "--by", help="Who undoes it: the user name of an active user who may work its queue."
        ),
    ],
    reason: Annotated[str, typer.Option("--reason", help="Why (required; audited).")],
    on: Annotated[
        str | None,
        typer.Option(
            "--date",
            help="Business date of the reversal; "
            "by default and at the latest the next date to reconcile.",
        ),
    ] = None,
) -> None:
    """Undo an automatic posting: its journal transaction is reversed, a repayment goes back to
    its instalment, and its bank lines are open again for a person on the next night."""
    settings = current_settings()
    with cli_session(settings) as session:
        _posting, association = service.get_auto_posting(session, auto_posting_id)
        # as in the console: a user who may work the queue of the posting's association
        actor = acting_principal(
            session, by, Permission.WORK_QUEUE, association_scope(association), option="--by"
        ).username
        auto = service.undo_auto_posting(
            session,
            auto_posting_id,
            actor=actor,
            reason=reason,
            on=parse_date(on) if on else None,
        )
        console().print(
            f"已撤销 undone #{auto.id} {_kind(auto.kind)} "
            f"{format_yuan(auto.amount_fen)} 元: "
            f"{', '.join(service.auto_posting_line_ids(auto))}",
            markup=False,
        )


def register(app: typer.Typer) -> None:
    app.add_typer(auto_postings_app, name="auto-postings")
