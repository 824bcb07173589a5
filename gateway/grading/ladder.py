"""The county's credit-grade table read as a ladder: grades from the entry grade upward, each
with the limit a member at that grade may owe in total.

The table is ``[[policy.credit_grades]]``, copied into each county when it is created; its
``min_on_time_loans`` column orders the grades (the entry grade has 0). Which grade a member
holds is not computed from their record: it is the member's stored ``credit_grade``, moved
only by the yearly review or an audited adjustment (see :mod:`gateway.grading.service`).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.errors import RuleViolation
from gateway.org.models import CreditGradeLimit


@dataclass(frozen=True)
class Ladder:
    """The county's grades from lowest to highest, with their limits."""

    grades: tuple[str, ...]
    limits: dict[str, int]

    @property
    def entry_grade(self) -> str:
        return self.grades[0]

    def move(self, grade: str, steps: int) -> str:
        """The grade ``steps`` up (negative: down) from ``grade``, kept within the table; a
        grade the table does not know counts as the entry grade."""
        index = self.grades.index(grade) if grade in self.grades else 0
        return self.grades[max(0, min(len(self.grades) - 1, index + steps))]

    def limit_of(self, grade: str) -> int:
        """The limit of ``grade``; a grade the county's table does not list is refused."""
        if grade not in self.limits:
            raise RuleViolation(
                f"信用等级 {grade} 不在本县信用等级表（{'、'.join(self.grades)}）中，"
                "须经年度信用评定或县级调整后方可借款",
                f"credit grade {grade!r} is not in the county's table "
                f"({', '.join(self.grades)}); a review or an adjustment must set it first",
                code="unknown_credit_grade",
                grade=grade,
            )
        return self.limits[grade]


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
