"""Users and their roles, scoped to a county or an association."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, CheckConstraint, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db import Base, enum_column, utcnow


class Role(StrEnum):
    ADMIN = "admin"  # 系统管理员
    COUNTY_OFFICER = "county_officer"  # 县互助资金管理办公室
    TREASURER = "treasurer"  # 协会理事会/会计
    BANK_OPERATOR = "bank_operator"  # 合作金融机构
    AUDITOR = "auditor"  # 乡镇经管站、审计（只读）


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(
            "NOT (county_id IS NOT NULL AND association_id IS NOT NULL)", name="one_scope"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(60), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    role: Mapped[Role] = mapped_column(enum_column(Role))
    # Scope: a county (all its associations) or one association; neither for an admin.
    county_id: Mapped[int | None] = mapped_column(ForeignKey("counties.id"), default=None)
    association_id: Mapped[int | None] = mapped_column(ForeignKey("associations.id"), default=None)
    password_hash: Mapped[str | None] = mapped_column(String(200), default=None)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
