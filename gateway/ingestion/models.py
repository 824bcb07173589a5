"""Inbound bank files (stored whole, keyed by hash) and the statement lines taken from them."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db import Base, BigIntId, enum_column, utcnow


class InboundKind(StrEnum):
    RESULT = "result"  # 回盘 / pain.002
    STATEMENT = "statement"  # 对账单 / camt.053 / camt.054
    REFUSAL = "refusal"  # 银行拒绝通知 NAME.refused.txt


class InboundStatus(StrEnum):
    RECEIVED = "received"  # 已接收，待处理
    APPLIED = "applied"  # 已处理
    QUARANTINED = "quarantined"  # 已隔离：整份文件未处理


class InboundFile(Base):
    """A file fetched from a bank, stored whole with its hash, kind and outcome."""

    __tablename__ = "inbound_files"
    __table_args__ = (UniqueConstraint("bank_code", "sha256"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    bank_code: Mapped[str] = mapped_column(String(32), index=True)
    name: Mapped[str] = mapped_column(String(200))
    remote_path: Mapped[str] = mapped_column(String(400))
    kind: Mapped[InboundKind] = mapped_column(enum_column(InboundKind))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    content: Mapped[bytes] = mapped_column(LargeBinary)  # the plain bytes, after decryption
    status: Mapped[InboundStatus] = mapped_column(enum_column(InboundStatus), index=True)
    reason: Mapped[str | None] = mapped_column(String(1000), default=None)
    summary_json: Mapped[str] = mapped_column(Text, default="{}")
    business_date: Mapped[date] = mapped_column(Date, index=True)
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("payment_batches.id"), default=None)
    times_seen: Mapped[int] = mapped_column(Integer, default=1)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class StatementDay(Base):
    """A statement a stored file holds: the account and the day it reports (its period's end).

    Written when the file is applied, so that a day's statement is found by the day it reports,
    whichever night fetched it: a night caught up fetches every file the bank wrote since under
    its own, earlier business date. ``kind`` is ``statement`` (an end-of-day statement, what a
    night is reconciled against) or ``notification`` (camt.054, lines without balances)."""

    __tablename__ = "inbound_statement_days"
    __table_args__ = (
        UniqueConstraint(
            "inbound_file_id", "account", "statement_date", "kind", name="uq_inbound_statement_days"
        ),
        Index("ix_inbound_statement_days_day", "bank_code", "account", "statement_date"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    inbound_file_id: Mapped[int] = mapped_column(ForeignKey("inbound_files.id"), index=True)
    bank_code: Mapped[str] = mapped_column(String(32))
    account: Mapped[str] = mapped_column(String(40))
    statement_date: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(16))


class StatementLine(Base):
    """One bank statement line, kept once however many statements repeat it.

    ``dedupe_key`` is ``txn:<bank transaction id>`` where the bank gives one, else
    ``fp:<content fingerprint>:<occurrence>`` — the n-th identical line of a statement. An
    account number is unique only at its bank, so a line is one of its bank's account's."""

    __tablename__ = "statement_lines"
    __table_args__ = (UniqueConstraint("bank_code", "account", "dedupe_key"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    inbound_file_id: Mapped[int] = mapped_column(ForeignKey("inbound_files.id"), index=True)
    bank_code: Mapped[str] = mapped_column(String(32))  # the file's bank
    account: Mapped[str] = mapped_column(String(40))
    sub_account: Mapped[str | None] = mapped_column(String(40), default=None, index=True)
    dedupe_key: Mapped[str] = mapped_column(String(100))
    booking_date: Mapped[date] = mapped_column(Date, index=True)
    value_date: Mapped[date | None] = mapped_column(Date, default=None)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    credit: Mapped[bool] = mapped_column(Boolean)
    reversal: Mapped[bool] = mapped_column(Boolean, default=False)
    channel: Mapped[str] = mapped_column(String(16))
    bank_transaction_id: Mapped[str | None] = mapped_column(String(100), default=None)
    bank_transaction_code: Mapped[str] = mapped_column(String(60), default="")
    end_to_end_id: Mapped[str | None] = mapped_column(String(35), default=None, index=True)
    counterparty_account: Mapped[str | None] = mapped_column(String(60), default=None)
    counterparty_name: Mapped[str | None] = mapped_column(String(200), default=None)
    remittance: Mapped[str] = mapped_column(String(400), default="")
    return_reason_code: Mapped[str | None] = mapped_column(String(16), default=None)
    balance_after_fen: Mapped[int | None] = mapped_column(BigInteger, default=None)
