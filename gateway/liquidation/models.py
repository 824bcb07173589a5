"""A liquidation, the accounts the county names for returned capital, the payouts it makes and
the loans it lists for write-off review."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db import Base, enum_column, utcnow


class LiquidationStatus(StrEnum):
    OPEN = "open"  # 清算中
    CLOSED = "closed"  # 已销户结束


class CapitalLevel(StrEnum):
    """The levels fiscal capital goes back to (central and provincial funds return together)."""

    CENTRAL_PROVINCIAL = "central_provincial"  # 中央和省级财政资金
    MUNICIPAL = "municipal"  # 市级财政资金
    COUNTY = "county"  # 县级财政资金及结余


class PayoutKind(StrEnum):
    DEPOSIT_REFUND = "deposit_refund"  # 退还会员入会互助金
    CAPITAL_RETURN = "capital_return"  # 收回财政资金
    SURPLUS_RETURN = "surplus_return"  # 结余（捐赠、其他资金、净收益）上交


class PayoutStatus(StrEnum):
    REQUESTED = "requested"  # 已提交银行代发
    SETTLED = "settled"  # 银行已付出（回盘或对账单确认）
    FAILED = "failed"  # 银行拒绝或退回，待重新支付


class WriteOffDecision(StrEnum):
    PENDING = "pending"  # 待县办审核
    APPROVED = "approved"  # 同意核销
    REJECTED = "rejected"  # 不同意，继续追收


class Liquidation(Base):
    __tablename__ = "liquidations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    association_id: Mapped[int] = mapped_column(ForeignKey("associations.id"), unique=True)
    status: Mapped[LiquidationStatus] = mapped_column(enum_column(LiquidationStatus))
    reason: Mapped[str] = mapped_column(String(400))
    started_by: Mapped[str] = mapped_column(String(100))
    started_on: Mapped[date] = mapped_column(Date)
    books_closed_on: Mapped[date | None] = mapped_column(Date, default=None)
    closed_on: Mapped[date | None] = mapped_column(Date, default=None)
    closed_by: Mapped[str | None] = mapped_column(String(100), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class CapitalReturnAccount(Base):
    """Where the county wants one level's fiscal capital returned."""

    __tablename__ = "liquidation_capital_accounts"
    __table_args__ = (UniqueConstraint("liquidation_id", "level"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    liquidation_id: Mapped[int] = mapped_column(ForeignKey("liquidations.id"), index=True)
    level: Mapped[CapitalLevel] = mapped_column(enum_column(CapitalLevel))
    account_number: Mapped[str] = mapped_column(String(40))
    account_name: Mapped[str] = mapped_column(String(200))
    named_by: Mapped[str] = mapped_column(String(100))


class LiquidationPayout(Base):
    """One payment out of the sub-account: a member's deposit back to their card, or capital
    back to the account the county named. Settled when the bank's statement shows it."""

    __tablename__ = "liquidation_payouts"
    __table_args__ = (CheckConstraint("amount_fen > 0", name="amount_positive"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    liquidation_id: Mapped[int] = mapped_column(ForeignKey("liquidations.id"), index=True)
    kind: Mapped[PayoutKind] = mapped_column(enum_column(PayoutKind))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"), default=None)
    level: Mapped[CapitalLevel | None] = mapped_column(enum_column(CapitalLevel), default=None)
    # A county account for capital; None for a member (their card is read encrypted).
    payee_account: Mapped[str | None] = mapped_column(String(40), default=None)
    payee_name: Mapped[str] = mapped_column(String(200))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    end_to_end_id: Mapped[str] = mapped_column(String(35), unique=True)
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[PayoutStatus] = mapped_column(enum_column(PayoutStatus), index=True)
    requested_on: Mapped[date] = mapped_column(Date)
    settled_on: Mapped[date | None] = mapped_column(Date, default=None)
    journal_transaction_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    failure_reason: Mapped[str | None] = mapped_column(String(400), default=None)
    # The disbursement instruction that carries it through the batch sender.
    instruction_id: Mapped[int | None] = mapped_column(
        ForeignKey("payment_instructions.id"), default=None, unique=True
    )


class WriteOffReview(Base):
    """A loan the liquidation could not recover, listed for the county's write-off review."""

    __tablename__ = "liquidation_write_offs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    liquidation_id: Mapped[int] = mapped_column(ForeignKey("liquidations.id"), index=True)
    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id"), unique=True)
    outstanding_fen: Mapped[int] = mapped_column(BigInteger)
    listed_on: Mapped[date] = mapped_column(Date)
    listed_by: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(String(400))
    decision: Mapped[WriteOffDecision] = mapped_column(enum_column(WriteOffDecision))
    decided_by: Mapped[str | None] = mapped_column(String(100), default=None)
    decided_on: Mapped[date | None] = mapped_column(Date, default=None)
