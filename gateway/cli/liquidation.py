"""``huzhu liquidation``: the guided dissolution of an association (撤销清算). Each command is
one step; ``status`` shows what is done and what remains, so the work stops and resumes at
any step.

A loan's write-off is listed by one person and decided by another: ``write-off`` and
``decide-write-off`` take ``--actor`` as the user name of an active user of the association's
county (:func:`gateway.auth.acting.acting_principal`), one who may handle loans to list it and
one who may approve loans for the county to decide it, and record the user's own name."""

from __future__ import annotations

import contextlib
import csv
import getpass
import os
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from sqlalchemy.orm import Session

from gateway.cli._common import cli_session, console, current_settings, field_cipher, parse_date
from gateway.liquidation.models import CapitalLevel, Liquidation

if TYPE_CHECKING:
    from gateway.liquidation.service import PayoutOrder

liquidation_app = typer.Typer(help="撤销清算 Dissolution and liquidation.", no_args_is_help=True)

AssociationOpt = Annotated[str, typer.Option("--association", help="Association code.")]
ActorOpt = Annotated[str, typer.Option("--actor", help="Who acts (audit log).")]
OnOpt = Annotated[str | None, typer.Option("--on", help="Business date (YYYY-MM-DD).")]


def _on(value: str | None) -> date:
    return parse_date(value) if value else current_settings().today()


def _liquidation_id(session: Session, code: str) -> int:
    from gateway.liquidation.service import liquidation_of
    from gateway.org.service import get_association_by_code

    return liquidation_of(session, get_association_by_code(session, code).id).id


def _write_off_actor(session: Session, typed: str, association_id: int, *, decides: bool) -> str:
    """The user name of the user ``--actor`` names, once they may list a loan for write-off
    (as the console lets a user handle loans: the association's treasurer, a county officer)
    or decide it (as it lets a user approve loans for the county: a county officer or
    reviewer), for the association's county."""
    from gateway.auth.acting import acting_principal
    from gateway.auth.permissions import ObjectScope, Permission
    from gateway.org.models import Association

    association = session.get(Association, association_id)
    assert association is not None  # the liquidation's own
    scope = ObjectScope(
        county_id=association.town.county_id,
        association_id=association.id,
        bank_id=association.special_account.bank_id,
    )
    needed = Permission.COUNTY_APPROVE_LOANS if decides else Permission.WRITE_LOANS
    return acting_principal(session, typed, needed, scope, option="--actor").username


def _show(session: Session, liquidation_id: int) -> None:
    from gateway.liquidation.service import progress

    table = Table(title="清算进度 Liquidation progress")
    for header in ("步骤 Step", "完成 Done", "尚余 Remaining"):
        table.add_column(header)
    for state in progress(session, liquidation_id):
        table.add_row(state.label, "✓" if state.done else "…", "\n".join(state.remaining))
    console().print(table)


@liquidation_app.command("start")
def start_command(
    association: AssociationOpt,
    reason: Annotated[str, typer.Option("--reason", help="Why it is dissolved.")],
    actor: ActorOpt,
    on: OnOpt = None,
) -> None:
    """Freeze the association: no new loans; loans not yet paid out are cancelled."""
    from gateway.liquidation.service import start
    from gateway.org.service import get_association_by_code

    with cli_session(current_settings()) as session:
        found = get_association_by_code(session, association)
        liquidation = start(session, found.id, on=_on(on), reason=reason, actor=actor)
        _show(session, liquidation.id)


@liquidation_app.command("status")
def status_command(association: AssociationOpt) -> None:
    """What is done and what remains."""
    with cli_session(current_settings()) as session:
        _show(session, _liquidation_id(session, association))


@liquidation_app.command("write-off")
def write_off_command(
    association: AssociationOpt,
    contract: Annotated[str, typer.Option("--contract", help="Loan contract number.")],
    reason: Annotated[str, typer.Option("--reason")],
    actor: Annotated[
        str,
        typer.Option(
            "--actor",
            help="Who lists it: the user name of an active user who may handle the "
            "association's loans.",
        ),
    ],
    on: OnOpt = None,
) -> None:
    """List a loan that cannot be recovered for the county's write-off review."""
    from sqlalchemy import select

    from gateway.liquidation.service import list_for_write_off
    from gateway.loans.models import Loan

    with cli_session(current_settings()) as session:
        loan_id = session.scalar(select(Loan.id).where(Loan.contract_no == contract))
        if loan_id is None:
            raise typer.BadParameter(f"no loan with contract {contract}")
        liquidation_id = _liquidation_id(session, association)
        found = session.get(Liquidation, liquidation_id)
        assert found is not None
        review = list_for_write_off(
            session,
            liquidation_id,
            loan_id,
            on=_on(on),
            reason=reason,
            actor=_write_off_actor(session, actor, found.association_id, decides=False),
        )
        console().print(f"核销审核编号 review id: {review.id}")


