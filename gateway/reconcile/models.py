"""What a reconciliation run keeps: the daily statement (chained by hash), the items still open
for the next night, the manual matches people made and the postings booked automatically."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db import Base, BigIntId, utcnow


class ReconRun(Base):
    """One special account's reconciliation of one business date, with its daily statement.

    ``statement_json`` is the statement's canonical bytes and ``statement_hash`` their SHA-256;
    ``previous_hash`` is the previous run's hash, so the stored days form a chain;
    ``journal_watermark`` marks which book entries the run was offered."""

    __tablename__ = "recon_runs"
    __table_args__ = (UniqueConstraint("special_account_id", "business_date"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    special_account_id: Mapped[int] = mapped_column(ForeignKey("special_accounts.id"), index=True)
    business_date: Mapped[date] = mapped_column(Date, index=True)
    has_statement: Mapped[bool] = mapped_column(Boolean)
    statement_id: Mapped[str | None] = mapped_column(String(100), default=None)
    opening_fen: Mapped[int | None] = mapped_column(BigInteger, default=None)
    closing_fen: Mapped[int | None] = mapped_column(BigInteger, default=None)
    sub_closings_json: Mapped[str] = mapped_column(Text, default="{}")
    line_count: Mapped[int] = mapped_column(Integer, default=0)
    entry_count: Mapped[int] = mapped_column(Integer, default=0)
    matched_count: Mapped[int] = mapped_column(Integer, default=0)
    exception_count: Mapped[int] = mapped_column(Integer, default=0)
    auto_posted_count: Mapped[int] = mapped_column(Integer, default=0)
    open_line_count: Mapped[int] = mapped_column(Integer, default=0)
    open_entry_count: Mapped[int] = mapped_column(Integer, default=0)
    previous_hash: Mapped[str] = mapped_column(String(64))
    statement_hash: Mapped[str] = mapped_column(String(64))
    statement_json: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(100), default="system")
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # The highest journal leg id when the run read the books: the run saw the entries up to
    # it, the next night offers those after it (None: a run stored before the watermark).
    journal_watermark: Mapped[int | None] = mapped_column(BigInteger, default=None)


class OpenItem(Base):
    """A bank line or book entry still open after the last run: it goes into the next one.

    ``item_id`` is the engine's id (``<statement id>:<position>`` for a line, ``j:<journal
    id>`` for an entry); a line keeps its content in ``line_json`` because its statement is
    not read again."""

    __tablename__ = "recon_open_items"
    __table_args__ = (UniqueConstraint("special_account_id", "item_type", "item_id"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    special_account_id: Mapped[int] = mapped_column(ForeignKey("special_accounts.id"), index=True)
    item_type: Mapped[str] = mapped_column(String(8))  # line | entry
    item_id: Mapped[str] = mapped_column(String(120))
    since: Mapped[date] = mapped_column(Date)
    line_json: Mapped[str | None] = mapped_column(Text, default=None)


class SeenTransaction(Base):
    """A bank transaction id a statement of the special account has shown, with the line that
    showed it first. A later statement showing the id again on another line shows a copy (a
    duplicate), not a second movement. Kept for ``SEEN_TRANSACTION_DAYS`` days after the line's
    booking date (see :mod:`gateway.reconcile.service`)."""

    __tablename__ = "recon_seen_transactions"
    # Keyed by what it is looked up by, and on SQLite stored in that key's own tree (no rowid):
    # a night can add a million ids, and each extra index is another million inserts. Rows
    # arrive night by night in booking-date order, so on PostgreSQL the date that old rows are
    # forgotten by needs only a block-range index.
    __table_args__ = (
        Index("ix_recon_seen_transactions_booking_date", "booking_date", postgresql_using="brin"),
        {"sqlite_with_rowid": False},
    )

    special_account_id: Mapped[int] = mapped_column(
        ForeignKey("special_accounts.id"), primary_key=True
    )
    bank_transaction_id: Mapped[str] = mapped_column(String(120), primary_key=True)
    line_id: Mapped[str] = mapped_column(String(120))
    booking_date: Mapped[date] = mapped_column(Date)


class ManualMatch(Base):
    """Lines and entries a person matched (or an adjusting entry matched to its lines)."""

    __tablename__ = "recon_manual_matches"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    special_account_id: Mapped[int] = mapped_column(ForeignKey("special_accounts.id"), index=True)
    queue_item_id: Mapped[int | None] = mapped_column(ForeignKey("queue_items.id"), default=None)
    line_ids_json: Mapped[str] = mapped_column(Text)
    entry_ids_json: Mapped[str] = mapped_column(Text)
    amount_fen: Mapped[int] = mapped_column(BigInteger)  # signed: into the special account > 0
    actor: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AutoPosting(Base):
    """A posting the reconciler booked without a person: marked so, and undoable."""

    __tablename__ = "recon_auto_postings"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("recon_runs.id"), index=True)
    kind: Mapped[str] = mapped_column(String(24))  # repayment | bank_fee | interest
    association_id: Mapped[int] = mapped_column(ForeignKey("associations.id"), index=True)
    journal_transaction_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    schedule_line_id: Mapped[int | None] = mapped_column(
        ForeignKey("repayment_schedule_lines.id"), default=None
    )
    principal_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    fee_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    lines_json: Mapped[str] = mapped_column(Text)  # the bank lines it books, whole
    reason: Mapped[str] = mapped_column(String(400))
    undone_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    undone_by: Mapped[str | None] = mapped_column(String(100), default=None)
    undo_reason: Mapped[str | None] = mapped_column(String(400), default=None)
    reversal_transaction_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
