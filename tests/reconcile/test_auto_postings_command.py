"""``huzhu auto-postings list|undo``: the county fund office sees what the reconciler booked
without a person and undoes one with a reason; the bank line is then the office's to resolve."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from gateway.cli import app
from gateway.loans.models import Loan, LoanStatus
from gateway.payments.models import RepaymentScheduleLine, ScheduleLineStatus
from tests.recon_support import Nights

pytestmark = pytest.mark.usefixtures("huzhu_env")


def _huzhu(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "160"})
    return result.exit_code, result.output


def _repaid_by_transfer(nights: Nights) -> tuple[Loan, RepaymentScheduleLine]:
    """A loan paid out, then its first instalment paid by the borrower's own transfer, which
    the reconciler books automatically."""
    loan, card, first = nights.disbursed_loan()
    due = first.principal_fen + first.fee_fen
    transfer = nights.line(
        nights.sub_a, due, counterparty_account=card, remittance=f"还款 {loan.contract_no}"
    )
    assert nights.night([transfer]).auto_postings == 1
    return loan, first


def test_listing_and_undoing_an_automatic_booking(nights: Nights) -> None:
    loan, first = _repaid_by_transfer(nights)
    nights.staff("alice")
    nights.staff("bob")
    code, out = _huzhu("auto-postings", "list", "--json")
    assert code == 0, out
    (booked,) = json.loads(out)
    assert (booked["kind"], booked["association"], booked["amount_fen"]) == (
        "repayment",
        nights.world.a.code,
        first.principal_fen + first.fee_fen,
    )
    code, table = _huzhu("auto-postings", "list")
    assert "借款人转账还款" in table
    assert booked["lines"][0] in table

    # the person undoing is a user who may work the queue, as in the console
    code, out = _huzhu(
        "auto-postings", "undo", str(booked["id"]), "--by", "nobody", "--reason", "x"
    )
    assert code == 1
    assert "--by nobody" in out

    # a reason is required
    code, out = _huzhu("auto-postings", "undo", str(booked["id"]), "--by", "alice", "--reason", " ")
    assert code == 1
    assert "撤销必须说明原因" in out

    code, out = _huzhu(
        "auto-postings",
        "undo",
        str(booked["id"]),
        "--by",
        "alice",
        "--reason",
        "代缴保证金",
        "--date",
        nights.day.isoformat(),
    )
    assert code == 0, out
    assert f"已撤销 undone #{booked['id']}" in out
    session = nights.settle.fresh()
    line = session.scalars(
        select(RepaymentScheduleLine).where(RepaymentScheduleLine.id == first.id)
    ).one()
    assert (line.status, line.paid_principal_fen) == (ScheduleLineStatus.OPEN, 0)
    assert session.get(Loan, loan.id).status is LoanStatus.DISBURSED  # type: ignore[union-attr]

    # gone from the list, kept with --all, and not undone twice
    assert json.loads(_huzhu("auto-postings", "list", "--json")[1]) == []
    (kept,) = json.loads(_huzhu("auto-postings", "list", "--all", "--json")[1])
    assert (kept["undone_by"], kept["undo_reason"]) == ("alice", "代缴保证金")
    code, out = _huzhu("auto-postings", "undo", str(booked["id"]), "--by", "bob", "--reason", "x")
    assert code == 1
    assert "已撤销" in out

    # the next night the line is the office's to resolve, never booked again
    after = nights.night()
    assert after.auto_postings == 0
    assert [x.kind.value for x in after.exceptions] == ["unmatched_bank"]