@liquidation_app.command("decide-write-off")
def decide_command(
    review: Annotated[int, typer.Option("--review", help="Review id.")],
    actor: Annotated[
        str,
        typer.Option(
            "--actor",
            help="Who decides, not who listed it: the user name of an active user who may "
            "approve loans for the association's county.",
        ),
    ],
    approve: Annotated[bool, typer.Option("--approve/--reject")] = True,
    note: Annotated[str, typer.Option("--note")] = "",
    on: OnOpt = None,
) -> None:
    """The county approves (books the write-off) or rejects (collection goes on)."""
    from gateway.errors import NotFound
    from gateway.liquidation.models import WriteOffReview
    from gateway.liquidation.service import decide_write_off

    with cli_session(current_settings()) as session:
        pending = session.get(WriteOffReview, review)
        found = session.get(Liquidation, pending.liquidation_id) if pending else None
        if found is None:
            raise NotFound("核销申请不存在", f"write-off review {review} not found")
        decided = decide_write_off(
            session,
            review,
            approve=approve,
            on=_on(on),
            actor=_write_off_actor(session, actor, found.association_id, decides=True),
            note=note,
        )
        console().print(f"核销审核 {decided.id}: {decided.decision.value}")


@liquidation_app.command("close-books")
def close_books_command(association: AssociationOpt, actor: ActorOpt, on: OnOpt = None) -> None:
    """Carry income and expenses to capital once no loan is outstanding."""
    from gateway.liquidation.service import close_books

    with cli_session(current_settings()) as session:
        liquidation_id = _liquidation_id(session, association)
        close_books(session, liquidation_id, on=_on(on), actor=actor)
        _show(session, liquidation_id)


@liquidation_app.command("name-account")
def name_account_command(
    association: AssociationOpt,
    level: Annotated[CapitalLevel, typer.Option("--level")],
    account: Annotated[str, typer.Option("--account", help="Account number.")],
    name: Annotated[str, typer.Option("--name", help="Account name.")],
    actor: ActorOpt,
) -> None:
    """Name the account one level's fiscal capital goes back to."""
    from gateway.liquidation.service import name_capital_account

    with cli_session(current_settings()) as session:
        name_capital_account(
            session,
            _liquidation_id(session, association),
            level,
            account_number=account,
            account_name=name,
            actor=actor,
        )
    console().print(f"{level.value}: {account} {name}")


@liquidation_app.command("request-payouts")
def request_payouts_command(association: AssociationOpt, actor: ActorOpt, on: OnOpt = None) -> None:
    """Request every member's refund and every level's capital return."""
    from gateway.liquidation.service import request_capital_returns, request_refunds

    with cli_session(current_settings()) as session:
        liquidation_id = _liquidation_id(session, association)
        refunds = request_refunds(session, liquidation_id, on=_on(on), actor=actor)
        capital = request_capital_returns(session, liquidation_id, on=_on(on), actor=actor)
        console().print(f"退还互助金 refunds: {len(refunds)}, 收回资金 capital: {len(capital)}")


@liquidation_app.command("payout-list")
def payout_list_command(
    association: AssociationOpt,
    out: Annotated[Path, typer.Option("--out", help="CSV file: the 代发清单 for the file.")],
    actor: Annotated[
        str | None,
        typer.Option("--actor", help="Who exports (audit log); default cli:<login>."),
    ] = None,
) -> None:
    """Write the payouts still with the bank, a 代发清单 for the association's file (the
    payouts themselves travel in the disbursement batches); card numbers are in clear, the
    file is 0600, and the export is audited with the members whose cards it holds, in the
    same transaction: the file is removed again if the event cannot be committed."""
    from gateway.liquidation.service import payout_orders

    settings = current_settings()
    writing = False
    try:
        with cli_session(settings) as session:
            orders = payout_orders(
                session,
                field_cipher(settings, session),
                _liquidation_id(session, association),
                actor=actor or _default_actor(),
                written_to=str(out.resolve()),
            )
            writing = True
            _write_payout_list(out, orders)
    except BaseException:
        # No event without the file, and no clear card numbers left behind without one.
        if writing:
            with contextlib.suppress(OSError):
                out.unlink(missing_ok=True)
        raise
    console().print(f"{len(orders)} 笔待付 payouts -> {out}")


def _default_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no login name for this process's user
        return "cli"


def _write_payout_list(out: Path, orders: Sequence[PayoutOrder]) -> None:
    from gateway.reports.numbers import yuan

    out.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["业务编号", "付款账号", "收款账号", "收款人", "金额(元)", "用途"])
        for order in orders:
            writer.writerow(
                [
                    order.end_to_end_id,
                    order.debtor_account,
                    order.payee_account,
                    order.payee_name,
                    yuan(order.amount_fen),
                    order.remittance,
                ]
            )


@liquidation_app.command("confirm")
def confirm_command(association: AssociationOpt, actor: ActorOpt) -> None:
    """Settle the payouts the bank's statement shows paid; fail the returned ones."""
    from gateway.liquidation.service import confirm_from_statement

    with cli_session(current_settings()) as session:
        liquidation_id = _liquidation_id(session, association)
        outcome = confirm_from_statement(session, liquidation_id, actor=actor)
        console().print(
            f"已确认 settled {len(outcome.settled)}, 退回 failed {len(outcome.failed)}, "
            f"待确认 waiting {len(outcome.waiting)}"
        )
        _show(session, liquidation_id)


@liquidation_app.command("close")
def close_command(association: AssociationOpt, actor: ActorOpt, on: OnOpt = None) -> None:
    """Close the association once its books and the bank's statement are at zero."""
    from gateway.liquidation.service import close

    with cli_session(current_settings()) as session:
        liquidation_id = _liquidation_id(session, association)
        close(session, liquidation_id, on=_on(on), actor=actor)
        _show(session, liquidation_id)


def register(app: typer.Typer) -> None:
    app.add_typer(liquidation_app, name="liquidation")
