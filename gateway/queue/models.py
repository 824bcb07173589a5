"""Mismatch queue items and their history."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db import Base, BigIntId, enum_column, utcnow


class ItemStatus(StrEnum):
    OPEN = "open"  # 待处理
    AWAITING_APPROVAL = "awaiting_approval"  # 调整分录待第二人复核
    WAITING_BANK = "waiting_bank"  # 已提交银行更正，等待银行
    WRITE_OFF_REVIEW = "write_off_review"  # 核销申请待审
    RESOLVED = "resolved"  # 已处理，待下一次对账确认
    CLOSED = "closed"  # 已确认关闭


class NightState(StrEnum):
    """What the last run said about the item."""

    NEW = "new"  # 新增
    PERSISTING = "persisting"  # 持续
    REOPENED = "reopened"  # 处理后仍出现，已重开
    GONE = "gone"  # 最近一次对账未再出现


class Resolution(StrEnum):
    MANUAL_MATCH = "manual_match"  # 人工匹配
    ADJUSTING_ENTRY = "adjusting_entry"  # 调整分录
    BANK_ERROR = "bank_error"  # 银行差错跟进
    WRITE_OFF = "write_off"  # 核销申请
    REASSIGN = "reassign"  # 改归正确协会
    DISMISS = "dismiss"  # 说明理由后驳回
    CLEARED = "cleared"  # 对账未再出现（系统）


class QueueItem(Base):
    """One reconciliation exception, followed from night to night by its fingerprint."""

    __tablename__ = "queue_items"
    __table_args__ = (UniqueConstraint("special_account_id", "fingerprint"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    special_account_id: Mapped[int] = mapped_column(ForeignKey("special_accounts.id"), index=True)
    association_id: Mapped[int | None] = mapped_column(
        ForeignKey("associations.id"), default=None, index=True
    )
    fingerprint: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32), index=True)
    severity: Mapped[int] = mapped_column(Integer)
    priority: Mapped[int] = mapped_column(Integer)
    status: Mapped[ItemStatus] = mapped_column(enum_column(ItemStatus), index=True)
    night_state: Mapped[NightState] = mapped_column(enum_column(NightState))
    first_seen: Mapped[date] = mapped_column(Date)
    last_seen: Mapped[date] = mapped_column(Date)
    times_seen: Mapped[int] = mapped_column(Integer, default=1)
    sub_account: Mapped[str | None] = mapped_column(String(40), default=None)
    subject: Mapped[str] = mapped_column(String(200), default="")
    line_ids_json: Mapped[str] = mapped_column(Text, default="[]")
    entry_ids_json: Mapped[str] = mapped_column(Text, default="[]")
    # the bank lines as the run saw them (line id -> line), shown once they are closed
    evidence_json: Mapped[str | None] = mapped_column(Text, default=None)
    expected_fen: Mapped[int | None] = mapped_column(BigInteger, default=None)
    actual_fen: Mapped[int | None] = mapped_column(BigInteger, default=None)
    explanation: Mapped[str] = mapped_column(String(600), default="")
    assignee: Mapped[str | None] = mapped_column(String(100), default=None)
    resolution: Mapped[Resolution | None] = mapped_column(enum_column(Resolution), default=None)
    resolution_note: Mapped[str | None] = mapped_column(String(600), default=None)
    resolved_by: Mapped[str | None] = mapped_column(String(100), default=None)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    approved_by: Mapped[str | None] = mapped_column(String(100), default=None)
    proposal_json: Mapped[str | None] = mapped_column(Text, default=None)
    journal_transaction_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class QueueEvent(Base):
    """One step in an item's history: seen by a run, assigned, resolved, approved, reopened."""

    __tablename__ = "queue_events"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("queue_items.id"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(40))
    note: Mapped[str] = mapped_column(String(600), default="")
    data_json: Mapped[str] = mapped_column(Text, default="{}")
