"""Grades the county records for an association, beside the suggestion it was shown."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db import Base, enum_column, utcnow
from gateway.org.models import AssociationGrade


class AssociationEvaluation(Base):
    """One evaluation of an association (等级评估) for the period ending ``period_end``:
    the suggested grade with its score and reasons, and the grade the county decided."""

    __tablename__ = "association_evaluations"
    __table_args__ = (UniqueConstraint("association_id", "period_end"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    association_id: Mapped[int] = mapped_column(ForeignKey("associations.id"), index=True)
    period_start: Mapped[date | None] = mapped_column(Date, default=None)
    period_end: Mapped[date] = mapped_column(Date)
    suggested_grade: Mapped[AssociationGrade] = mapped_column(
        enum_column(AssociationGrade, length=2)
    )
    suggested_score: Mapped[int] = mapped_column(Integer)
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    self_grade: Mapped[AssociationGrade | None] = mapped_column(
        enum_column(AssociationGrade, length=2), default=None
    )
    decided_grade: Mapped[AssociationGrade] = mapped_column(enum_column(AssociationGrade, length=2))
    method: Mapped[str] = mapped_column(String(100))
    decided_by: Mapped[str] = mapped_column(String(100))
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    note: Mapped[str] = mapped_column(String(400), default="")
