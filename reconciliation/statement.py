"""The daily reconciliation statement (每日对账报告) and its hash chain.

One statement per special account and business date: for the account and for every
sub-account, the bank's opening and closing, the matched movements (count, in, out), the
exceptions by kind, the items still pending, and closing bank against ledger with the part of the
difference the open items explain. Nothing is netted: each sub-account stands on its own line.

``canonical_bytes`` is the statement as UTF-8 JSON with sorted keys and no spaces; ``digest`` is
its SHA-256, and the statement carries the previous day's digest, so the stored statements form
a chain in which any altered day breaks every later link.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from reconciliation.findings import ExceptionKind, ReconException
from reconciliation.model import ReconciliationRequest

if TYPE_CHECKING:
    from collections.abc import Mapping

ACCOUNT_LEVEL = "*"  # the row for the whole special account


@dataclass(frozen=True, slots=True)
class StatementLine:
    """One sub-account's (or the whole account's, ``sub_account == "*"``) figures for the day."""

    sub_account: str
    opening_fen: int | None  # the bank's; None when no statement arrived
    closing_fen: int | None
    ledger_fen: int | None
    explained_fen: (
        int  # open items: bank lines not in the ledger minus ledger entries not at the bank
    )
    matched_count: int  # bank lines matched
    matched_in_fen: int
    matched_out_fen: int
    pending_count: int
    proposal_count: int
    exceptions: Mapping[str, int]  # kind -> count

    @property
    def unexplained_fen(self) -> int | None:
        if self.closing_fen is None or self.ledger_fen is None:
            return None
        return self.closing_fen - self.ledger_fen - self.explained_fen

    def as_dict(self) -> dict[str, object]:
        return {
            "sub_account": self.sub_account,
            "opening_fen": self.opening_fen,
            "closing_fen": self.closing_fen,
            "ledger_fen": self.ledger_fen,
            "explained_fen": self.explained_fen,
            "unexplained_fen": self.unexplained_fen,
            "matched_count": self.matched_count,
            "matched_in_fen": self.matched_in_fen,
            "matched_out_fen": self.matched_out_fen,
            "pending_count": self.pending_count,
            "proposal_count": self.proposal_count,
            "exceptions": dict(sorted(self.exceptions.items())),
        }


@dataclass(frozen=True, slots=True)
class DailyStatement:
    special_account: str
    business_date: str  # ISO date
    previous_hash: str
    lines: tuple[StatementLine, ...]  # the account row first, then sub-accounts by name
    exception_fingerprints: tuple[str, ...]

    def as_dict(self) -> dict[str, object]:
        return {
            "special_account": self.special_account,
            "business_date": self.business_date,
            "previous_hash": self.previous_hash,
            "lines": [line.as_dict() for line in self.lines],
            "exception_fingerprints": list(self.exception_fingerprints),
        }

    def canonical_bytes(self) -> bytes:
        return json.dumps(
            self.as_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode("utf-8")

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.canonical_bytes()).hexdigest()

    @classmethod
    def from_json(cls, text: str) -> DailyStatement:
        """A statement read back from its canonical bytes (as stored): same digest."""
        data = json.loads(text)
        lines = tuple(
            StatementLine(
                sub_account=row["sub_account"],
                opening_fen=row["opening_fen"],
                closing_fen=row["closing_fen"],
                ledger_fen=row["ledger_fen"],
                explained_fen=row["explained_fen"],
                matched_count=row["matched_count"],
                matched_in_fen=row["matched_in_fen"],
                matched_out_fen=row["matched_out_fen"],
                pending_count=row["pending_count"],
                proposal_count=row["proposal_count"],
                exceptions=dict(row["exceptions"]),
            )
            for row in data["lines"]
        )
        return cls(
            special_account=data["special_account"],
            business_date=data["business_date"],
            previous_hash=data["previous_hash"],
            lines=lines,
            exception_fingerprints=tuple(data["exception_fingerprints"]),
        )

    def line_for(self, sub_account: str) -> StatementLine:
        for line in self.lines:
            if line.sub_account == sub_account:
                return line
        raise KeyError(sub_account)


def verify_chain(statements: Sequence[DailyStatement]) -> int | None:
    """Index of the first statement whose ``previous_hash`` does not match its predecessor."""
    for i in range(1, len(statements)):
        if statements[i].previous_hash != statements[i - 1].digest:
            return i
    return None


@dataclass(frozen=True, slots=True)
class SubTotals:
    """The engine's sums for one sub-account (None: lines that name no sub-account)."""

    bank_items_fen: int = 0  # signed sum of every bank line in the run
    ledger_items_fen: int = 0  # signed sum of every POSTED entry in the run
    day_movement_fen: int = 0  # signed sum of the lines booked on the statement date
    matched_count: int = 0
    matched_in_fen: int = 0
    matched_out_fen: int = 0


