"""The engine's inputs: bank lines, book entries and what is known about the day.

Amounts are positive integer fen; which way money moved is carried by ``CreditDebit`` seen from
the special account (``CREDIT`` = money into the special account). No float ever holds money.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from adapters.records import Channel, CreditDebit, SubAccountBalance

__all__ = [
    "BankLine",
    "BookEntry",
    "BookKind",
    "BookStatus",
    "CashInHand",
    "Channel",
    "CreditDebit",
    "PreviousDay",
    "ReconciliationRequest",
    "StatementBalances",
    "SubAccountBalance",
    "signed",
]


def signed(credit_debit: CreditDebit, amount_fen: int) -> int:
    """Positive for money into the special account, negative for money out."""
    return amount_fen if credit_debit is CreditDebit.CREDIT else -amount_fen


class BookKind(StrEnum):
    """What a book entry records."""

    DISBURSEMENT = "disbursement"  # 放款: sub-account -> member card
    REPAYMENT = "repayment"  # 还款 (principal, by collection or transfer)
    USAGE_FEE = "usage_fee"  # 占用费 collected from a borrower
    DEPOSIT = "deposit"  # 入会互助金, fiscal capital, donations received
    REFUND = "refund"  # member deposit refunded, capital returned
    BANK_FEE = "bank_fee"  # 手续费 charged by the bank
    INTEREST = "interest"  # 利息 credited by the bank
    ADJUSTMENT = "adjustment"
    OTHER = "other"


class BookStatus(StrEnum):
    """Where a book entry stands against the bank."""

    EXPECTED = (
        "expected"  # instruction sent / collection due / transfer announced; not in the ledger
    )
    POSTED = "posted"  # in the ledger, not yet seen on a statement
    SETTLED = (
        "settled"  # in the ledger and reconciled earlier: reference only (returns, duplicates)
    )


@dataclass(frozen=True, slots=True)
class BankLine:
    """One booked line of the bank's statement for the special account."""

    line_id: str  # unique and stable, e.g. "<statement id>:<position>"
    special_account: str
    sub_account: str | None
    booking_date: date
    credit_debit: CreditDebit
    amount_fen: int  # > 0
    value_date: date | None = None
    bank_transaction_id: str | None = None  # 流水号 / AcctSvcrRef
    end_to_end_id: str | None = None
    remittance: str = ""  # 摘要 / 附言 / Ustrd
    counterparty_account: str | None = None  # the card or account on the other side
    counterparty_name: str | None = None
    channel: Channel = Channel.TRANSFER
    bank_transaction_code: str = ""  # e.g. "PMNT/RCDT/ESCT", "CAMT/CNTR/CDPT"
    reversal: bool = False
    return_reason_code: str | None = None
    occurrence: int = 0  # 0, 1, 2... for lines of identical content in one statement

    @property
    def signed_amount_fen(self) -> int:
        return signed(self.credit_debit, self.amount_fen)


@dataclass(frozen=True, slots=True)
class BookEntry:
    """One movement the books record (or expect) on an association's sub-account."""

    entry_id: str
    association_id: str
    sub_account: str  # the association's own sub-account
    business_date: date
    credit_debit: CreditDebit
    amount_fen: int  # > 0
    kind: BookKind
    end_to_end_id: str | None = None
    contract_number: str | None = None
    member_card: str | None = None  # the borrower's / payee's card
    card_is_member: bool = True  # the card belongs to a member of this association
    borrower_id: str | None = None
    channel: Channel = Channel.TRANSFER  # CASH when the books record a cash movement
    status: BookStatus = BookStatus.POSTED
    first_expected: date | None = None  # the day the bank was first expected to show it

    @property
    def signed_amount_fen(self) -> int:
        return signed(self.credit_debit, self.amount_fen)


@dataclass(frozen=True, slots=True)
class CashInHand:
    """A ledger entry recorded as cash that moved no bank sub-account: cash the association
    paid out or took in by hand. No statement will ever show it, so it is matched to nothing;
    each one is village cash."""

    entry_id: str
    sub_account: str  # the association's sub-account, naming the association
    credit_debit: CreditDebit  # CREDIT: cash taken in; DEBIT: cash paid out
    amount_fen: int


@dataclass(frozen=True, slots=True)
class StatementBalances:
    """The bank's balances for the business date: the whole special account and each sub-account."""

    statement_date: date
    opening_fen: int
    closing_fen: int
    sub_accounts: tuple[SubAccountBalance, ...] = ()


@dataclass(frozen=True, slots=True)
class PreviousDay:
    """What the previous reconciled statement day left behind (the gateway stores it)."""

    statement_date: date
    closing_fen: int
    sub_account_closings_fen: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ReconciliationRequest:
    """Everything but the lines and entries for one special account and business date.

    ``ledger_balances_fen`` is each sub-account's ledger balance (POSTED and SETTLED entries) at
    the end of the business date. The lines and entries passed with the request must include every
    item still open from previous days, so that the difference between bank and ledger can be
    explained item by item.
    """

    special_account: str
    business_date: date
    statement: StatementBalances | None = None
    previous: PreviousDay | None = None
    ledger_balances_fen: Mapping[str, int] = field(default_factory=dict)
    sub_accounts: frozenset[str] = frozenset()  # every sub-account of this special account
    known_bank_transaction_ids: frozenset[str] = frozenset()  # seen on earlier statements
    cash_in_hand: tuple[CashInHand, ...] = ()  # the day's cash entries away from the bank
    # No earlier run of this account had a statement: the run starts from the books as they
    # stood before the entries it is given (each ledger balance less those entries). Where the
    # statement's opening differs from that start, the one line of the day on that sub-account
    # for exactly the difference is the bank taking up the books' opening (an account funded
    # with what the books hold); anything else leaves the difference as a balance break.
    first_statement: bool = False
    # The digest (SHA-256 hex) of the daily reconciliation statement stored for the day before,
    # which this day's statement carries (the link of the chain): that day may have had no
    # bank statement, so it need not be ``previous``'s day. "" for an account's first day.
    previous_hash: str = ""
