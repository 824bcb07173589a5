"""Capital contributions to an association, by source; each one is booked in the ledger."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, Date, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db import Base, enum_column, utcnow


class CapitalSource(StrEnum):
    CENTRAL = "central"  # 中央财政资金
    PROVINCIAL = "provincial"  # 省级财政资金
    MUNICIPAL = "municipal"  # 市级财政资金
    COUNTY = "county"  # 县级财政资金
    MEMBER_DEPOSIT = "member_deposit"  # 会员入会互助金
    DONATION = "donation"  # 捐赠资金
    OTHER = "other"  # 其他


FISCAL_SOURCES = (
    CapitalSource.CENTRAL,
    CapitalSource.PROVINCIAL,
    CapitalSource.MUNICIPAL,
    CapitalSource.COUNTY,
)


class CapitalContribution(Base):
    __tablename__ = "capital_contributions"
    __table_args__ = (CheckConstraint("amount_fen > 0", name="amount_positive"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    association_id: Mapped[int] = mapped_column(ForeignKey("associations.id"), index=True)
    source: Mapped[CapitalSource] = mapped_column(enum_column(CapitalSource))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    received_on: Mapped[date] = mapped_column(Date)
    reference: Mapped[str] = mapped_column(String(100), default="")
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"), default=None)
    journal_transaction_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("journal_transactions.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
