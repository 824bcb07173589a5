"""A collection the bank returns after settlement (退汇) is collected again: its retry is
scheduled by the county's policy from the day of the return, the nightly run collects it
on that day, and once no retry is left the fund office gets the same "retries exhausted"
follow-up a refused collection raises — once."""

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
from gateway.loans.models import Loan, LoanStatus
from gateway.payments.config import CollectionPolicy
from gateway.payments.models import (
    FollowUpItem,
    FollowUpKind,
    InstructionStatus,
    RepaymentMethod,
    RepaymentScheduleLine,
    ScheduleLineStatus,
)
from tests.settle_support import DAY1, Settle, bank_profile, settle_in

DUE = date(2024, 8, 1)  # a Thursday, one month after DAY1


@pytest.fixture
def settle(tmp_path: Path) -> Iterator[Settle]:
    # one retry, three days after a failure: two collection attempts in all
    policy = CollectionPolicy(repayment_method=RepaymentMethod.LUMP_SUM, retry_after_days=[3])
    yield from settle_in(tmp_path, policy=policy)


def _collected_in_full(settle: Settle) -> Loan:
    """A 1,000 yuan loan for one month, paid out on DAY1 and collected on its due date."""
    loan = settle.released_loan(100_000, term_months=1)
    run_date(settle.nightly, DAY1)
    settle.bank.answer(DAY1)
    run_date(settle.nightly, DAY1 + timedelta(days=1))
    run_date(settle.nightly, DUE)
    settle.bank.answer(DUE)
    run_date(settle.nightly, DUE + timedelta(days=1))
    row = settle.fresh().get(Loan, loan.id)
    assert row is not None
    assert row.status is LoanStatus.REPAID
    return loan


def _line(settle: Settle, loan_id: int) -> RepaymentScheduleLine:
    return (
        settle.fresh()
        .scalars(select(RepaymentScheduleLine).where(RepaymentScheduleLine.loan_id == loan_id))
        .one()
    )


def _follow_ups(settle: Settle) -> list[FollowUpKind]:
    return [
        item.kind for item in settle.fresh().scalars(select(FollowUpItem).order_by(FollowUpItem.id))
    ]


def test_a_returned_collection_is_collected_again_on_the_retry_date(settle: Settle) -> None:
    loan = _collected_in_full(settle)
    (first,) = settle.collections()
    returned_on = DUE + timedelta(days=1)
    settle.bank.put_return(first, returned_on, "R1")
    run_date(settle.nightly, returned_on + timedelta(days=1))

    session = settle.fresh()
    row = session.get(Loan, loan.id)
    assert row is not None
    assert row.status is LoanStatus.OVERDUE
    assert balance(session, settle.world.a.id, AccountCode.LOANS_RECEIVABLE) == 100_000
    line = _line(settle, loan.id)
    assert line.status is ScheduleLineStatus.OVERDUE
    assert line.next_attempt_on == returned_on + timedelta(days=3)
    assert [i.status for i in settle.collections()] == [InstructionStatus.RETURNED]

    # nothing on the days before the retry date; on it, the whole instalment again
    run_date(settle.nightly, returned_on + timedelta(days=2))
    assert len(settle.collections()) == 1
    retry_day = returned_on + timedelta(days=3)  # Monday 5 August
    run_date(settle.nightly, retry_day)
    retry = settle.collections()[-1]
    assert (retry.attempt, retry.amount_fen, retry.fee_fen, retry.status) == (
        2,
        100_600,
        600,
        InstructionStatus.SENT,
    )
    settle.bank.answer(retry_day)
    run_date(settle.nightly, retry_day + timedelta(days=1))
    session = settle.fresh()
    row = session.get(Loan, loan.id)
    assert row is not None
    assert row.status is LoanStatus.REPAID
    assert row.repaid_on_time is False
    assert balance(session, settle.world.a.id, AccountCode.LOANS_RECEIVABLE) == 0
    assert FollowUpKind.RETRIES_EXHAUSTED not in _follow_ups(settle)


