"""The yearly credit-grade review (信用等级年度评定): what moves a member's credit grade.

A member's stored ``credit_grade`` is the single source of truth for their borrowing limit:
the loan rules (:func:`gateway.loans.rules.credit_standing`) read it and take its limit from
the county's credit-grade table. Repayments do not touch it, so a member downgraded by a
review stays downgraded until the next review, however they repay in between. Between
reviews the county may still adjust a grade (:func:`adjust_grade`), audited with its reason.

For each member of a county: a member who was late in the year (a loan repaid after its due
date or after being overdue, or a loan past due and unpaid at the year's end) goes down
``steps_down`` grades of the county's credit-grade table; otherwise a member who repaid a loan
on time in the year goes up ``steps_up`` grades. The member's limit is the limit of the grade
reached; a member whose grade is not in the table is put at its entry grade. Each member is
reviewed once a year (a second run for the same year skips members already reviewed, so an
interrupted run can simply be run again); every change is audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.audit import service as audit
from gateway.errors import ValidationFailed
from gateway.grading.ladder import Ladder, ladder
from gateway.grading.models import MemberCreditReview
from gateway.ledger.service import county_of
from gateway.loans.models import OUTSTANDING_STATUSES, Loan, LoanStatus
from gateway.members.models import Member, MemberStatus
from gateway.members.service import get_member
from gateway.org.service import associations_of_county
from gateway.reports.scoring import CreditReviewRules

__all__ = [
    "Ladder",
    "RepaymentRecord",
    "adjust_grade",
    "ladder",
    "repayment_record",
    "review_year",
    "reviews_of",
]


@dataclass(frozen=True)
class RepaymentRecord:
    on_time: int
    late: int


def repayment_record(loans: list[Loan], year: int) -> RepaymentRecord:
    start, end = date(year, 1, 1), date(year, 12, 31)
    on_time = late = 0
    for loan in loans:
        repaid_in_year = loan.repaid_on is not None and start <= loan.repaid_on <= end
        if repaid_in_year and loan.repaid_on_time:
            on_time += 1
        elif repaid_in_year or (
            loan.status in OUTSTANDING_STATUSES
            and loan.due_on is not None
            and loan.due_on <= end
            and (loan.status == LoanStatus.OVERDUE or loan.due_on < end)
        ):
            late += 1
    return RepaymentRecord(on_time=on_time, late=late)


def review_year(
    session: Session, county_id: int, year: int, rules: CreditReviewRules, *, actor: str
) -> list[MemberCreditReview]:
    """Review every active member of the county for ``year``; returns the new reviews."""
    grades = ladder(session, county_id)
    done = set(
        session.scalars(select(MemberCreditReview.member_id).where(MemberCreditReview.year == year))
    )
    reviews: list[MemberCreditReview] = []
    for association in associations_of_county(session, county_id):
        members = list(
            session.scalars(
                select(Member)
                .where(
                    Member.association_id == association.id,
                    Member.status == MemberStatus.ACTIVE,
                )
                .order_by(Member.member_no)
            )
        )
        loans_by_member: dict[int, list[Loan]] = {}
        for loan in session.scalars(
            select(Loan).where(
                Loan.association_id == association.id, Loan.disbursed_on.is_not(None)
            )
        ):
            loans_by_member.setdefault(loan.member_id, []).append(loan)
        for member in members:
            if member.id in done:
                continue
            record = repayment_record(loans_by_member.get(member.id, []), year)
            before = member.credit_grade
            if record.late:
                after = grades.move(before, -rules.steps_down)
                reason = f"{year} 年有 {record.late} 笔借款逾期或未按期归还，" + (
                    "降级" if after != before else "已是最低等级，等级不变"
                )
            elif record.on_time:
                after = grades.move(before, rules.steps_up)
                reason = f"{year} 年按期还清 {record.on_time} 笔借款，" + (
                    "升级" if after != before else "已是最高等级，等级不变"
                )
            elif before in grades.grades:
                after = before
                reason = f"{year} 年无到期借款，等级不变"
            else:
                after = grades.entry_grade
                reason = f"原等级 {before} 不在本县信用等级表中，按入门等级 {after} 评定"
            review = MemberCreditReview(
                member_id=member.id,
                association_id=association.id,
                year=year,
                from_grade=before,
                to_grade=after,
                limit_fen=grades.limits.get(after, grades.limits[grades.grades[0]]),
                on_time_loans=record.on_time,
                late_loans=record.late,
                reason=reason,
                reviewed_by=actor,
            )
            session.add(review)
            reviews.append(review)
            if after != before:
                member.credit_grade = after
                session.flush()
                audit.record(
                    session,
                    actor=actor,
                    action="member.credit_review",
                    chain=audit.association_chain(association.id),
                    object_type="member",
                    object_id=member.id,
                    payload={
                        "year": year,
                        "from": before,
                        "to": after,
                        "limit_fen": review.limit_fen,
                        "on_time": record.on_time,
                        "late": record.late,
                    },
                )
    session.flush()
    return reviews


def reviews_of(session: Session, member_id: int) -> list[MemberCreditReview]:
    return list(
        session.scalars(
            select(MemberCreditReview)
            .where(MemberCreditReview.member_id == member_id)
            .order_by(MemberCreditReview.year)
        )
    )


def adjust_grade(
    session: Session, member_id: int, grade: str, *, reason: str, actor: str
) -> Member:
    """Set a member's grade between yearly reviews (e.g. a correction the county decides).

    The grade must be one of the county's table and a reason is required; the change is
    audited (``member.credit_grade_adjust``, with the old and new grade, the new limit, the
    reason and who made it). Setting the grade the member already holds changes nothing and
    records nothing."""
    if not reason.strip():
        raise ValidationFailed(
            "调整信用等级须说明理由", "a credit-grade adjustment needs a reason", field="reason"
        )
    member = get_member(session, member_id)
    limit_fen = ladder(session, county_of(session, member.association_id).id).limit_of(grade)
    before = member.credit_grade
    if before == grade:
        return member
    member.credit_grade = grade
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="member.credit_grade_adjust",
        chain=audit.association_chain(member.association_id),
        object_type="member",
        object_id=member.id,
        payload={"from": before, "to": grade, "limit_fen": limit_fen, "reason": reason.strip()},
    )
    return member
