"""A result file applies whole although one of its collections can no longer go to its loan.

Association A's loan T-0001 (1,000 yuan, one month, 6 yuan fee) and association B's loan
(500 yuan, one month) are collected in the same file. While A's collection is with the bank,
A's loan is written off (an approval made at the very moment the nightly step sent the
collection) or paid by transfer. The bank collects it all the same. Before, the whole file was
quarantined ("借款 T-0001 当前状态为 written_off"): B's repayment was never booked and the money
sat in the bank unbooked. Now every answer of the file is booked: B's loan is repaid; A's money
is booked to A, as a recovery of the write-off or, where the loan no longer owes it, held in
suspense, and the fund office gets a follow-up saying which."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from adapters.records import ResultStatus
from gateway.ingestion.models import InboundFile, InboundKind, InboundStatus
from gateway.jobs.pipeline import run_date
from gateway.ledger.models import AccountCode
from gateway.ledger.service import balance
from gateway.liquidation import service as liquidation
from gateway.loans import service as loans
from gateway.loans.models import Loan, LoanStatus
from gateway.payments import service as payments
from gateway.payments.config import CollectionPolicy
from gateway.payments.models import (
    FollowUpItem,
    FollowUpKind,
    InstructionStatus,
    RepaymentMethod,
    RepaymentScheduleLine,
    ScheduleLineStatus,
)
from tests.settle_support import DAY1, Settle, settle_in

DUE = date(2024, 8, 1)  # a Thursday, one month after DAY1


@pytest.fixture
def settle(tmp_path: Path) -> Iterator[Settle]:
    policy = CollectionPolicy(repayment_method=RepaymentMethod.LUMP_SUM, retry_after_days=[3])
    yield from settle_in(tmp_path, policy=policy)


def _two_collections_sent(settle: Settle) -> tuple[Loan, Loan]:
    """A's and B's loans paid out on DAY1; on their due date both collections are sent."""
    loan_a = settle.released_loan(100_000, term_months=1)
    world = settle.world
    loan_b = world.apply(world.members_b[0], association=world.b, amount_fen=50_000)
    loan_b.term_months = 1
    world.approve(loan_b)
    payments.release_loan(settle.session, loan_b.id, on=world.today)
    settle.session.commit()
    run_date(settle.nightly, DAY1)
    settle.bank.answer(DAY1)
    run_date(settle.nightly, DAY1 + timedelta(days=1))
    run_date(settle.nightly, DUE)
    assert [i.status for i in settle.collections()] == [InstructionStatus.SENT] * 2
    return loan_a, loan_b


def _written_off_while_collecting(
    settle: Settle, loan: Loan, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The write-off approved in a transaction that could not yet see the collection the
    nightly step was sending (the approval now checks for one; here both ran at once)."""
    session = settle.fresh()
    opened = liquidation.start(session, settle.world.a.id, on=DUE, reason="撤销", actor="县办")
    with monkeypatch.context() as race:
        race.setattr(liquidation, "_collection_with_bank", lambda session, loan_id: None)
        review = liquidation.list_for_write_off(
            session, opened.id, loan.id, on=DUE, reason="无法收回", actor="clerk"
        )
        liquidation.decide_write_off(session, review.id, approve=True, on=DUE, actor="head")
    session.commit()


def _result_files(settle: Settle) -> list[tuple[InboundStatus, str | None]]:
    return [
        (f.status, f.reason)
        for f in settle.fresh().scalars(
            select(InboundFile).where(InboundFile.kind == InboundKind.RESULT)
        )
    ]


def _follow_ups(settle: Settle, kind: FollowUpKind) -> list[FollowUpItem]:
    return list(
        settle.fresh().scalars(
            select(FollowUpItem).where(FollowUpItem.kind == kind).order_by(FollowUpItem.id)
        )
    )


def _loan(settle: Settle, loan_id: int) -> Loan:
    row = settle.fresh().get(Loan, loan_id)
    assert row is not None
    return row


