"""Which faults the sandbox bank injects, and the ledger it keeps of them.

Faults come from two sources, both seeded and reproducible: explicit entries in
``[[faults.scheduled]]`` (a date, a target, an amount) and per-mille chances in
``[faults.per_mille]`` applied to every eligible event. Each fault that actually happens is
written to the ledger, so the reconciliation can be checked against it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel


class FaultKind(StrEnum):
    CLOSED_CARD = "closed_card"  # card closed: disbursement rejected AC04 已销户
    FROZEN_CARD = "frozen_card"  # card frozen: rejected AC06 冻结
    NAME_MISMATCH = "name_mismatch"  # name on file differs: rejected BE01 户名不符
    INSUFFICIENT_FUNDS = "insufficient_funds"  # collection: card short, rejected AM04
    PARTIAL_DEBIT = "partial_debit"  # collection: card short, 部分扣款
    CASH_WITHDRAWAL = "cash_withdrawal"  # 现金支取 at the counter on a sub-account
    CASH_DEPOSIT = "cash_deposit"  # 现金存款 by a village treasurer
    UNEXPECTED_CREDIT = "unexpected_credit"  # a credit nobody instructed
    DUPLICATE_LINE = "duplicate_line"  # one statement line printed twice
    DELAYED_BOOKING = "delayed_booking"  # booked on the next day's statement
    NO_STATEMENT = "no_statement"  # a day without a statement file
    RETURNED_PAYMENT = "returned_payment"  # settled disbursement returned days later (退汇)
    SFTP_REFUSED = "sftp_refused"  # the SFTP server refused a connection
    TRANSFER_REPAYMENT = "transfer_repayment"  # borrower repays by own transfer


# Faults that apply to one instruction while it is booked.
INSTRUCTION_FAULTS = frozenset(
    {
        FaultKind.CLOSED_CARD,
        FaultKind.FROZEN_CARD,
        FaultKind.NAME_MISMATCH,
        FaultKind.INSUFFICIENT_FUNDS,
        FaultKind.PARTIAL_DEBIT,
        FaultKind.DELAYED_BOOKING,
        FaultKind.RETURNED_PAYMENT,
    }
)
# Faults that happen on a day, at the end of day, before the statement is made.
DAY_FAULTS = frozenset(
    {
        FaultKind.CASH_WITHDRAWAL,
        FaultKind.CASH_DEPOSIT,
        FaultKind.UNEXPECTED_CREDIT,
        FaultKind.DUPLICATE_LINE,
        FaultKind.NO_STATEMENT,
        FaultKind.TRANSFER_REPAYMENT,
    }
)


class InjectedFault(BaseModel):
    """One fault that happened, as the reconciliation should later find it."""

    date: date
    kind: FaultKind
    institution: str
    sub_account: str | None = None
    amount_fen: int = 0
    reference: str = ""  # bank transaction id, end-to-end id or contract number
    detail: str = ""


@dataclass(frozen=True, slots=True)
class ScheduledFault:
    """One ``[[faults.scheduled]]`` entry."""

    kind: FaultKind
    on: date | None = None
    institution: str | None = None
    sub_account: str | None = None
    card: str | None = None
    amount_fen: int | None = None
    end_to_end_id: str | None = None
    reference: str = ""  # contract number for a transfer repayment
    counterparty_account: str | None = None
    counterparty_name: str | None = None
    reason_code: str | None = None
    after_days: int | None = None  # returned payment: days after settlement

    def matches_instruction(self, on: date, end_to_end_id: str, card: str) -> bool:
        """Whether this entry targets an instruction booked on ``on``."""
        if self.end_to_end_id is not None:
            return self.end_to_end_id == end_to_end_id
        if self.on is not None and self.on != on:
            return False
        if self.card is not None:
            return self.card == card
        return self.on is not None


@dataclass(frozen=True, slots=True)
class RefusalWindow:
    """The SFTP server refuses connections between two bank times, or the next ``count``."""

    start: datetime | None = None
    end: datetime | None = None
    count: int | None = None


@dataclass(frozen=True, slots=True)
class FaultPlan:
    """Everything the bank is told to get wrong, with the seed that makes it reproducible."""

    seed: int = 0
    per_mille: tuple[tuple[FaultKind, int], ...] = ()
    scheduled: tuple[ScheduledFault, ...] = ()
    refusals: tuple[RefusalWindow, ...] = ()
    return_after_days: int = 3
    random_amount_max_fen: int = 500_000

    def chance(self, kind: FaultKind) -> int:
        return dict(self.per_mille).get(kind, 0)

    def rng(self, *parts: object) -> random.Random:
        """A generator determined only by the seed and ``parts``: the same day replays alike."""
        return random.Random("|".join([str(self.seed), *map(str, parts)]))  # noqa: S311

    def rolls(self, kind: FaultKind, *parts: object) -> bool:
        """Whether the per-mille chance of ``kind`` fires for the event named by ``parts``."""
        chance = self.chance(kind)
        return chance > 0 and self.rng(kind.value, *parts).randrange(1000) < chance

    def scheduled_for(self, kind: FaultKind) -> tuple[ScheduledFault, ...]:
        return tuple(s for s in self.scheduled if s.kind is kind)
