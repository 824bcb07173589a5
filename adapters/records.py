"""Bank-neutral records exchanged between the gateway and every adapter.

All amounts are integer minor units (fen for CNY) and always positive; direction is carried
by ``Direction`` or ``CreditDebit``, never by a sign.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import MISSING, dataclass, field, fields
from datetime import date, datetime
from enum import StrEnum
from typing import Any, TypeVar

_Record = TypeVar("_Record")
_ABSENT = object()  # a default factory's field left out of a positional construction

# The one currency money moves in: every fund, sub-account and member card is in renminbi.
CURRENCY = "CNY"

# The largest amount, balance or control total, in fen, any adapter reads or writes:
# 999,999,999,999,999 fen is just under 10 trillion yuan (15 digits of fen, 13 of yuan), far
# beyond any county's fund yet nearly ten thousand times below what a signed 64-bit BIGINT
# column holds (2**63 - 1, about 9.2 * 10**18), so that even the sum of thousands of amounts
# at the bound still fits. It is also the largest amount the shipped cn_text layouts declare.
MAX_AMOUNT_FEN = 10**15 - 1


class Direction(StrEnum):
    """Which way a batch moves money, seen from the special account."""

    DISBURSEMENT = "disbursement"  # 代付/代发: sub-account -> member card (credit transfer)
    COLLECTION = "collection"  # 代扣/代收: member card -> sub-account (direct debit)


class ResultStatus(StrEnum):
    """A bank's verdict on one instruction."""

    ACCEPTED = "accepted"
    SETTLED = "settled"
    PARTIALLY_SETTLED = "partially_settled"
    REJECTED = "rejected"


# The ISO 20022 status codes (pain.002 ``GrpSts``, ``PmtInfSts``, ``TxSts``) as verdicts; a
# result file's ``group_status`` is one of these codes.
STATUS_CODES: dict[str, ResultStatus] = {
    "RCVD": ResultStatus.ACCEPTED,
    "ACTC": ResultStatus.ACCEPTED,
    "ACCP": ResultStatus.ACCEPTED,
    "ACSP": ResultStatus.ACCEPTED,
    "ACWC": ResultStatus.ACCEPTED,
    "ACWP": ResultStatus.ACCEPTED,
    "PDNG": ResultStatus.ACCEPTED,
    "ACSC": ResultStatus.SETTLED,
    "ACCC": ResultStatus.SETTLED,
    "PART": ResultStatus.PARTIALLY_SETTLED,
    "RJCT": ResultStatus.REJECTED,
}


class CreditDebit(StrEnum):
    CREDIT = "CRDT"
    DEBIT = "DBIT"


class Channel(StrEnum):
    """How a statement line's money moved."""

    TRANSFER = "transfer"
    CASH = "cash"
    FEE = "fee"
    INTEREST = "interest"
    OTHER = "other"


class FileKind(StrEnum):
    """What an exchanged file holds."""

    DISBURSEMENT_BATCH = "disbursement_batch"
    COLLECTION_BATCH = "collection_batch"
    RESULT = "result"
    STATEMENT = "statement"
    NOTIFICATION = "notification"


@dataclass(frozen=True, slots=True)
class PaymentInstruction:
    """One payment in a batch.

    For a disbursement the debtor is the association's sub-account and the creditor the
    member's card; for a collection it is the other way round.
    """

    end_to_end_id: str
    amount_fen: int
    debtor_account: str
    debtor_name: str
    creditor_account: str
    creditor_name: str
    requested_date: date
    currency: str = "CNY"
    remittance: str = ""
    purpose: str = ""
    mandate_id: str | None = None  # direct debit only: the member's signed 代扣 agreement
    mandate_signed_on: date | None = None


@dataclass(frozen=True, slots=True)
class Batch:
    """A file's worth of instructions in one direction for one special account."""

    message_id: str
    direction: Direction
    special_account: str
    special_account_name: str
    created_at: datetime
    requested_date: date
    instructions: tuple[PaymentInstruction, ...]
    bank_code: str = ""  # the bank's BIC or national clearing code
    initiator_name: str = ""
    creditor_scheme_id: str | None = None  # collections: the creditor identifier, if any

    @property
    def control_count(self) -> int:
        return len(self.instructions)

    @property
    def control_sum_fen(self) -> int:
        return sum(i.amount_fen for i in self.instructions)


@dataclass(frozen=True, slots=True)
class InstructionResult:
    """The bank's answer for one instruction (pain.002 TxInfAndSts, one 回盘 line)."""

    end_to_end_id: str
    status: ResultStatus
    settled_amount_fen: int  # what actually moved; 0 when rejected, < requested when partial
    requested_amount_fen: int | None = None
    reason_code: str | None = None  # ISO 20022 external status reason code (AC04, AM04, NARR...)
    reason_text: str = ""  # the bank's original words, kept verbatim
    booking_date: date | None = None


@dataclass(frozen=True, slots=True)
class BlockStatus:
    """A payment block's status given with no transaction status under it (pain.002
    ``OrgnlPmtInfAndSts`` with ``PmtInfSts`` and no ``TxInfAndSts``): the bank's word on
    every instruction of that block, which the file does not list."""

    block_id: str | None  # OrgnlPmtInfId
    status: str  # PmtInfSts, one of STATUS_CODES
    transaction_count: int | None = None  # OrgnlNbOfTxs: how many instructions the block holds
    reason_code: str | None = None
    reason_text: str = ""  # the bank's words, kept verbatim
    location: str = ""  # where in the file


