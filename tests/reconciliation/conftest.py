"""Builders for reconciliation scenarios: one special account, two associations."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

import pytest

from adapters.records import Channel, CreditDebit, SubAccountBalance
from reconciliation.config import MatchConfig
from reconciliation.engine import ReconciliationResult, reconcile
from reconciliation.findings import ExceptionKind
from reconciliation.model import (
    BankLine,
    BookEntry,
    BookKind,
    BookStatus,
    PreviousDay,
    ReconciliationRequest,
    StatementBalances,
)

DAY = date(2026, 3, 10)  # a Tuesday
ACCOUNT = "6228000000000001"
SUB_A = "SUB-A"  # 东岭村互助协会
SUB_B = "SUB-B"  # 西河村互助协会
CARD_1 = "6230000000000011"
CARD_2 = "6230000000000022"
CARD_3 = "6230000000000033"

IN = CreditDebit.CREDIT
OUT = CreditDebit.DEBIT


def line(line_id: str, amount_fen: int, cd: CreditDebit = IN, **kw: Any) -> BankLine:
    kw.setdefault("sub_account", SUB_A)
    kw.setdefault("booking_date", DAY)
    return BankLine(
        line_id=line_id,
        special_account=ACCOUNT,
        credit_debit=cd,
        amount_fen=amount_fen,
        **kw,
    )


def entry(
    entry_id: str, amount_fen: int, kind: BookKind = BookKind.REPAYMENT, **kw: Any
) -> BookEntry:
    cd = kw.pop("cd", OUT if kind in (BookKind.DISBURSEMENT, BookKind.BANK_FEE) else IN)
    kw.setdefault("sub_account", SUB_A)
    kw.setdefault("association_id", "A" if kw["sub_account"] == SUB_A else "B")
    kw.setdefault("business_date", DAY)
    return BookEntry(entry_id=entry_id, credit_debit=cd, amount_fen=amount_fen, kind=kind, **kw)


@dataclass
class Scenario:
    """One day's lines and entries; balances are derived so only what a test breaks breaks."""

    lines: list[BankLine] = field(default_factory=list)
    entries: list[BookEntry] = field(default_factory=list)
    config: MatchConfig = field(default_factory=MatchConfig)
    opening: dict[str, int] = field(default_factory=lambda: {SUB_A: 1_000_000, SUB_B: 500_000})
    ledger_delta: dict[str, int] = field(default_factory=dict)  # break the ledger on purpose
    previous: PreviousDay | None = None
    previous_hash: str = ""  # the digest of the day before's daily statement
    statement: bool = True
    business_date: date = DAY
    printed_only: frozenset[str] = frozenset()  # lines the bank shows but leaves out of balances

    def request(self) -> ReconciliationRequest:
        closing = dict(self.opening)
        for x in self.lines:
            if (
                x.booking_date == self.business_date
                and x.sub_account
                and x.line_id not in self.printed_only
            ):
                closing[x.sub_account] = closing.get(x.sub_account, 0) + x.signed_amount_fen
        # the ledger holds the opening plus what it has posted; open bank lines are explained
        ledger = dict(self.opening)
        for e in self.entries:
            if e.status is BookStatus.POSTED:
                ledger[e.sub_account] = ledger.get(e.sub_account, 0) + e.signed_amount_fen
        for x in self.lines:
            if x.booking_date < self.business_date and x.sub_account:
                # an open line from an earlier day is in the bank's opening, not in the ledger
                ledger[x.sub_account] = ledger.get(x.sub_account, 0) - x.signed_amount_fen
        for sub, delta in self.ledger_delta.items():
            ledger[sub] = ledger.get(sub, 0) + delta
        stmt = StatementBalances(
            statement_date=self.business_date,
            opening_fen=sum(self.opening.values()),
            closing_fen=sum(closing.values()),
            sub_accounts=tuple(
                SubAccountBalance(s, self.opening[s], closing[s]) for s in sorted(self.opening)
            ),
        )
        return ReconciliationRequest(
            special_account=ACCOUNT,
            business_date=self.business_date,
            statement=stmt if self.statement else None,
            previous=self.previous,
            previous_hash=self.previous_hash,
            ledger_balances_fen=ledger,
            sub_accounts=frozenset({SUB_A, SUB_B}),
        )

    def run(self) -> ReconciliationResult:
        return reconcile(self.request(), self.lines, self.entries, self.config)


def kinds(result: ReconciliationResult) -> list[tuple[str, tuple[str, ...], tuple[str, ...]]]:
    return [(x.kind.value, x.line_ids, x.entry_ids) for x in result.exceptions]


def matched(result: ReconciliationResult) -> list[tuple[str, tuple[str, ...], tuple[str, ...]]]:
    return [(m.match_pass.value, m.line_ids, m.entry_ids) for m in result.matches()]


@pytest.fixture
def scenario() -> Scenario:
    return Scenario()


__all__ = [
    "ACCOUNT",
    "CARD_1",
    "CARD_2",
    "CARD_3",
    "DAY",
    "IN",
    "OUT",
    "SUB_A",
    "SUB_B",
    "BookKind",
    "BookStatus",
    "Channel",
    "ExceptionKind",
    "Scenario",
    "entry",
    "kinds",
    "line",
    "matched",
    "replace",
    "timedelta",
]
