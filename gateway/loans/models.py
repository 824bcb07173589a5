"""Loans (借款) with their guarantors, approvals, public notice and status."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gateway.db import Base, enum_column, utcnow
from gateway.ledger.models import LedgerChannel
from gateway.members.models import Member


class LoanStatus(StrEnum):
    APPLIED = "applied"  # 已申请（含联保）
    NOTICED = "noticed"  # 公示中
    COUNCIL_APPROVED = "council_approved"  # 理事会已审批
    COUNTY_APPROVED = "county_approved"  # 县级已审批（大额）
    RELEASED = "released"  # 已放行待银行代付
    DISBURSED = "disbursed"  # 已放款到卡
    REPAYING = "repaying"  # 还款中
    OVERDUE = "overdue"  # 逾期
    REPAID = "repaid"  # 已结清
    REJECTED = "rejected"  # 已拒绝
    CANCELLED = "cancelled"  # 已取消
    WRITTEN_OFF = "written_off"  # 已核销


# Approved but not yet paid out: these amounts are committed against the sub-account.
COMMITTED_STATUSES = (
    LoanStatus.COUNCIL_APPROVED,
    LoanStatus.COUNTY_APPROVED,
    LoanStatus.RELEASED,
)
# The member owes money on these.
OUTSTANDING_STATUSES = (LoanStatus.DISBURSED, LoanStatus.REPAYING, LoanStatus.OVERDUE)


class Loan(Base):
    __tablename__ = "loans"
    __table_args__ = (
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        CheckConstraint("term_months > 0", name="term_positive"),
        CheckConstraint("monthly_fee_rate_centipermille >= 0", name="rate_not_negative"),
        CheckConstraint("principal_repaid_fen >= 0", name="repaid_not_negative"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    association_id: Mapped[int] = mapped_column(ForeignKey("associations.id"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    contract_no: Mapped[str] = mapped_column(String(40), unique=True)
    purpose: Mapped[str] = mapped_column(String(200))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    term_months: Mapped[int] = mapped_column(Integer)
    # Monthly usage-fee rate in hundredths of a per mille: 6.5‰ is 650. Exact, never float.
    monthly_fee_rate_centipermille: Mapped[int] = mapped_column(Integer)
    channel: Mapped[LedgerChannel] = mapped_column(enum_column(LedgerChannel, length=16))
    cash_flagged: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[LoanStatus] = mapped_column(enum_column(LoanStatus), index=True)
    applied_on: Mapped[date] = mapped_column(Date)
    notice_start: Mapped[date | None] = mapped_column(Date, default=None)
    notice_end: Mapped[date | None] = mapped_column(Date, default=None)
    council_approved_on: Mapped[date | None] = mapped_column(Date, default=None)
    council_approved_by: Mapped[str | None] = mapped_column(String(100), default=None)
    county_approved_on: Mapped[date | None] = mapped_column(Date, default=None)
    county_approved_by: Mapped[str | None] = mapped_column(String(100), default=None)
    released_on: Mapped[date | None] = mapped_column(Date, default=None)
    disbursed_on: Mapped[date | None] = mapped_column(Date, default=None)
    due_on: Mapped[date | None] = mapped_column(Date, default=None)
    principal_repaid_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    fee_paid_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    repaid_on: Mapped[date | None] = mapped_column(Date, default=None)
    repaid_on_time: Mapped[bool | None] = mapped_column(Boolean, default=None)
    was_overdue: Mapped[bool] = mapped_column(Boolean, default=False)
    closing_reason: Mapped[str | None] = mapped_column(String(400), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    member: Mapped[Member] = relationship()
    guarantors: Mapped[list[LoanGuarantor]] = relationship(
        back_populates="loan", order_by="LoanGuarantor.id"
    )

    @property
    def monthly_fee_rate_permille(self) -> Decimal:
        return Decimal(self.monthly_fee_rate_centipermille) / 100

    @property
    def outstanding_principal_fen(self) -> int:
        return self.amount_fen - self.principal_repaid_fen


class LoanGuarantor(Base):
    """A member standing guarantee for a loan (三户联保)."""

    __tablename__ = "loan_guarantors"
    __table_args__ = (UniqueConstraint("loan_id", "member_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)

    loan: Mapped[Loan] = relationship(back_populates="guarantors")
    member: Mapped[Member] = relationship()
