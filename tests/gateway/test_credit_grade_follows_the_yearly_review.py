"""The member's stored credit grade is what the loan rules read; the yearly review is what moves
it. A downgrade holds through on-time repayments until the next review, an application (or an
approval) above the reviewed limit is refused, and after an upgrade the larger loan goes
through. A grade set between reviews is audited with its reason."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.audit.models import AuditEvent
from gateway.errors import RuleViolation, ValidationFailed
from gateway.grading.service import adjust_grade, review_year, reviews_of
from gateway.loans import service as loans
from gateway.loans.models import Loan, LoanStatus
from gateway.loans.rules import credit_standing
from gateway.members.models import Member
from gateway.reports.scoring import CreditReviewRules
from gateway.testing import World

REVIEWER = "县办王"


def lend(
    world: World,
    borrower: Member,
    amount_fen: int,
    *,
    disbursed_on: date,
    repaid_on: date,
    late: bool = False,
) -> Loan:
    """A loan from application to full repayment, paid out on ``disbursed_on`` (12 months'
    term) and repaid on ``repaid_on``; ``late`` marks it overdue first."""
    session = world.session
    loan = world.apply(borrower, amount_fen=amount_fen, applied_on=disbursed_on - timedelta(30))
    loans.start_notice(session, loan.id, on=disbursed_on - timedelta(days=28))
    loans.council_approve(session, loan.id, on=disbursed_on - timedelta(days=20))
    loans.release_for_payment(session, loan.id, on=disbursed_on)
    loans.mark_disbursed(session, loan.id, business_date=disbursed_on)
    if late:
        loans.mark_overdue(session, loan.id)
    loans.record_repayment(
        session, loan.id, principal_fen=amount_fen, fee_fen=0, business_date=repaid_on
    )
    assert loan.status == LoanStatus.REPAID
    assert loan.repaid_on_time is (not late)
    return loan


def review(world: World, year: int) -> None:
    review_year(world.session, world.county.id, year, CreditReviewRules(), actor=REVIEWER)


def grade_events(session: Session, member: Member) -> list[tuple[str, object, object]]:
    events = session.scalars(
        select(AuditEvent)
        .where(
            AuditEvent.object_type == "member",
            AuditEvent.object_id == str(member.id),
            AuditEvent.action.like("member.credit%"),
        )
        .order_by(AuditEvent.id)
    )
    return [(e.action, e.payload["from"], e.payload["to"]) for e in events]


def test_a_downgraded_member_stays_downgraded_after_an_on_time_repayment(
    world: World, session: Session
) -> None:
    borrower = world.members_a[0]
    lend(world, borrower, 1_000_000, disbursed_on=date(2024, 4, 1), repaid_on=date(2024, 5, 1))
    review(world, 2024)
    assert borrower.credit_grade == "B"
    lend(
        world,
        borrower,
        1_500_000,
        disbursed_on=date(2025, 1, 10),
        repaid_on=date(2025, 3, 1),
        late=True,
    )
    review(world, 2025)
    assert borrower.credit_grade == "C"

    # repaid on time after the downgrade: the grade and the limit stay where the review put them
    lend(world, borrower, 1_000_000, disbursed_on=date(2026, 1, 20), repaid_on=date(2026, 2, 20))
    assert borrower.credit_grade == "C"
    standing = credit_standing(session, world.county, borrower)
    assert (standing.grade, standing.limit_fen, standing.reviewed_year) == ("C", 1_000_000, 2025)
    with pytest.raises(RuleViolation) as refused:
        world.apply(borrower, amount_fen=1_500_000)
    assert refused.value.code == "credit_limit_exceeded"
    assert "信用等级 C 的借款限额为 10000.00 元" in refused.value.message_zh
    assert "最近一次评定为 2025 年度" in refused.value.message_zh
    assert "last reviewed for 2025" in refused.value.message_en
    # only the two reviews changed the grade, each audited; the repayments recorded nothing
    assert grade_events(session, borrower) == [
        ("member.credit_review", "C", "B"),
        ("member.credit_review", "B", "C"),
    ]

    review(world, 2026)
    assert borrower.credit_grade == "B"
    assert world.apply(borrower, amount_fen=1_500_000).status == LoanStatus.APPLIED


def test_an_application_above_the_reviewed_limit_is_refused(world: World, session: Session) -> None:
    borrower = world.members_a[0]
    lend(world, borrower, 1_000_000, disbursed_on=date(2024, 4, 1), repaid_on=date(2024, 5, 1))
    review(world, 2024)
    reviewed = reviews_of(session, borrower.id)[-1]
    assert (reviewed.to_grade, reviewed.limit_fen) == ("B", 2_000_000)
    with pytest.raises(RuleViolation) as refused:
        world.apply(borrower, amount_fen=2_000_001)
    assert refused.value.code == "credit_limit_exceeded"
    assert refused.value.details["limit_fen"] == reviewed.limit_fen
    assert refused.value.details["grade"] == "B"
    assert "credit grade B allows 20000.00 yuan" in refused.value.message_en
    assert world.apply(borrower, amount_fen=2_000_000).status == LoanStatus.APPLIED


def test_a_downgrade_before_council_approval_refuses_the_approval(
    world: World, session: Session
) -> None:
    borrower = world.members_a[0]
    lend(world, borrower, 1_000_000, disbursed_on=date(2024, 4, 1), repaid_on=date(2024, 5, 1))
    review(world, 2024)
    pending = world.apply(borrower, amount_fen=1_500_000, applied_on=date(2025, 1, 2))
    loans.start_notice(session, pending.id, on=date(2025, 1, 3))
    adjust_grade(session, borrower.id, "C", reason="借款用途不实，县办降级", actor="县办张主任")
    with pytest.raises(RuleViolation) as refused:
        loans.council_approve(session, pending.id, on=date(2025, 1, 12))
    assert refused.value.code == "credit_limit_exceeded"
    assert pending.status == LoanStatus.NOTICED


def test_after_an_upgrade_review_the_larger_loan_is_allowed(world: World, session: Session) -> None:
    borrower = world.members_a[0]
    lend(world, borrower, 1_000_000, disbursed_on=date(2024, 4, 1), repaid_on=date(2024, 5, 1))
    review(world, 2024)
    with pytest.raises(RuleViolation, match="credit_limit_exceeded"):
        world.apply(borrower, amount_fen=2_500_000)
    lend(world, borrower, 2_000_000, disbursed_on=date(2025, 2, 1), repaid_on=date(2025, 8, 1))
    review(world, 2025)
    assert borrower.credit_grade == "A"
    assert reviews_of(session, borrower.id)[-1].limit_fen == 3_000_000
    larger = world.apply(borrower, amount_fen=2_500_000, applied_on=date(2026, 1, 5))
    loans.start_notice(session, larger.id, on=date(2026, 1, 6))
    loans.council_approve(session, larger.id, on=date(2026, 1, 14))
    loans.county_approve(session, larger.id, on=date(2026, 1, 15), actor="县办张主任")
    released = loans.release_for_payment(session, larger.id, on=date(2026, 1, 16))
    assert released.status == LoanStatus.RELEASED


def test_a_grade_raised_between_reviews_is_audited_with_its_reason(
    world: World, session: Session
) -> None:
    member = world.members_a[1]
    with pytest.raises(RuleViolation) as unknown:
        adjust_grade(session, member.id, "AAA", reason="x", actor="县办张主任")
    assert unknown.value.code == "unknown_credit_grade"
    with pytest.raises(ValidationFailed):
        adjust_grade(session, member.id, "A", reason="  ", actor="县办张主任")
    assert member.credit_grade == "C"
    assert grade_events(session, member) == []

    adjust_grade(session, member.id, "A", reason="外村迁入，沿用原协会评定", actor="县办张主任")
    assert credit_standing(session, world.county, member).limit_fen == 3_000_000
    event = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "member.credit_grade_adjust")
    ).one()
    assert event.actor == "县办张主任"
    assert event.object_id == str(member.id)
    assert event.payload == {
        "from": "C",
        "to": "A",
        "limit_fen": 3_000_000,
        "reason": "外村迁入，沿用原协会评定",
    }
    adjust_grade(session, member.id, "A", reason="重复提交", actor="县办张主任")
    assert len(grade_events(session, member)) == 1


def test_a_grade_missing_from_the_county_table_refuses_the_loan(
    world: World, session: Session
) -> None:
    borrower = world.members_a[0]
    borrower.credit_grade = "AA"  # e.g. the county later removed this grade from its table
    session.flush()
    with pytest.raises(RuleViolation) as refused:
        world.apply(borrower, amount_fen=100_000)
    assert refused.value.code == "unknown_credit_grade"
    assert "不在本县信用等级表（C、B、A）中" in refused.value.message_zh
    review(world, 2024)
    assert borrower.credit_grade == "C"  # the review puts the member back on the table
    assert world.apply(borrower, amount_fen=100_000).status == LoanStatus.APPLIED


def test_a_late_member_already_at_the_lowest_grade_is_not_said_to_be_downgraded(
    world: World,
) -> None:
    borrower = world.members_a[0]
    borrower.credit_grade = "C"  # the lowest grade of the county's table
    lend(
        world,
        borrower,
        100_000,
        disbursed_on=date(2024, 1, 10),
        repaid_on=date(2024, 3, 1),
        late=True,
    )

    (review,) = [
        r
        for r in review_year(world.session, world.county.id, 2024, CreditReviewRules(), actor="t")
        if r.member_id == borrower.id
    ]

    assert (review.from_grade, review.to_grade) == ("C", "C")
    assert review.reason == "2024 年有 1 笔借款逾期或未按期归还，已是最低等级，等级不变"
