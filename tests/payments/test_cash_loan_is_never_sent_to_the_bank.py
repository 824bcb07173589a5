"""A cash loan (a county in its transitional cash mode) is paid out in cash by the
association: releasing it books the payout as flagged cash and creates no bank
disbursement, so nothing of it reaches an instruction file and the bank cannot pay it a
second time. An ordinary loan released alongside still goes to the bank."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from adapters.records import Direction
from gateway.errors import Conflict
from gateway.jobs.pipeline import run_date
from gateway.ledger.models import AccountCode, JournalTransaction, LedgerChannel, TransactionKind
from gateway.ledger.service import balance
from gateway.loans import service as loans
from gateway.loans.models import Loan, LoanStatus
from gateway.payments import service as payments
from gateway.payments.models import (
    InstructionStatus,
    PaymentInstruction,
    RepaymentScheduleLine,
)
from gateway.settings import CashMode
from tests.settle_support import DAY1, Settle, settle_in


@pytest.fixture
def settle(tmp_path: Path) -> Iterator[Settle]:
    for built in settle_in(tmp_path):
        built.world.county.cash_mode = CashMode.TRANSITIONAL
        built.session.commit()
        yield built


def _approved(settle: Settle, channel: LedgerChannel, amount_fen: int, borrower: int) -> Loan:
    world = settle.world
    loan = world.apply(world.members_a[borrower], amount_fen=amount_fen, channel=channel)
    world.approve(loan)
    return loan


def _journal(settle: Settle, ref: str) -> JournalTransaction:
    return (
        settle.fresh()
        .scalars(
            select(JournalTransaction).where(
                JournalTransaction.external_ref == ref,
                JournalTransaction.kind == str(TransactionKind.DISBURSEMENT),
            )
        )
        .one()
    )


def test_releasing_a_cash_loan_books_flagged_cash_and_sends_nothing_to_the_bank(
    settle: Settle,
) -> None:
    a = settle.world.a.id
    bank_before = balance(settle.session, a, AccountCode.BANK_SUB_ACCOUNT)
    cash = _approved(settle, LedgerChannel.CASH, 200_000, 0)
    transfer = _approved(settle, LedgerChannel.TRANSFER, 300_000, 1)
    assert cash.cash_flagged is True
    # released through the API's path (the loan service with the payments hook) and the
    # payments service's own
    loans.release_for_payment(
        settle.session, cash.id, on=settle.world.today, on_released=payments.on_loan_released
    )
    payments.release_loan(settle.session, transfer.id, on=settle.world.today)
    settle.session.commit()

    session = settle.fresh()
    assert [i.loan_id for i in session.scalars(select(PaymentInstruction))] == [transfer.id]
    paid = session.get(Loan, cash.id)
    assert paid is not None
    assert (paid.status, paid.disbursed_on) == (LoanStatus.DISBURSED, settle.world.today)
    assert balance(session, a, AccountCode.CASH_ON_HAND) == -200_000
    assert balance(session, a, AccountCode.BANK_SUB_ACCOUNT) == bank_before
    assert balance(session, a, AccountCode.LOANS_RECEIVABLE) == 200_000
    journal = _journal(settle, cash.contract_no)
    assert (journal.channel, journal.cash_flagged) == (LedgerChannel.CASH, True)

    # the night's file holds the ordinary loan only; the bank pays it from the sub-account
    run_date(settle.nightly, DAY1)
    files = settle.bank.batches()
    assert [[i.end_to_end_id for i in b.instructions] for b in files.values()] == [
        [f"HZD{transfer.id:010d}01"]
    ]
    settle.bank.answer(DAY1)
    run_date(settle.nightly, DAY1 + timedelta(days=1))
    session = settle.fresh()
    (instruction,) = session.scalars(select(PaymentInstruction)).all()
    assert (instruction.direction, instruction.status) == (
        Direction.DISBURSEMENT,
        InstructionStatus.SETTLED,
    )
    assert balance(session, a, AccountCode.BANK_SUB_ACCOUNT) == bank_before - 300_000
    assert balance(session, a, AccountCode.CASH_ON_HAND) == -200_000
    # the cash loan has its repayment schedule, made by the county's policy at night
    lines = session.scalars(
        select(RepaymentScheduleLine).where(RepaymentScheduleLine.loan_id == cash.id)
    ).all()
    assert sum(line.principal_fen for line in lines) == 200_000
    assert len(lines) == cash.term_months  # equal monthly instalments


def test_no_bank_disbursement_can_be_made_for_a_cash_loan(settle: Settle) -> None:
    cash = _approved(settle, LedgerChannel.CASH, 200_000, 0)
    loans.release_for_payment(settle.session, cash.id, on=settle.world.today)
    with pytest.raises(Conflict, match="cash"):
        payments.create_disbursement(settle.session, cash, business_date=settle.world.today)


def test_a_cash_loan_paid_by_the_bank_all_the_same_is_booked_on_the_bank(
    settle: Settle,
) -> None:
    """A bank disbursement made for a cash loan before cash loans stopped going to the bank:
    what the bank pays comes out of the sub-account, not out of the cash box."""
    a = settle.world.a.id
    bank_before = balance(settle.session, a, AccountCode.BANK_SUB_ACCOUNT)
    cash = _approved(settle, LedgerChannel.CASH, 200_000, 0)
    loans.release_for_payment(settle.session, cash.id, on=settle.world.today)
    cash.channel = LedgerChannel.TRANSFER
    payments.create_disbursement(settle.session, cash, business_date=settle.world.today)
    cash.channel = LedgerChannel.CASH
    settle.session.commit()
    run_date(settle.nightly, DAY1)
    settle.bank.answer(DAY1)
    run_date(settle.nightly, DAY1 + timedelta(days=1))
    session = settle.fresh()
    assert balance(session, a, AccountCode.BANK_SUB_ACCOUNT) == bank_before - 200_000
    assert balance(session, a, AccountCode.CASH_ON_HAND) == 0
    (instruction,) = session.scalars(select(PaymentInstruction)).all()
    assert _journal(settle, instruction.end_to_end_id).channel == LedgerChannel.TRANSFER
