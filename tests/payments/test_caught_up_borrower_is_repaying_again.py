"""A borrower whose refused instalment is collected on a retry is no longer overdue: the
loan is repaying again, the borrower is not in arrears (and may guarantee), and the
evaluation figures count no overdue loan. An instalment still unpaid past its due date
keeps the loan overdue."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from adapters.records import Direction, InstructionResult, ResultStatus
from gateway.ingestion.models import InboundFile
from gateway.jobs.pipeline import run_date
from gateway.ledger.models import AccountCode
from gateway.ledger.service import balance
from gateway.loans.models import Loan, LoanStatus
from gateway.loans.rules import in_arrears
from gateway.payments import service as payments
from gateway.payments.config import CollectionPolicy
from gateway.payments.models import (
    InstructionStatus,
    PaymentInstruction,
    RepaymentMethod,
    RepaymentScheduleLine,
    ScheduleLineStatus,
)
from gateway.reports.figures import evaluate
from tests.settle_support import DAY1, Settle, settle_in

FIRST_DUE = date(2024, 8, 1)
SECOND_DUE = date(2024, 9, 1)
REFUSE = lambda e2e, amount: (ResultStatus.REJECTED, 0, "AM04")  # noqa: E731


def _equal_instalments(tmp_path: Path, retry_after_days: list[int]) -> Iterator[Settle]:
    policy = CollectionPolicy(
        repayment_method=RepaymentMethod.EQUAL_INSTALMENTS, retry_after_days=retry_after_days
    )
    yield from settle_in(tmp_path, policy=policy)


@pytest.fixture
def settle(tmp_path: Path) -> Iterator[Settle]:
    yield from _equal_instalments(tmp_path, [3, 7])


@pytest.fixture
def slow_retry(tmp_path: Path) -> Iterator[Settle]:
    """A county that retries a refused collection only after 35 days."""
    yield from _equal_instalments(tmp_path, [35])


def _paid_out(settle: Settle) -> Loan:
    """A 3,000 yuan loan over three months, paid onto the card on DAY1."""
    loan = settle.released_loan(300_000, term_months=3)
    run_date(settle.nightly, DAY1)
    settle.bank.answer(DAY1)
    run_date(settle.nightly, DAY1 + timedelta(days=1))
    return loan


def _loan(settle: Settle, loan_id: int) -> Loan:
    loan = settle.fresh().get(Loan, loan_id)
    assert loan is not None
    return loan


def _lines(settle: Settle, loan_id: int) -> list[RepaymentScheduleLine]:
    return list(
        settle.fresh().scalars(
            select(RepaymentScheduleLine)
            .where(RepaymentScheduleLine.loan_id == loan_id)
            .order_by(RepaymentScheduleLine.instalment_no)
        )
    )


def _refused_then_retry_sent(settle: Settle, loan: Loan) -> date:
    """Instalment 1 refused on its due date; returns the day its retry was sent."""
    run_date(settle.nightly, FIRST_DUE)
    settle.bank.answer(FIRST_DUE, REFUSE)
    run_date(settle.nightly, FIRST_DUE + timedelta(days=1))
    assert _loan(settle, loan.id).status is LoanStatus.OVERDUE
    assert in_arrears(settle.fresh(), loan.member_id)
    retry_day = _lines(settle, loan.id)[0].next_attempt_on
    assert retry_day == FIRST_DUE + timedelta(days=4)
    run_date(settle.nightly, retry_day)
    retry = settle.instructions()[-1]
    assert (retry.direction, retry.attempt, retry.status) == (
        Direction.COLLECTION,
        2,
        InstructionStatus.SENT,
    )
    return retry_day


def _assert_caught_up(settle: Settle, loan: Loan, as_of: date) -> None:
    session = settle.fresh()
    row = _loan(settle, loan.id)
    assert row.status is LoanStatus.REPAYING
    assert row.was_overdue is True
    assert not in_arrears(session, loan.member_id)
    first, second, third = _lines(settle, loan.id)
    assert first.status is ScheduleLineStatus.PAID
    assert (second.status, third.status) == (ScheduleLineStatus.OPEN, ScheduleLineStatus.OPEN)
    figures = evaluate(session, settle.world.a.id, as_of=as_of)
    assert figures.overdue.count == 0
    assert figures.overdue.amount_fen == 0
    # instalment 1's principal (100,000 fen) is back in the sub-account
    assert balance(session, settle.world.a.id, AccountCode.LOANS_RECEIVABLE) == 200_000


def test_a_retry_that_collects_the_refused_instalment_makes_the_loan_repaying_again(
    settle: Settle,
) -> None:
    loan = _paid_out(settle)
    retry_day = _refused_then_retry_sent(settle, loan)
    settle.bank.answer(retry_day)
    run_date(settle.nightly, retry_day + timedelta(days=1))
    assert settle.instructions()[-1].status is InstructionStatus.SETTLED
    _assert_caught_up(settle, loan, retry_day + timedelta(days=1))


def test_a_retry_settled_on_its_own_catches_the_loan_up_too(settle: Settle) -> None:
    """The same through the single-answer path (an answer applied by itself)."""
    loan = _paid_out(settle)
    retry_day = _refused_then_retry_sent(settle, loan)
    session = settle.fresh()
    retry = session.scalars(select(PaymentInstruction).order_by(PaymentInstruction.id)).all()[-1]
    earlier_file = session.scalars(select(InboundFile.id)).first()
    assert earlier_file is not None
    outcome = payments.apply_result(
        session,
        retry,
        InstructionResult(
            end_to_end_id=retry.end_to_end_id,
            status=ResultStatus.SETTLED,
            settled_amount_fen=retry.amount_fen,
            requested_amount_fen=retry.amount_fen,
            booking_date=retry_day,
        ),
        business_date=retry_day + timedelta(days=1),
        inbound_file_id=earlier_file,
        config=settle.payments,
    )
    session.commit()
    assert outcome == "settled"
    _assert_caught_up(settle, loan, retry_day + timedelta(days=1))


def test_a_loan_with_another_instalment_past_due_and_unpaid_stays_overdue(
    slow_retry: Settle,
) -> None:
    settle = slow_retry
    loan = _paid_out(settle)
    run_date(settle.nightly, FIRST_DUE)
    settle.bank.answer(FIRST_DUE, REFUSE)
    run_date(settle.nightly, FIRST_DUE + timedelta(days=1))
    # instalment 2 falls due (a Sunday: sent on Monday) and is refused too, before
    # instalment 1's retry
    monday = SECOND_DUE + timedelta(days=1)
    run_date(settle.nightly, SECOND_DUE)
    run_date(settle.nightly, monday)
    settle.bank.answer(monday, REFUSE)
    run_date(settle.nightly, monday + timedelta(days=1))
    assert _lines(settle, loan.id)[1].status is ScheduleLineStatus.OVERDUE
    retry_day = FIRST_DUE + timedelta(days=1 + 35)
    assert _lines(settle, loan.id)[0].next_attempt_on == retry_day
    run_date(settle.nightly, retry_day)
    retry = settle.instructions()[-1]
    assert (retry.attempt, retry.status) == (2, InstructionStatus.SENT)
    settle.bank.answer(retry_day)
    run_date(settle.nightly, retry_day + timedelta(days=1))

    session = settle.fresh()
    first, second, _ = _lines(settle, loan.id)
    assert first.status is ScheduleLineStatus.PAID
    assert second.status is ScheduleLineStatus.OVERDUE
    assert _loan(settle, loan.id).status is LoanStatus.OVERDUE
    assert in_arrears(session, loan.member_id)
    figures = evaluate(session, settle.world.a.id, as_of=retry_day + timedelta(days=1))
    assert figures.overdue.count == 1
