"""The yearly credit-grade review of each member, kept as a record of what changed and why."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db import Base, utcnow


class MemberCreditReview(Base):
    """A member's credit grade and limit as decided by the review of ``year``."""

    __tablename__ = "member_credit_reviews"
    __table_args__ = (UniqueConstraint("member_id", "year"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    association_id: Mapped[int] = mapped_column(ForeignKey("associations.id"), index=True)
    year: Mapped[int] = mapped_column(Integer)
    from_grade: Mapped[str] = mapped_column(String(8))
    to_grade: Mapped[str] = mapped_column(String(8))
    limit_fen: Mapped[int] = mapped_column(BigInteger)
    on_time_loans: Mapped[int] = mapped_column(Integer)
    late_loans: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(200))
    reviewed_by: Mapped[str] = mapped_column(String(100))
    reviewed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
