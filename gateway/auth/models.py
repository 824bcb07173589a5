"""Users and their roles, scoped to a county or an association."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, CheckConstraint, DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db import Base, BigIntId, enum_column, utcnow


class Role(StrEnum):
    ADMIN = "admin"  # 系统管理员
    COUNTY_OFFICER = "county_officer"  # 县互助资金管理办公室（县级管理员 county administrator）
    COUNTY_REVIEWER = "county_reviewer"  # 县级复核员 county reviewer
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
    # A bank operator sees one bank's files only (within the county).
    bank_id: Mapped[int | None] = mapped_column(ForeignKey("banks.id"), default=None)
    # Reading card and resident-ID numbers in clear: granted separately, every use audited.
    can_unmask: Mapped[bool] = mapped_column(Boolean, default=False)


class ApiToken(Base):
    """A bearer token for a machine client; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class WebSession(Base):
    """A signed-in browser: the cookie holds a random secret, the table its SHA-256 and the
    session's CSRF token."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class LoginAttempt(Base):
    """One sign-in attempt, kept for rate limiting by user name and by client address."""

    __tablename__ = "login_attempts"
    __table_args__ = (Index("ix_login_attempts_username_at", "username", "at"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    username: Mapped[str] = mapped_column(String(60))
    client: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    succeeded: Mapped[bool] = mapped_column(Boolean)