@dataclass(frozen=True, slots=True)
class ResultFile:
    """A parsed result file (pain.002, 回盘)."""

    message_id: str
    original_message_id: str | None
    created_at: datetime | None
    results: tuple[InstructionResult, ...]
    group_status: str | None = None  # e.g. ACCP, PART, RJCT when the file gives one
    group_reason_code: str | None = None
    group_reason_text: str = ""  # the bank's words for the group status, kept verbatim
    # payment blocks answered as a whole, without transaction statuses
    block_statuses: tuple[BlockStatus, ...] = ()


@dataclass(frozen=True, slots=True)
class StatementEntry:
    """One booked line of a statement or notification."""

    booking_date: date
    amount_fen: int
    credit_debit: CreditDebit
    currency: str = "CNY"
    bank_transaction_id: str | None = None  # AcctSvcrRef / 流水号
    value_date: date | None = None
    reversal: bool = False
    channel: Channel = Channel.TRANSFER
    bank_transaction_code: str = ""  # "PMNT/RCDT/ESCT", "CAMT/CNTR/CDPT" or proprietary text
    counterparty_account: str | None = None
    counterparty_name: str | None = None
    end_to_end_id: str | None = None
    references: tuple[tuple[str, str], ...] = ()  # (kind, value), e.g. ("InstrId", "...")
    remittance: str = ""
    sub_account: str | None = None  # the association sub-account, where the bank gives one
    return_reason_code: str | None = None
    balance_after_fen: int | None = None  # running balance where the bank gives one
    # The line of the file the entry was read from, where the adapter knows it (a cn_text
    # detail line), so that a refusal names the line the bank's staff can find; not part of
    # the entry's content (two copies of one line on different lines are equal).
    source_line: int | None = field(default=None, compare=False)

    @property
    def signed_amount_fen(self) -> int:
        """Positive for money in, negative for money out (reversal flips the sign)."""
        sign = 1 if self.credit_debit is CreditDebit.CREDIT else -1
        return sign * self.amount_fen


@dataclass(frozen=True, slots=True)
class Balance:
    amount_fen: int  # signed: negative is a debit balance
    on: date
    kind: str = "closing"  # opening | closing | interim | available | other ISO codes in lower case
    currency: str = "CNY"


@dataclass(frozen=True, slots=True)
class Statement:
    """A statement (camt.053, 对账单) or notification (camt.054) for one account."""

    statement_id: str
    account: str
    created_at: datetime | None
    from_date: date | None
    to_date: date | None
    entries: tuple[StatementEntry, ...]
    currency: str = "CNY"
    account_name: str | None = None
    sub_account: str | None = None
    opening_balance_fen: int | None = None
    closing_balance_fen: int | None = None
    balances: tuple[Balance, ...] = ()
    kind: FileKind = FileKind.STATEMENT
    sub_account_balances: tuple[SubAccountBalance, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class SubAccountBalance:
    """Opening and closing balance of one association sub-account for a statement day."""

    sub_account: str
    opening_fen: int
    closing_fen: int


def positional_constructor(
    cls: type[_Record], *, expected_order: Sequence[str] = ()
) -> Callable[..., _Record]:
    """A fast constructor for a frozen, slotted record taking its fields positionally.

    ``build(*values)`` returns the same instance as ``cls(*values)`` (defaults and default
    factories apply to fields left out; equality, hash, repr, ``dataclasses.replace``,
    ``asdict`` and pickling behave alike), several times faster: a frozen ``__init__`` pays
    an ``object.__setattr__`` call per field, which counts when a parser builds a million
    statement entries. ``build`` fills a mutable twin class with the same slots by plain
    assignment and then gives the object its real class (Python allows ``__class__`` to
    change between classes of identical layout). Classes with a ``__post_init__`` or
    fields kept out of ``__init__`` are refused: constructing them does more than store
    values.

    ``expected_order`` names the leading fields in the order the caller passes them; if the
    record's fields no longer start that way, the caller's positional calls would put values
    in the wrong fields, so the constructor is refused (at the caller's import).
    """
    record_fields = fields(cls)  # type: ignore[arg-type]
    actual = tuple(f.name for f in record_fields)[: len(expected_order)]
    if actual != tuple(expected_order):
        raise TypeError(
            f"{cls.__name__} changed its field order: callers pass {tuple(expected_order)}, "
            f"the record now starts {actual}"
        )
    if hasattr(cls, "__post_init__") or any(not f.init for f in record_fields):
        raise TypeError(f"{cls.__name__} needs its own __init__")
    slots = getattr(cls, "__slots__", ())
    if {f.name for f in record_fields} - set(slots):
        raise TypeError(f"{cls.__name__} is not a slotted record")
    twin = type(f"_Mutable{cls.__name__}", cls.__bases__, {"__slots__": slots})
    probe: Any = object.__new__(twin)
    probe.__class__ = cls  # raises TypeError if the layouts differ after all
    scope: dict[str, Any] = {"_new": object.__new__, "_cls": cls, "_twin": twin}
    scope["_absent"] = _ABSENT
    parameters: list[str] = []
    body: list[str] = []
    for f in record_fields:
        name = f.name
        if f.default is not MISSING:
            scope[f"_default_{name}"] = f.default
            parameters.append(f"{name}=_default_{name}")
        elif f.default_factory is not MISSING:
            scope[f"_factory_{name}"] = f.default_factory
            parameters.append(f"{name}=_absent")
            body.append(f"    if {name} is _absent:\n        {name} = _factory_{name}()\n")
        else:
            parameters.append(name)
        body.append(f"    record.{name} = {name}\n")
    source = (
        f"def build({', '.join(parameters)}):\n"
        "    record = _new(_twin)\n" + "".join(body) + "    record.__class__ = _cls\n"
        "    return record\n"
    )
    exec(source, scope)  # noqa: S102 - generated from the class's own fields, as dataclasses does
    build: Callable[..., _Record] = scope["build"]
    build.__qualname__ = f"{cls.__name__}.build"
    return build