def test_with_no_retry_left_a_returned_collection_raises_retries_exhausted_once(
    settle: Settle,
) -> None:
    loan = _collected_in_full(settle)
    (first,) = settle.collections()
    settle.bank.put_return(first, DUE + timedelta(days=1), "R1")
    run_date(settle.nightly, DUE + timedelta(days=2))
    retry_day = DUE + timedelta(days=4)
    run_date(settle.nightly, retry_day)
    settle.bank.answer(retry_day)
    run_date(settle.nightly, retry_day + timedelta(days=1))
    retry = settle.collections()[-1]
    assert (retry.attempt, retry.status) == (2, InstructionStatus.SETTLED)

    # the second attempt is returned too: no third one, the fund office follows up
    settle.bank.put_return(retry, retry_day + timedelta(days=1), "R2")
    for day in (2, 3, 10, 28):
        run_date(settle.nightly, retry_day + timedelta(days=day))
    assert [(i.attempt, i.status) for i in settle.collections()] == [
        (1, InstructionStatus.RETURNED),
        (2, InstructionStatus.RETURNED),
    ]
    line = _line(settle, loan.id)
    assert (line.status, line.next_attempt_on) == (ScheduleLineStatus.OVERDUE, None)
    assert _follow_ups(settle) == [
        FollowUpKind.RETURNED_AFTER_SETTLEMENT,
        FollowUpKind.RETURNED_AFTER_SETTLEMENT,
        FollowUpKind.RETRIES_EXHAUSTED,
    ]
    exhausted = (
        settle.fresh()
        .scalars(select(FollowUpItem).where(FollowUpItem.kind == FollowUpKind.RETRIES_EXHAUSTED))
        .one()
    )
    assert exhausted.instruction_id == retry.id
    assert exhausted.amount_fen == 100_600


def test_a_partial_collection_returned_after_its_rest_was_collected_is_collected_again(
    tmp_path: Path,
) -> None:
    policy = CollectionPolicy(repayment_method=RepaymentMethod.LUMP_SUM, retry_after_days=[3, 7])
    for settle in settle_in(tmp_path, policy=policy):
        loan = settle.released_loan(100_000, term_months=1)
        run_date(settle.nightly, DAY1)
        settle.bank.answer(DAY1)
        run_date(settle.nightly, DAY1 + timedelta(days=1))
        run_date(settle.nightly, DUE)
        settle.bank.answer(
            DUE, lambda e2e, amount: (ResultStatus.PARTIALLY_SETTLED, 60_000, "AM04")
        )
        run_date(settle.nightly, DUE + timedelta(days=1))
        rest_day = DUE + timedelta(days=4)  # the partial's retry: the other 406 yuan
        run_date(settle.nightly, rest_day)
        settle.bank.answer(rest_day)
        run_date(settle.nightly, rest_day + timedelta(days=1))
        assert _line(settle, loan.id).status is ScheduleLineStatus.PAID

        # the bank then sends the first attempt's 600 yuan back to the borrower
        first = settle.collections()[0]
        returned_on = rest_day + timedelta(days=1)
        settle.bank.put_return(first, returned_on, "R1")
        run_date(settle.nightly, returned_on + timedelta(days=1))
        line = _line(settle, loan.id)
        assert line.status is ScheduleLineStatus.OVERDUE
        assert line.next_attempt_on == returned_on + timedelta(days=7)  # the third attempt
        retry_day = returned_on + timedelta(days=7)
        run_date(settle.nightly, retry_day)
        again = settle.collections()[-1]
        assert (again.attempt, again.amount_fen, again.status) == (
            3,
            60_000,
            InstructionStatus.SENT,
        )


def test_a_collection_above_the_banks_file_limit_fails_like_a_refused_one(
    settle: Settle,
) -> None:
    loan = settle.released_loan(100_000, term_months=1)
    run_date(settle.nightly, DAY1)
    settle.bank.answer(DAY1)
    run_date(settle.nightly, DAY1 + timedelta(days=1))
    # the bank's per-file limit is lowered below the 1,006 yuan instalment
    settle.profile = bank_profile(limits={"max_amount_fen_per_file": 100_300})
    settle.nightly = settle.make_nightly()
    run_date(settle.nightly, DUE)

    (refused,) = settle.collections()
    assert refused.status is InstructionStatus.FAILED
    row = settle.fresh().get(Loan, loan.id)
    assert row is not None
    assert row.status is LoanStatus.OVERDUE  # not left "disbursed", uncollected for ever
    line = _line(settle, loan.id)
    assert (line.status, line.next_attempt_on) == (
        ScheduleLineStatus.OVERDUE,
        DUE + timedelta(days=3),
    )
    assert _follow_ups(settle) == [FollowUpKind.OVER_FILE_LIMIT]

    # the limit is raised again: the retry goes out and collects the instalment
    settle.profile = bank_profile()
    settle.nightly = settle.make_nightly()
    retry_day = DUE + timedelta(days=4)  # Monday; the retry fell due on Sunday
    run_date(settle.nightly, retry_day)
    settle.bank.answer(retry_day)
    run_date(settle.nightly, retry_day + timedelta(days=1))
    row = settle.fresh().get(Loan, loan.id)
    assert row is not None
    assert row.status is LoanStatus.REPAID
