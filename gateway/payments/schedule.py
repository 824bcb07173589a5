"""Repayment schedules: what a loan owes and when.

Two methods: the whole principal and fee at maturity (lump sum), or the principal in equal
monthly instalments with the fee on the principal still outstanding during each month.

Rounding rule (the only one): a usage fee is ``principal × monthly rate × months``, computed
exactly in integers (the rate in hundredths of a per mille) and rounded half up to the fen,
once per schedule line — see :func:`gateway.loans.service.fee_fen`. Equal instalments split
the principal into whole fen; the remainder goes to the last instalment.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date

from gateway.loans.service import fee_fen
from gateway.payments.models import RepaymentMethod


def add_months(start: date, months: int) -> date:
    """The same day ``months`` later, or the month's last day when it has no such day."""
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class DueLine:
    instalment_no: int
    due_on: date
    principal_fen: int
    fee_fen: int

    @property
    def total_fen(self) -> int:
        return self.principal_fen + self.fee_fen


def build_schedule(
    *,
    amount_fen: int,
    monthly_fee_rate_centipermille: int,
    term_months: int,
    disbursed_on: date,
    method: RepaymentMethod,
) -> list[DueLine]:
    if amount_fen <= 0 or term_months <= 0 or monthly_fee_rate_centipermille < 0:
        raise ValueError("amount and term must be positive and the rate not negative")
    if method is RepaymentMethod.LUMP_SUM:
        return [
            DueLine(
                1,
                add_months(disbursed_on, term_months),
                amount_fen,
                fee_fen(amount_fen, monthly_fee_rate_centipermille, term_months),
            )
        ]
    base, remainder = divmod(amount_fen, term_months)
    lines: list[DueLine] = []
    outstanding = amount_fen
    for n in range(1, term_months + 1):
        principal = base + (remainder if n == term_months else 0)
        lines.append(
            DueLine(
                n,
                add_months(disbursed_on, n),
                principal,
                fee_fen(outstanding, monthly_fee_rate_centipermille, 1),
            )
        )
        outstanding -= principal
    return lines


def split_payment(amount_fen: int, *, fee_due_fen: int, principal_due_fen: int) -> tuple[int, int]:
    """How a collected amount is applied: the fee due first, then principal.

    Returns ``(principal_fen, fee_fen)``. Never applies more than is due."""
    if amount_fen < 0 or amount_fen > fee_due_fen + principal_due_fen:
        raise ValueError(
            f"collected {amount_fen} fen is outside 0..{fee_due_fen + principal_due_fen}"
        )
    fee = min(amount_fen, fee_due_fen)
    return amount_fen - fee, fee
