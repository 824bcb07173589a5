"""What it takes to register a member, and the problems a registration can have."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class MemberInput:
    member_no: str
    name: str
    resident_id: str
    card_number: str
    phone: str
    household_no: str
    joined_on: date
    low_income: bool = False
    credit_grade: str | None = None  # None: the county's entry grade
    # Why a grade other than the entry grade is given (needed, with grades.adjust, for one).
    credit_grade_reason: str | None = None


@dataclass(frozen=True)
class FieldProblem:
    """One problem with one field: the column, the value given and why it is refused."""

    field: str
    value: str
    reason: str


@dataclass(frozen=True)
class MemberView:
    """A member as shown to users: card and ID masked."""

    id: int
    association_id: int
    member_no: str
    name: str
    household_no: str
    phone: str
    low_income: bool
    credit_grade: str
    deposit_fen: int
    status: str
    card_masked: str
    resident_id_masked: str
