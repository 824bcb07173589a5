"""A loan falling due on a Saturday is collected by the system's own direct debit, which the
bank books on Monday: the borrower paid when asked, so the loan is repaid on time and the
yearly review raises the member's grade. A borrower whose first collection failed is late."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from adapters.records import ResultStatus
from gateway.grading.service import review_year
from gateway.jobs.pipeline import run_date
from gateway.loans.models import Loan, LoanStatus
from gateway.members.models import Member
from gateway.payments.config import CollectionPolicy
from gateway.payments.models import RepaymentMethod
from gateway.reports.scoring import CreditReviewRules
from tests.settle_support import DAY1, Settle, settle_in

SATURDAY = date(2024, 8, 3)
MONDAY = date(2024, 8, 5)


@pytest.fixture
def settle(tmp_path: Path) -> Iterator[Settle]:
    policy = CollectionPolicy(repayment_method=RepaymentMethod.LUMP_SUM, retry_after_days=[3])
    yield from settle_in(tmp_path, policy=policy)


def _loan_due_on_saturday(settle: Settle) -> Loan:
    loan = settle.released_loan(100_000, term_months=1)
    borrower = settle.session.get(Member, loan.member_id)
    assert borrower is not None
    borrower.credit_grade = "B"
    settle.session.commit()
    run_date(settle.nightly, DAY1)
    settle.bank.answer(date(2024, 7, 3))  # paid onto the card on Wednesday 3 July
    run_date(settle.nightly, date(2024, 7, 4))
    row = settle.fresh().get(Loan, loan.id)
    assert row is not None
    assert row.due_on == SATURDAY
    for day in (date(2024, 8, 2), SATURDAY, date(2024, 8, 4), MONDAY):
        run_date(settle.nightly, day)
    return row


def _review(settle: Settle, loan: Loan) -> tuple[str, str, str]:
    session = settle.fresh()
    reviews = review_year(session, settle.world.county.id, 2024, CreditReviewRules(), actor="t")
    (mine,) = [r for r in reviews if r.member_id == loan.member_id]
    return mine.from_grade, mine.to_grade, mine.reason


def test_the_first_collection_booked_on_monday_repays_on_time(settle: Settle) -> None:
    loan = _loan_due_on_saturday(settle)
    settle.bank.answer(MONDAY)
    run_date(settle.nightly, date(2024, 8, 6))

    row = settle.fresh().get(Loan, loan.id)
    assert row is not None
    assert (row.status, row.repaid_on, row.repaid_on_time) == (LoanStatus.REPAID, MONDAY, True)
    before, after, reason = _review(settle, loan)
    assert (before, after) == ("B", "A")
    assert "按期还清" in reason


def test_a_borrower_whose_first_collection_failed_is_late(settle: Settle) -> None:
    loan = _loan_due_on_saturday(settle)
    settle.bank.answer(MONDAY, lambda e2e, amount: (ResultStatus.REJECTED, 0, "AM04"))
    run_date(settle.nightly, date(2024, 8, 6))
    for day in (date(2024, 8, 7), date(2024, 8, 8), date(2024, 8, 9)):  # retried 3 days on
        run_date(settle.nightly, day)
    assert settle.bank.answer(date(2024, 8, 9))
    run_date(settle.nightly, date(2024, 8, 12))

    row = settle.fresh().get(Loan, loan.id)
    assert row is not None
    assert (row.status, row.repaid_on_time) == (LoanStatus.REPAID, False)
    before, after, reason = _review(settle, loan)
    assert (before, after) == ("B", "C")
    assert reason.endswith("降级")
