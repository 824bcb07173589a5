"""The loan service keeps the notice and release dates inside the application's window:
a notice never starts before the application, and with the server's business date
(``today``) neither the notice nor the release may lie after it, and the release waits for
the notice period counted from the stored start."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from gateway.errors import RuleViolation
from gateway.loans import service as loans
from gateway.loans.models import LoanStatus
from gateway.testing import World


def test_a_notice_before_the_application_is_refused(world: World, session: Session) -> None:
    loan = world.apply(world.members_a[0], applied_on=world.today)
    with pytest.raises(RuleViolation) as info:
        loans.start_notice(session, loan.id, on=world.today - timedelta(days=30))
    assert info.value.code == "date_before_application"
    assert "不能倒签" in info.value.message_zh
    assert loan.status is LoanStatus.APPLIED
    assert loan.notice_start is None


def test_a_notice_after_the_business_date_is_refused(world: World, session: Session) -> None:
    loan = world.apply(world.members_a[0], applied_on=world.today)
    with pytest.raises(RuleViolation) as info:
        loans.start_notice(session, loan.id, on=world.today + timedelta(days=1), today=world.today)
    assert info.value.code == "date_in_future"
    assert loan.status is LoanStatus.APPLIED


def test_release_waits_for_the_period_from_the_stored_start(world: World, session: Session) -> None:
    days = world.county.notice_days
    loan = world.apply(world.members_a[0], applied_on=world.today)
    loans.start_notice(session, loan.id, on=world.today, today=world.today)
    loans.council_approve(session, loan.id, on=world.today)
    ends = world.today + timedelta(days=days)
    with pytest.raises(RuleViolation) as info:
        loans.release_for_payment(session, loan.id, on=world.today, today=world.today)
    assert info.value.code == "notice_not_elapsed"
    # A release dated at the end of the notice is refused while the server is still before it.
    with pytest.raises(RuleViolation) as info:
        loans.release_for_payment(session, loan.id, on=ends, today=ends - timedelta(days=1))
    assert info.value.code == "date_in_future"
    assert loan.status is LoanStatus.COUNCIL_APPROVED
    released = loans.release_for_payment(session, loan.id, on=ends, today=ends)
    assert released.status is LoanStatus.RELEASED
    assert released.released_on == ends
