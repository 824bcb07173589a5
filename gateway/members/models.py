"""Members (会员) of an association, with their Huinong One-Card and resident ID encrypted."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gateway.db import Base, enum_column, utcnow
from gateway.org.models import Association


class MemberStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    WITHDRAWN = "withdrawn"  # 退会


class Member(Base):
    """A member. Card and resident-ID numbers are stored as AES-GCM ciphertext, an HMAC for
    exact look-up and the last four digits for masked display; never in clear."""

    __tablename__ = "members"
    __table_args__ = (UniqueConstraint("association_id", "member_no"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    association_id: Mapped[int] = mapped_column(ForeignKey("associations.id"), index=True)
    member_no: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(100))
    household_no: Mapped[str] = mapped_column(String(40))
    phone: Mapped[str] = mapped_column(String(20))
    low_income: Mapped[bool] = mapped_column(Boolean, default=False)
    credit_grade: Mapped[str] = mapped_column(String(8))
    # Mutual-fund deposit actually paid in (入会互助金), kept in step with the ledger.
    deposit_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    status: Mapped[MemberStatus] = mapped_column(
        enum_column(MemberStatus), default=MemberStatus.ACTIVE
    )
    joined_on: Mapped[date] = mapped_column(Date)

    card_cipher: Mapped[bytes] = mapped_column(LargeBinary)
    card_hash: Mapped[str] = mapped_column(String(64), unique=True)
    card_last4: Mapped[str] = mapped_column(String(4))
    card_prefix: Mapped[str] = mapped_column(String(6))
    resident_id_cipher: Mapped[bytes] = mapped_column(LargeBinary)
    resident_id_hash: Mapped[str] = mapped_column(String(64), unique=True)
    resident_id_last4: Mapped[str] = mapped_column(String(4))

    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    association: Mapped[Association] = relationship()
