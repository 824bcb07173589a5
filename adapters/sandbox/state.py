"""The sandbox bank's books: accounts, received files, postings, kept in one JSON file.

The state is written atomically (temporary file, then rename) after every change, so a
restarted bank resumes exactly where it stopped.
"""

from __future__ import annotations

import os
import tempfile
from datetime import date
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, Field

from adapters.records import Channel
from adapters.sandbox.faults import InjectedFault

STATE_FILE = "bank-state.json"


class CardStatus(StrEnum):
    ACTIVE = "active"
    CLOSED = "closed"  # 已销户
    FROZEN = "frozen"  # 冻结
    NAME_MISMATCH = "name_mismatch"  # the name on the bank's file differs from the holder's


class FileStatus(StrEnum):
    PENDING = "pending"  # parsed, waiting for the cut-off of its requested date
    BOOKED = "booked"  # booked, result file written
    DUPLICATE = "duplicate"  # same name or same bytes as an earlier file: AM05, nothing booked
    REFUSED = "refused"  # malformed: refused whole, nothing booked


class SubAccount(BaseModel):
    number: str
    name: str
    institution: str
    balance_fen: int = 0
    opened_on: date


class Card(BaseModel):
    number: str
    holder_name: str
    status: CardStatus = CardStatus.ACTIVE
    balance_fen: int = 0
    registered_name: str | None = None  # the bank's own record when it differs (name mismatch)


class ReceivedFile(BaseModel):
    institution: str
    name: str
    sha256: str  # of the bytes received
    received_on: date
    status: FileStatus
    message_id: str | None = None
    requested_date: date | None = None
    reason: str = ""
    result_name: str | None = None
    content_sha256: str = ""  # of the content after verification and decryption


class Posting(BaseModel):
    """One movement on a sub-account, i.e. one line of the special account's statement."""

    txn_id: str
    institution: str
    sub_account: str
    booking_date: date
    value_date: date
    amount_fen: int  # positive
    credit: bool  # True: money into the sub-account
    channel: Channel = Channel.TRANSFER
    bank_transaction_code: str = ""
    counterparty_account: str | None = None
    counterparty_name: str | None = None
    end_to_end_id: str | None = None
    remittance: str = ""
    return_reason_code: str | None = None


class SettledPayment(BaseModel):
    """A settled instruction, kept so a return (退汇) can refer to it later."""

    institution: str
    end_to_end_id: str
    disbursement: bool
    sub_account: str
    card: str
    card_name: str
    amount_fen: int
    booked_on: date
    txn_id: str
    remittance: str = ""


class ScheduledReturn(BaseModel):
    due: date
    payment: SettledPayment
    reason_code: str = "AC04"


class BankState(BaseModel):
    sub_accounts: dict[str, SubAccount] = Field(default_factory=dict)
    cards: dict[str, Card] = Field(default_factory=dict)
    files: list[ReceivedFile] = Field(default_factory=list)
    postings: list[Posting] = Field(default_factory=list)
    deferred: list[Posting] = Field(default_factory=list)  # booked on a later day's statement
    settled: list[SettledPayment] = Field(default_factory=list)
    returns: list[ScheduledReturn] = Field(default_factory=list)
    faults: list[InjectedFault] = Field(default_factory=list)
    closed_through: date | None = None  # the last business date whose end of day ran
    statements: dict[str, list[str]] = Field(default_factory=dict)  # institution -> file names
    next_txn: int = 1
    next_file: int = 1

    def take_txn_id(self, on: date) -> str:
        txn = f"{on:%Y%m%d}{self.next_txn:010d}"
        self.next_txn += 1
        return txn

    def take_file_seq(self) -> int:
        seq = self.next_file
        self.next_file += 1
        return seq


class StateStore:
    """Loads and saves ``BankState`` in a folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / STATE_FILE

    def load(self) -> BankState:
        if not self.path.exists():
            return BankState()
        return BankState.model_validate_json(self.path.read_bytes())

    def save(self, state: BankState) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        data = state.model_dump_json(indent=1).encode("utf-8")
        fd, tmp = tempfile.mkstemp(prefix=".state-", suffix=".tmp", dir=self.folder)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