def test_a_collection_on_a_loan_written_off_meanwhile_is_recovered_and_the_file_applies(
    settle: Settle, monkeypatch: pytest.MonkeyPatch
) -> None:
    loan_a, loan_b = _two_collections_sent(settle)
    _written_off_while_collecting(settle, loan_a, monkeypatch)
    a = settle.world.a.id
    assert balance(settle.fresh(), a, AccountCode.WRITE_OFF) == 100_000

    settle.bank.answer(DUE)  # the bank collects both in full
    run_date(settle.nightly, DUE + timedelta(days=1))

    assert _result_files(settle) == [(InboundStatus.APPLIED, None)] * 2  # payout, collections
    # B's repayment in the same file is booked
    assert _loan(settle, loan_b.id).status is LoanStatus.REPAID
    assert balance(settle.fresh(), settle.world.b.id, AccountCode.LOANS_RECEIVABLE) == 0
    # A's 1,006 yuan are booked to A: the write-off recovered, the fee income
    assert [i.status for i in settle.collections()] == [InstructionStatus.SETTLED] * 2
    session = settle.fresh()
    assert balance(session, a, AccountCode.BANK_SUB_ACCOUNT) == 10_000_000 + 600
    assert balance(session, a, AccountCode.WRITE_OFF) == 0
    assert balance(session, a, AccountCode.LOANS_RECEIVABLE) == 0
    assert balance(session, a, AccountCode.FEE_INCOME) == 600
    row = _loan(settle, loan_a.id)
    assert (row.status, row.outstanding_principal_fen, row.fee_paid_fen) == (
        LoanStatus.WRITTEN_OFF,
        0,
        600,
    )
    (recovered,) = _follow_ups(settle, FollowUpKind.WRITTEN_OFF_RECOVERED)
    assert (recovered.association_id, recovered.amount_fen) == (a, 100_600)
    assert "已核销" in recovered.message_zh
    assert "recovered 100600 fen" in recovered.message_en
    assert _follow_ups(settle, FollowUpKind.FILE_QUARANTINED) == []

    # nothing is owed or with the bank any more: the liquidation goes on
    session = settle.fresh()
    opened = liquidation.liquidation_of(session, a)
    liquidation.close_books(session, opened.id, on=DUE + timedelta(days=1), actor="县办")
    session.commit()


def test_a_part_collected_on_a_loan_written_off_meanwhile_shrinks_the_write_off(
    settle: Settle, monkeypatch: pytest.MonkeyPatch
) -> None:
    loan_a, loan_b = _two_collections_sent(settle)
    _written_off_while_collecting(settle, loan_a, monkeypatch)
    a_collection = settle.collections()[0]

    def answer(e2e: str, amount: int) -> tuple[ResultStatus, int, str | None]:
        if e2e == a_collection.end_to_end_id:
            return ResultStatus.PARTIALLY_SETTLED, 60_000, "AM04"
        return ResultStatus.SETTLED, amount, None

    settle.bank.answer(DUE, answer)
    run_date(settle.nightly, DUE + timedelta(days=1))

    assert _loan(settle, loan_b.id).status is LoanStatus.REPAID
    # 600 yuan: the 6 yuan fee and 594 yuan of the principal written off
    session = settle.fresh()
    a = settle.world.a.id
    row = _loan(settle, loan_a.id)
    assert (row.status, row.outstanding_principal_fen) == (LoanStatus.WRITTEN_OFF, 40_600)
    assert balance(session, a, AccountCode.WRITE_OFF) == row.outstanding_principal_fen
    assert balance(session, a, AccountCode.LOANS_RECEIVABLE) == 0
    assert balance(session, a, AccountCode.FEE_INCOME) == 600
    assert _follow_ups(settle, FollowUpKind.COLLECTION_PARTIAL) == []
    # a written-off loan is not collected again
    run_date(settle.nightly, DUE + timedelta(days=5))
    assert len(settle.collections()) == 2


def test_a_collection_on_an_instalment_paid_by_transfer_meanwhile_is_held_in_suspense(
    settle: Settle,
) -> None:
    loan_a, loan_b = _two_collections_sent(settle)
    # while the collection is with the bank, the borrower pays the instalment by transfer,
    # booked by the reconciler (the line paid, the loan repaid)
    session = settle.fresh()
    line = session.scalars(
        select(RepaymentScheduleLine).where(RepaymentScheduleLine.loan_id == loan_a.id)
    ).one()
    loans.record_repayment(
        session,
        loan_a.id,
        principal_fen=line.principal_fen,
        fee_fen=line.fee_fen,
        business_date=DUE,
        external_ref="TRANSFER-1",
        actor="reconciler",
    )
    line.paid_principal_fen, line.paid_fee_fen = line.principal_fen, line.fee_fen
    line.status = ScheduleLineStatus.PAID
    session.commit()

    settle.bank.answer(DUE)  # ... and the bank collects the instalment as well
    run_date(settle.nightly, DUE + timedelta(days=1))

    assert _result_files(settle) == [(InboundStatus.APPLIED, None)] * 2
    assert _loan(settle, loan_b.id).status is LoanStatus.REPAID
    # the second 1,006 yuan are in A's books, held in suspense; the loan took the first only
    session = settle.fresh()
    a = settle.world.a.id
    assert balance(session, a, AccountCode.BANK_SUB_ACCOUNT) == 10_000_000 + 600 + 100_600
    assert balance(session, a, AccountCode.SUSPENSE) == -100_600
    assert balance(session, a, AccountCode.LOANS_RECEIVABLE) == 0
    assert balance(session, a, AccountCode.FEE_INCOME) == 600  # the fee charged once
    row = _loan(settle, loan_a.id)
    assert (row.status, row.principal_repaid_fen, row.fee_paid_fen) == (
        LoanStatus.REPAID,
        100_000,
        600,
    )
    (held,) = _follow_ups(settle, FollowUpKind.COLLECTION_HELD)
    assert (held.association_id, held.amount_fen) == (a, 100_600)
    assert "暂记款项" in held.message_zh
    assert "suspense" in held.message_en
