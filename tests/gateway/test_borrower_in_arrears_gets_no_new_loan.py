"""A member with an overdue loan gets no new loan until it is caught up, as such a member may
not guarantee one either: the application is refused naming the overdue loan, and a loan
applied for before the arrears is refused again at council approval and at release."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from gateway.errors import RuleViolation
from gateway.loans import service as loans
from gateway.loans.models import Loan, LoanStatus
from gateway.members.models import Member
from gateway.testing import World


def _overdue_loan(world: World, borrower: Member) -> Loan:
    loan = world.approve(world.apply(borrower, amount_fen=100_000))
    world.release(loan)
    loans.mark_disbursed(world.session, loan.id, business_date=world.today)
    return loans.mark_overdue(world.session, loan.id)


def _refused_for_arrears(error: RuleViolation, overdue: Loan) -> None:
    assert error.code == "borrower_in_arrears"
    assert f"有逾期借款 {overdue.contract_no}" in error.message_zh
    assert "还清逾期款项前不能再借款" in error.message_zh
    assert f"has an overdue loan ({overdue.contract_no})" in error.message_en
    assert error.details["overdue_contracts"] == [overdue.contract_no]


def test_a_borrower_with_an_overdue_loan_is_refused_a_new_application(
    world: World, session: Session
) -> None:
    borrower = world.members_a[0]
    overdue = _overdue_loan(world, borrower)
    with pytest.raises(RuleViolation) as refused:
        world.apply(borrower, amount_fen=100_000)
    _refused_for_arrears(refused.value, overdue)


def test_a_loan_applied_for_before_the_arrears_is_refused_at_approval_and_release(
    world: World, session: Session
) -> None:
    borrower = world.members_a[0]
    waiting = world.apply(borrower, amount_fen=100_000)
    approved = world.approve(world.apply(borrower, amount_fen=100_000))
    overdue = _overdue_loan(world, borrower)

    loans.start_notice(session, waiting.id, on=world.today)
    with pytest.raises(RuleViolation) as at_approval:
        loans.council_approve(session, waiting.id, on=world.today)
    _refused_for_arrears(at_approval.value, overdue)

    with pytest.raises(RuleViolation) as at_release:
        world.release(approved)
    _refused_for_arrears(at_release.value, overdue)
    assert approved.status == LoanStatus.COUNCIL_APPROVED


def test_once_caught_up_the_borrower_may_borrow_again(world: World, session: Session) -> None:
    borrower = world.members_a[0]
    overdue = _overdue_loan(world, borrower)
    overdue.status = LoanStatus.REPAYING  # what gateway.payments.caught_up does
    session.flush()
    assert world.apply(borrower, amount_fen=100_000).status == LoanStatus.APPLIED
