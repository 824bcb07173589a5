"""Collections from the schedule: due amounts with the documented fee rounding, fee first
then principal, partial and failed collections leave the loan overdue and are retried."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from adapters.records import Direction, ResultStatus
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
from gateway.payments.schedule import build_schedule, split_payment
from tests.settle_support import DAY1, Settle, settle_in

DUE = date(2024, 8, 1)  # one month after DAY1, a Thursday


@pytest.fixture
def settle(tmp_path: Path) -> Iterator[Settle]:
    policy = CollectionPolicy(repayment_method=RepaymentMethod.LUMP_SUM, retry_after_days=[3])
    yield from settle_in(tmp_path, policy=policy)


def test_schedules_add_up_and_round_the_fee_half_up() -> None:
    lump = build_schedule(
        amount_fen=500_000,
        monthly_fee_rate_centipermille=600,
        term_months=12,
        disbursed_on=date(2024, 1, 31),
        method=RepaymentMethod.LUMP_SUM,
    )
    assert [(x.due_on, x.principal_fen, x.fee_fen) for x in lump] == [
        (date(2025, 1, 31), 500_000, 36_000)
    ]
    equal = build_schedule(
        amount_fen=333_333,
        monthly_fee_rate_centipermille=650,
        term_months=3,
        disbursed_on=date(2024, 1, 31),
        method=RepaymentMethod.EQUAL_INSTALMENTS,
    )
    assert [x.due_on for x in equal] == [date(2024, 2, 29), date(2024, 3, 31), date(2024, 4, 30)]
    assert [x.principal_fen for x in equal] == [111_111, 111_111, 111_111]
    # 333,333 × 6.5‰ = 2,166.66… → 2,167; 222,222 × 6.5‰ = 1,444.443 → 1,444
    assert [x.fee_fen for x in equal] == [2_167, 1_444, 722]
    uneven = build_schedule(
        amount_fen=100_000,
        monthly_fee_rate_centipermille=0,
        term_months=3,
        disbursed_on=date(2024, 1, 1),
        method=RepaymentMethod.EQUAL_INSTALMENTS,
    )
    assert [x.principal_fen for x in uneven] == [33_333, 33_333, 33_334]
    assert split_payment(10_000, fee_due_fen=3_000, principal_due_fen=100_000) == (7_000, 3_000)
    assert split_payment(2_000, fee_due_fen=3_000, principal_due_fen=100_000) == (0, 2_000)
    with pytest.raises(ValueError, match="outside"):
        split_payment(200_000, fee_due_fen=3_000, principal_due_fen=100_000)


def _disbursed(settle: Settle, amount_fen: int = 100_000) -> int:
    loan = settle.released_loan(amount_fen, term_months=1)
    run_date(settle.nightly, DAY1)
    settle.bank.answer(DAY1)
    run_date(settle.nightly, DAY1 + timedelta(days=1))
    return loan.id


def test_a_partial_collection_books_fee_first_makes_the_loan_overdue_and_is_retried(
    settle: Settle,
) -> None:
    loan_id = _disbursed(settle)
    # 100,000 fen for one month at 6‰: 600 fen fee, due with the principal on 1 August
    run_date(settle.nightly, DUE)
    collection = settle.instructions()[-1]
    assert collection.direction is Direction.COLLECTION
    assert (collection.amount_fen, collection.fee_fen) == (100_600, 600)
    assert collection.status is InstructionStatus.SENT

    settle.bank.answer(DUE, lambda e2e, amount: (ResultStatus.PARTIALLY_SETTLED, 40_000, "AM04"))
    run_date(settle.nightly, DUE + timedelta(days=1))
    session = settle.fresh()
    a = settle.world.a.id
    assert balance(session, a, AccountCode.FEE_INCOME) == 600
    assert balance(session, a, AccountCode.LOANS_RECEIVABLE) == 100_000 - 39_400
    loan_row = session.get(Loan, loan_id)
    assert loan_row is not None
    assert loan_row.status is LoanStatus.OVERDUE
    line = session.scalars(
        select(RepaymentScheduleLine).where(RepaymentScheduleLine.loan_id == loan_id)
    ).one()
    assert line.status is ScheduleLineStatus.OVERDUE
    assert line.next_attempt_on == DUE + timedelta(days=4)
    # the office is told in yuan, as the console shows amounts
    (told,) = session.scalars(
        select(FollowUpItem).where(FollowUpItem.kind == FollowUpKind.COLLECTION_PARTIAL)
    ).all()
    assert "部分扣款 400.00 元，尚欠 606.00 元，已转逾期" in told.message_zh

    # nothing new before the retry date; on it, a second collection for what is left
    run_date(settle.nightly, DUE + timedelta(days=2))
    assert len(settle.instructions()) == 2
    run_date(settle.nightly, DUE + timedelta(days=5))
    retry = settle.instructions()[-1]
    assert (retry.amount_fen, retry.fee_fen, retry.attempt) == (60_600, 0, 2)
    settle.bank.answer(DUE + timedelta(days=5))
    run_date(settle.nightly, DUE + timedelta(days=6))
    session = settle.fresh()
    assert balance(session, a, AccountCode.LOANS_RECEIVABLE) == 0
    loan_row = session.get(Loan, loan_id)
    assert loan_row is not None
    assert loan_row.status is LoanStatus.REPAID
    assert loan_row.repaid_on_time is False


def test_failed_collections_are_retried_per_policy_then_left_to_the_fund_office(
    settle: Settle,
) -> None:
    _disbursed(settle)
    refuse = lambda e2e, amount: (ResultStatus.REJECTED, 0, "AM04")  # noqa: E731
    run_date(settle.nightly, DUE)
    settle.bank.answer(DUE, refuse)
    run_date(settle.nightly, DUE + timedelta(days=1))
    run_date(settle.nightly, DUE + timedelta(days=4))
    settle.bank.answer(DUE + timedelta(days=4), refuse)
    run_date(settle.nightly, DUE + timedelta(days=5))
    run_date(settle.nightly, DUE + timedelta(days=12))
    collections = [i for i in settle.instructions() if i.direction is Direction.COLLECTION]
    assert [(i.attempt, i.status) for i in collections] == [
        (1, InstructionStatus.FAILED),
        (2, InstructionStatus.FAILED),
    ]
    kinds = [i.kind for i in settle.fresh().scalars(select(FollowUpItem).order_by(FollowUpItem.id))]
    assert kinds == [
        FollowUpKind.COLLECTION_FAILED,
        FollowUpKind.RETRIES_EXHAUSTED,
        FollowUpKind.COLLECTION_FAILED,
    ]
