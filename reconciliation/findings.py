"""What the engine returns besides matches: typed exceptions and proposed postings."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import IntEnum, StrEnum


class ExceptionKind(StrEnum):
    """The kinds of reconciliation exception (对账异常) a person must look at."""

    UNMATCHED_BANK = "unmatched_bank"
    UNMATCHED_BOOK = "unmatched_book"
    AMOUNT_MISMATCH = "amount_mismatch"
    AMBIGUOUS = "ambiguous"
    DUPLICATE = "duplicate"
    VILLAGE_CASH = "village_cash"
    CROSS_ASSOCIATION = "cross_association"
    BALANCE_BREAK = "balance_break"
    STATEMENT_GAP = "statement_gap"
    RETURNED_AFTER_SETTLEMENT = "returned_after_settlement"


class Severity(IntEnum):
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4


SEVERITY: dict[ExceptionKind, Severity] = {
    ExceptionKind.UNMATCHED_BANK: Severity.MEDIUM,
    ExceptionKind.UNMATCHED_BOOK: Severity.MEDIUM,
    ExceptionKind.AMOUNT_MISMATCH: Severity.HIGH,
    ExceptionKind.AMBIGUOUS: Severity.MEDIUM,
    ExceptionKind.DUPLICATE: Severity.MEDIUM,
    ExceptionKind.VILLAGE_CASH: Severity.CRITICAL,
    ExceptionKind.CROSS_ASSOCIATION: Severity.CRITICAL,
    ExceptionKind.BALANCE_BREAK: Severity.CRITICAL,
    ExceptionKind.STATEMENT_GAP: Severity.HIGH,
    ExceptionKind.RETURNED_AFTER_SETTLEMENT: Severity.HIGH,
}

EXPLANATION: dict[ExceptionKind, str] = {
    ExceptionKind.UNMATCHED_BANK: "银行流水无对应账务 / bank line with no book entry",
    ExceptionKind.UNMATCHED_BOOK: "账务未见银行流水 / book entry not shown by the bank in time",
    ExceptionKind.AMOUNT_MISMATCH: "同一业务金额不符 / same reference, different amount",
    ExceptionKind.AMBIGUOUS: "多个候选无法唯一匹配 / more than one candidate fits",
    ExceptionKind.DUPLICATE: "重复银行流水 / duplicate bank line",
    ExceptionKind.VILLAGE_CASH: "村级现金收付 / cash at village level",
    ExceptionKind.CROSS_ASSOCIATION: "跨协会资金往来 / money across associations",
    ExceptionKind.BALANCE_BREAK: "子账户余额与账面不符 / sub-account balance differs from ledger",
    ExceptionKind.STATEMENT_GAP: "对账单不连续 / statement continuity broken",
    ExceptionKind.RETURNED_AFTER_SETTLEMENT: "已结算款项被退回 / payment returned after settlement",
}


@dataclass(frozen=True, slots=True)
class ReconException:
    """One reconciliation exception with its evidence.

    ``subject`` names what the exception is about when it is not lines or entries (a
    sub-account for a balance break, a day for a statement gap). The fingerprint depends only on
    the kind, the subject and the ids involved, so the same problem seen on the next night has
    the same fingerprint and the queue can tell new, persisting and resolved items apart.
    """

    kind: ExceptionKind
    line_ids: tuple[str, ...] = ()
    entry_ids: tuple[str, ...] = ()
    sub_account: str | None = None
    subject: str = ""
    expected_fen: int | None = None  # the books' figure
    actual_fen: int | None = None  # the bank's figure
    detail: str = ""  # what exactly is wrong, Chinese and English

    @property
    def severity(self) -> Severity:
        return SEVERITY[self.kind]

    @property
    def explanation(self) -> str:
        return f"{EXPLANATION[self.kind]}{': ' + self.detail if self.detail else ''}"

    @property
    def fingerprint(self) -> str:
        # ``kind`` is a str enum: as a string it is its value; one id needs no sorting
        ls, es = self.line_ids, self.entry_ids
        parts = (
            self.kind,
            self.subject,
            ",".join(ls if len(ls) < 2 else sorted(ls)),
            ",".join(es if len(es) < 2 else sorted(es)),
        )
        return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()

    def sort_key(self) -> tuple[str, str, tuple[str, ...], tuple[str, ...]]:
        return (self.kind, self.subject, self.line_ids, self.entry_ids)


class PostingKind(StrEnum):
    REPAYMENT = "repayment"  # confirms an expected repayment / fee collection
    BANK_FEE = "bank_fee"
    INTEREST = "interest"


@dataclass(frozen=True, slots=True)
class ProposedPosting:
    """A posting the gateway may book without a person, and undo later.

    ``entry_ids`` are the expected book entries the bank lines confirm (empty for a bank fee or
    interest that the books have not recorded yet). ``amount_fen`` is positive; the direction is
    ``credit`` (money into the special account) or not.
    """

    kind: PostingKind
    line_ids: tuple[str, ...]
    entry_ids: tuple[str, ...]
    sub_account: str | None
    amount_fen: int
    credit: bool
    auto: bool = True
    reason: str = ""

    def sort_key(self) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
        return (self.kind.value, self.line_ids, self.entry_ids)