def build_statement(
    request: ReconciliationRequest,
    totals: Mapping[str | None, SubTotals],
    exceptions: Sequence[ReconException],
    pending_by_sub: Mapping[str, int],
    proposals_by: Mapping[str | None, int],
    proposal_count: int,
) -> DailyStatement:
    stmt = request.statement
    exc_by: dict[str | None, dict[str, int]] = {}
    for x in exceptions:
        per_sub = exc_by.get(x.sub_account)
        if per_sub is None:
            per_sub = exc_by[x.sub_account] = {}
        kind = str.__str__(x.kind)  # the kind's value, without the enum's attribute lookup
        per_sub[kind] = per_sub.get(kind, 0) + 1
    opening = {b.sub_account: b.opening_fen for b in stmt.sub_accounts} if stmt else {}
    closing = {b.sub_account: b.closing_fen for b in stmt.sub_accounts} if stmt else {}
    subs = set(opening) | set(request.ledger_balances_fen) | {s for s in totals if s is not None}
    empty = SubTotals()
    rows: list[StatementLine] = []
    for sub in sorted(subs):
        t = totals.get(sub, empty)
        rows.append(
            StatementLine(
                sub_account=sub,
                opening_fen=opening.get(sub) if stmt else None,
                closing_fen=closing.get(sub) if stmt else None,
                ledger_fen=request.ledger_balances_fen.get(sub),
                explained_fen=t.bank_items_fen - t.ledger_items_fen,
                matched_count=t.matched_count,
                matched_in_fen=t.matched_in_fen,
                matched_out_fen=t.matched_out_fen,
                pending_count=pending_by_sub.get(sub, 0),
                proposal_count=proposals_by.get(sub, 0),
                exceptions=exc_by.get(sub, {}),
            )
        )
    total_exc: dict[str, int] = {}
    for per_sub in exc_by.values():
        for kind, count in per_sub.items():
            total_exc[kind] = total_exc.get(kind, 0) + count
    everything = list(totals.values())
    account = StatementLine(
        sub_account=ACCOUNT_LEVEL,
        opening_fen=stmt.opening_fen if stmt else None,
        closing_fen=stmt.closing_fen if stmt else None,
        ledger_fen=sum(request.ledger_balances_fen.values())
        if request.ledger_balances_fen
        else None,
        explained_fen=sum(t.bank_items_fen - t.ledger_items_fen for t in everything),
        matched_count=sum(t.matched_count for t in everything),
        matched_in_fen=sum(t.matched_in_fen for t in everything),
        matched_out_fen=sum(t.matched_out_fen for t in everything),
        pending_count=sum(pending_by_sub.values()),
        proposal_count=proposal_count,
        exceptions=dict(total_exc),
    )
    return DailyStatement(
        special_account=request.special_account,
        business_date=request.business_date.isoformat(),
        previous_hash=request.previous_hash,
        lines=(account, *rows),
        exception_fingerprints=tuple(sorted({x.fingerprint for x in exceptions})),
    )


__all__ = [
    "ACCOUNT_LEVEL",
    "DailyStatement",
    "ExceptionKind",
    "StatementLine",
    "SubTotals",
    "build_statement",
    "verify_chain",
]
