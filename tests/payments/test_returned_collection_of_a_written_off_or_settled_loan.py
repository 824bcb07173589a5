"""A collection the bank sends back (退汇) after its loan was written off, or after it was held
in suspense, undoes exactly what it booked and is not collected again: a written-off loan's
returned principal goes back to 呆坏账核销 (the loan's outstanding principal is what is
written off, 应收借款 stays at zero), and money held in suspense leaves suspense without
touching the loan."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from adapters.records import ResultStatus
from gateway.jobs.pipeline import run_date
from gateway.ledger.models import AccountCode
from gateway.ledger.service import balance
from gateway.liquidation import service as liquidation
from gateway.loans import service as loans
from gateway.loans.models import Loan, LoanStatus
from gateway.payments.config import CollectionPolicy
from gateway.payments.models import (
    FollowUpItem,
    FollowUpKind,
    InstructionStatus,
    PaymentInstruction,
    RepaymentMethod,
    RepaymentScheduleLine,
    ScheduleLineStatus,
)
from tests.settle_support import DAY1, Settle, settle_in

DUE = date(2024, 8, 1)  # a Thursday, one month after DAY1
RETURNED_ON = DUE + timedelta(days=1)
CAPITAL = 10_000_000  # association A's opening bank balance


@pytest.fixture
def settle(tmp_path: Path) -> Iterator[Settle]:
    policy = CollectionPolicy(repayment_method=RepaymentMethod.LUMP_SUM, retry_after_days=[3])
    yield from settle_in(tmp_path, policy=policy)


def _collection_sent(settle: Settle) -> Loan:
    """A 1,000 yuan one-month loan (6 yuan fee) paid out on DAY1, its collection sent on DUE."""
    loan = settle.released_loan(100_000, term_months=1)
    run_date(settle.nightly, DAY1)
    settle.bank.answer(DAY1)
    run_date(settle.nightly, DAY1 + timedelta(days=1))
    run_date(settle.nightly, DUE)
    return loan


def _write_off(settle: Settle, loan: Loan) -> None:
    """The association goes into liquidation on DUE and the loan is written off."""
    session = settle.fresh()
    opened = liquidation.start(session, settle.world.a.id, on=DUE, reason="撤销", actor="县办")
    review = liquidation.list_for_write_off(
        session, opened.id, loan.id, on=DUE, reason="无法收回", actor="clerk"
    )
    liquidation.decide_write_off(session, review.id, approve=True, on=DUE, actor="head")
    session.commit()


def _return(settle: Settle, instruction: PaymentInstruction) -> None:
    """The bank's statement for RETURNED_ON shows the collection sent back to the borrower;
    the nightly run of the day after reads it."""
    settle.bank.put_return(instruction, RETURNED_ON, "R1")
    run_date(settle.nightly, RETURNED_ON + timedelta(days=1))


def _accounts(settle: Settle) -> dict[AccountCode, int]:
    session = settle.fresh()
    return {
        code: balance(session, settle.world.a.id, code)
        for code in (
            AccountCode.BANK_SUB_ACCOUNT,
            AccountCode.LOANS_RECEIVABLE,
            AccountCode.WRITE_OFF,
            AccountCode.FEE_INCOME,
            AccountCode.SUSPENSE,
        )
    }


def _loan(settle: Settle, loan_id: int) -> Loan:
    row = settle.fresh().get(Loan, loan_id)
    assert row is not None
    return row


def _returned_follow_up(settle: Settle) -> FollowUpItem:
    return (
        settle.fresh()
        .scalars(
            select(FollowUpItem).where(FollowUpItem.kind == FollowUpKind.RETURNED_AFTER_SETTLEMENT)
        )
        .one()
    )


def test_a_recovered_collection_returned_goes_back_to_the_write_off(
    settle: Settle, monkeypatch: pytest.MonkeyPatch
) -> None:
    loan = _collection_sent(settle)
    with monkeypatch.context() as race:
        # approved at the very moment the nightly step sent the collection, neither seeing
        # the other's work (the approval checks for a collection with the bank)
        race.setattr(liquidation, "_collection_with_bank", lambda session, loan_id: None)
        _write_off(settle, loan)
    settle.bank.answer(DUE)  # collected all the same: booked as recovered
    run_date(settle.nightly, DUE + timedelta(days=1))
    assert _accounts(settle)[AccountCode.WRITE_OFF] == 0

    (collection,) = settle.collections()
    _return(settle, collection)
    assert _accounts(settle) == {
        AccountCode.BANK_SUB_ACCOUNT: CAPITAL - 100_000,
        AccountCode.LOANS_RECEIVABLE: 0,
        AccountCode.WRITE_OFF: 100_000,
        AccountCode.FEE_INCOME: 0,
        AccountCode.SUSPENSE: 0,
    }
    row = _loan(settle, loan.id)
    assert (row.status, row.outstanding_principal_fen, row.fee_paid_fen) == (
        LoanStatus.WRITTEN_OFF,
        100_000,
        0,
    )
    assert "不再扣款" in _returned_follow_up(settle).message_zh
    run_date(settle.nightly, RETURNED_ON + timedelta(days=5))
    assert [i.status for i in settle.collections()] == [InstructionStatus.RETURNED]


def test_a_collection_booked_before_the_write_off_and_returned_after_it_is_written_off_too(
    settle: Settle,
) -> None:
    loan = _collection_sent(settle)
    settle.bank.answer(DUE, lambda e2e, amount: (ResultStatus.PARTIALLY_SETTLED, 60_000, "AM04"))
    run_date(settle.nightly, DUE + timedelta(days=1))
    _write_off(settle, loan)  # the other 406 yuan; no collection is with the bank
    assert _accounts(settle)[AccountCode.WRITE_OFF] == 40_600

    (collection,) = settle.collections()
    _return(settle, collection)
    # the 594 yuan principal it had repaid is owed again and written off with the rest
    assert _accounts(settle) == {
        AccountCode.BANK_SUB_ACCOUNT: CAPITAL - 100_000,
        AccountCode.LOANS_RECEIVABLE: 0,
        AccountCode.WRITE_OFF: 100_000,
        AccountCode.FEE_INCOME: 0,
        AccountCode.SUSPENSE: 0,
    }
    row = _loan(settle, loan.id)
    assert (row.status, row.outstanding_principal_fen) == (LoanStatus.WRITTEN_OFF, 100_000)


def test_a_collection_held_in_suspense_returned_leaves_the_loan_as_it_was(settle: Settle) -> None:
    loan = _collection_sent(settle)
    # the borrower paid the instalment by transfer meanwhile (booked by the reconciler)
    session = settle.fresh()
    line = session.scalars(
        select(RepaymentScheduleLine).where(RepaymentScheduleLine.loan_id == loan.id)
    ).one()
    loans.record_repayment(
        session,
        loan.id,
        principal_fen=100_000,
        fee_fen=600,
        business_date=DUE,
        external_ref="TRANSFER-1",
        actor="reconciler",
    )
    line.paid_principal_fen, line.paid_fee_fen = 100_000, 600
    line.status = ScheduleLineStatus.PAID
    session.commit()
    settle.bank.answer(DUE)  # collected a second time: held in suspense
    run_date(settle.nightly, DUE + timedelta(days=1))
    assert _accounts(settle)[AccountCode.SUSPENSE] == -100_600

    (collection,) = settle.collections()
    _return(settle, collection)  # the bank gives the borrower the second payment back
    assert _accounts(settle) == {
        AccountCode.BANK_SUB_ACCOUNT: CAPITAL + 600,
        AccountCode.LOANS_RECEIVABLE: 0,
        AccountCode.WRITE_OFF: 0,
        AccountCode.FEE_INCOME: 600,
        AccountCode.SUSPENSE: 0,
    }
    row = _loan(settle, loan.id)
    assert (row.status, row.principal_repaid_fen, row.fee_paid_fen) == (
        LoanStatus.REPAID,
        100_000,
        600,
    )
    line = (
        settle.fresh()
        .scalars(select(RepaymentScheduleLine).where(RepaymentScheduleLine.loan_id == loan.id))
        .one()
    )
    assert line.status is ScheduleLineStatus.PAID
    assert "不受影响" in _returned_follow_up(settle).message_zh
    run_date(settle.nightly, RETURNED_ON + timedelta(days=5))
    assert len(settle.collections()) == 1
