"""Counties (with their fund office), towns, banks, special accounts and associations."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from gateway.db import Base, enum_column, utcnow
from gateway.errors import ValidationFailed
from gateway.settings import SEED_RULE_CHECKS, CashMode


class PilotLevel(StrEnum):
    PROVINCIAL = "provincial"  # 省级试点
    MUNICIPAL = "municipal"  # 市级试点


class AssociationStatus(StrEnum):
    ACTIVE = "active"  # 正常运行
    SUSPENDED = "suspended"  # 暂停
    LIQUIDATING = "liquidating"  # 撤销清算中
    CLOSED = "closed"  # 已撤销


class AssociationGrade(StrEnum):
    A = "A"
    B = "B"
    C = "C"
    D = "D"


class AccountLevel(StrEnum):
    COUNTY = "county"  # 县级专户
    TOWN = "town"  # 镇级专户


class County(Base):
    """A county and its mutual-fund office (县互助资金管理办公室), with its policy settings."""

    __tablename__ = "counties"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    fund_office_name: Mapped[str] = mapped_column(String(200))
    fund_office_contact: Mapped[str] = mapped_column(String(100), default="")
    loan_cap_fen: Mapped[int] = mapped_column(BigInteger)
    county_approval_above_fen: Mapped[int] = mapped_column(BigInteger)
    notice_days: Mapped[int] = mapped_column(Integer)
    guarantors_required: Mapped[int] = mapped_column(Integer)
    cash_mode: Mapped[CashMode] = mapped_column(enum_column(CashMode))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    credit_grades: Mapped[list[CreditGradeLimit]] = relationship(
        back_populates="county", order_by="CreditGradeLimit.min_on_time_loans"
    )
    towns: Mapped[list[Town]] = relationship(back_populates="county", order_by="Town.code")

    @validates(*SEED_RULE_CHECKS)
    def _within_seed_rules(self, key: str, value: int) -> int:
        """A county's policy is never looser than the seeds' rules, however it is set: when
        the county is created and by anything that changes it later."""
        try:
            return SEED_RULE_CHECKS[key](f"county.{key}", value)
        except ValueError as exc:
            raise ValidationFailed(
                f"县的政策设置不符合规定：{exc}",
                f"the county's policy breaks a rule: {exc}",
                code="county_policy_invalid",
                setting=key,
            ) from None


class CreditGradeLimit(Base):
    """The county's credit-grade table: each grade's limit, ordered by ``min_on_time_loans``.
    A member's stored grade picks the row; the yearly review moves it (gateway.grading)."""

    __tablename__ = "credit_grade_limits"
    __table_args__ = (
        UniqueConstraint("county_id", "grade"),
        UniqueConstraint("county_id", "min_on_time_loans"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    county_id: Mapped[int] = mapped_column(ForeignKey("counties.id"))
    grade: Mapped[str] = mapped_column(String(8))
    min_on_time_loans: Mapped[int] = mapped_column(Integer)
    limit_fen: Mapped[int] = mapped_column(BigInteger)

    county: Mapped[County] = relationship(back_populates="credit_grades")


class Town(Base):
    __tablename__ = "towns"
    __table_args__ = (UniqueConstraint("county_id", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    county_id: Mapped[int] = mapped_column(ForeignKey("counties.id"))
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(100))

    county: Mapped[County] = relationship(back_populates="towns")


class Bank(Base):
    """A cooperative bank (合作金融机构); its file layout lives in ``config/banks/<code>.toml``."""

    __tablename__ = "banks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))


class SpecialAccount(Base):
    """A county- or town-level special account (专户) at a bank, one sub-account per association."""

    __tablename__ = "special_accounts"
    __table_args__ = (UniqueConstraint("bank_id", "account_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    county_id: Mapped[int] = mapped_column(ForeignKey("counties.id"))
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id"))
    town_id: Mapped[int | None] = mapped_column(ForeignKey("towns.id"), default=None)
    level: Mapped[AccountLevel] = mapped_column(enum_column(AccountLevel))
    account_number: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))

    county: Mapped[County] = relationship()
    bank: Mapped[Bank] = relationship()


class Association(Base):
    """A village mutual-aid association (互助协会); its money sits in its own sub-account."""

    __tablename__ = "associations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    town_id: Mapped[int] = mapped_column(ForeignKey("towns.id"))
    special_account_id: Mapped[int] = mapped_column(ForeignKey("special_accounts.id"))
    sub_account_number: Mapped[str] = mapped_column(String(40), unique=True)
    pilot_level: Mapped[PilotLevel] = mapped_column(enum_column(PilotLevel))
    start_date: Mapped[date] = mapped_column(Date)
    status: Mapped[AssociationStatus] = mapped_column(
        enum_column(AssociationStatus), default=AssociationStatus.ACTIVE
    )
    grade: Mapped[AssociationGrade | None] = mapped_column(
        enum_column(AssociationGrade, length=2), default=None
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    town: Mapped[Town] = relationship()
    special_account: Mapped[SpecialAccount] = relationship()

    @property
    def county_id(self) -> int:
        return self.town.county_id
