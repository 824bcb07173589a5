"""The yearly credit-grade review: on-time repayers go up the county's table and get that
grade's limit, late repayers go down, each change audited; a second run for the same year
changes nothing."""

from __future__ import annotations

from sqlalchemy import select

from gateway.audit.models import AuditEvent
from gateway.grading.service import ladder, review_year, reviews_of
from gateway.loans.rules import credit_standing
from gateway.reports.scoring import CreditReviewRules
from tests.reports.county_seed import Seeded


def test_on_time_up_late_down_each_change_audited(seeded: Seeded) -> None:
    session, world = seeded.session, seeded.world
    m = world.members_a
    grades_before = {member.id: member.credit_grade for member in [*m, *world.members_b]}
    reviews = review_year(session, world.county.id, 2023, CreditReviewRules(), actor="县办王")
    session.commit()
    assert len(reviews) == 12  # every active member of both associations
    by_member = {r.member_id: r for r in reviews}
    table = ladder(session, world.county.id)
    # m0 repaid A-L1 on time in 2023, m5 repaid A-L6 on time in 2023: one grade up each
    for member in (m[0], m[5]):
        review = by_member[member.id]
        assert review.on_time_loans == 1
        assert review.to_grade == table.move(grades_before[member.id], 1)
        assert review.to_grade != review.from_grade
        assert member.credit_grade == review.to_grade
        assert review.limit_fen == table.limits[review.to_grade]
        # the loan rules apply the reviewed limit from now on
        assert credit_standing(session, world.county, member).limit_fen == review.limit_fen
    # nobody else had a loan fall due in 2023
    for member in (m[1], m[2], m[3], m[4]):
        assert by_member[member.id].to_grade == grades_before[member.id]
    events = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "member.credit_review")
    ).all()
    assert sorted(int(e.object_id) for e in events) == sorted([m[0].id, m[5].id])
    assert {e.actor for e in events} == {"县办王"}

    again = review_year(session, world.county.id, 2023, CreditReviewRules(), actor="县办王")
    assert again == []

    # 2024: A-L7 of m0 is still owed after its due date -> down; B's borrower repaid on time
    grade_m0 = m[0].credit_grade
    review_year(session, world.county.id, 2024, CreditReviewRules(), actor="县办王")
    session.commit()
    assert m[0].credit_grade == table.move(grade_m0, -1)
    assert [r.year for r in reviews_of(session, m[0].id)] == [2023, 2024]
    late = reviews_of(session, m[2].id)[-1]
    assert late.late_loans == 1  # A-L3, overdue
    # m2 was at the lowest grade already: the review says so rather than "downgraded"
    assert (late.from_grade, late.to_grade) == ("C", "C")
    assert late.reason.endswith("逾期或未按期归还，已是最低等级，等级不变")
    b0 = world.members_b[0]
    assert reviews_of(session, b0.id)[-1].on_time_loans == 1


def test_steps_are_configurable(seeded: Seeded) -> None:
    session, world = seeded.session, seeded.world
    m0 = world.members_a[0]
    m0.credit_grade = "C"
    session.flush()
    review_year(session, world.county.id, 2023, CreditReviewRules(steps_up=2), actor="x")
    assert m0.credit_grade == "A"
