"""The yearly credit-grade review (信用等级年度评定).

For each member of a county: a member who was late in the year (a loan repaid after its due
date or after being overdue, or a loan past due and unpaid at the year's end) goes down
``steps_down`` grades of the county's credit-grade table; otherwise a member who repaid a loan
on time in the year goes up ``steps_up`` grades. The member's limit is the limit of the grade
reached. Each member is reviewed once a year (a second run for the same year skips members
already reviewed, so an interrupted run can simply be run again); every change is audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.audit import service as audit
from gateway.errors import RuleViolation
from gateway.grading.models import MemberCreditReview
from gateway.loans.models import OUTSTANDING_STATUSES, Loan, LoanStatus
from gateway.members.models import Member, MemberStatus
from gateway.org.models import CreditGradeLimit
from gateway.org.service import associations_of_county
from gateway.reports.scoring import CreditReviewRules


@dataclass(frozen=True)
class Ladder:
    """The county's grades from lowest to highest, with their limits."""

    grades: tuple[str, ...]
    limits: dict[str, int]

    def move(self, grade: str, steps: int) -> str:
        index = self.grades.index(grade) if grade in self.grades else 0
        return self.grades[max(0, min(len(self.grades) - 1, index + steps))]


def ladder(session: Session, county_id: int) -> Ladder:
    steps = list(
        session.scalars(
            select(CreditGradeLimit)
            .where(CreditGradeLimit.county_id == county_id)
            .order_by(CreditGradeLimit.min_on_time_loans)
        )
    )
    if not steps:
        raise RuleViolation(
            "该县未设置信用等级表", "the county has no credit-grade table", code="no_credit_table"
        )
    return Ladder(tuple(s.grade for s in steps), {s.grade: s.limit_fen for s in steps})


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
                reason = f"{year} 年有 {record.late} 笔借款逾期或未按期归还，降级"
            elif record.on_time:
                after = grades.move(before, rules.steps_up)
                reason = f"{year} 年按期还清 {record.on_time} 笔借款，升级"
            else:
                after = before
                reason = f"{year} 年无到期借款，等级不变"
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
