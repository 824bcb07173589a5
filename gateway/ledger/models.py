"""The double-entry journal of each association.

A transaction's legs are written first and its header last: the header's insertion is the
moment the database checks that the legs balance (a trigger on SQLite, and on PostgreSQL also
a deferred constraint trigger at commit). A leg may not be added to a sealed transaction,
and nothing in the journal is ever updated or deleted: corrections are reversals.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
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
    Uuid,
    event,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from gateway.audit.models import AuditEvent
from gateway.db import Base, BigIntId, enum_column, utcnow
from gateway.errors import LedgerError


class AccountType(StrEnum):
    ASSET = "asset"
    LIABILITY = "liability"
    EQUITY = "equity"
    INCOME = "income"
    EXPENSE = "expense"

    @property
    def debit_normal(self) -> bool:
        return self in (AccountType.ASSET, AccountType.EXPENSE)


class AccountCode(StrEnum):
    """The chart of accounts every association gets."""

    CASH_ON_HAND = "1001"  # 库存现金（仅过渡期现金模式）
    BANK_SUB_ACCOUNT = "1002"  # 银行存款（专户子账户）
    LOANS_RECEIVABLE = "1301"  # 应收借款
    SUSPENSE = "1901"  # 待处理/暂记
    MEMBER_DEPOSITS = "2001"  # 会员入会互助金
    FISCAL_CENTRAL = "3001"  # 中央财政资金
    FISCAL_PROVINCIAL = "3002"  # 省级财政资金
    FISCAL_MUNICIPAL = "3003"  # 市级财政资金
    FISCAL_COUNTY = "3004"  # 县级财政资金
    DONATIONS = "3101"  # 捐赠资金
    OTHER_CAPITAL = "3201"  # 其他资金
    FEE_INCOME = "4001"  # 占用费收入
    DEPOSIT_INTEREST = "4002"  # 存款利息收入
    EXPENSE_STAFF = "5001"  # 管理人员补贴
    EXPENSE_OFFICE = "5002"  # 办公费用
    EXPENSE_DIVIDENDS = "5003"  # 会员分红
    EXPENSE_OTHER = "5009"  # 其他支出
    WRITE_OFF = "5101"  # 呆坏账核销


CHART: dict[AccountCode, tuple[AccountType, str, str]] = {
    AccountCode.CASH_ON_HAND: (AccountType.ASSET, "库存现金", "Cash on hand"),
    AccountCode.BANK_SUB_ACCOUNT: (AccountType.ASSET, "银行存款（子账户）", "Bank sub-account"),
    AccountCode.LOANS_RECEIVABLE: (AccountType.ASSET, "应收借款", "Loans receivable"),
    AccountCode.SUSPENSE: (AccountType.ASSET, "暂记款项", "Suspense"),
    AccountCode.MEMBER_DEPOSITS: (AccountType.LIABILITY, "会员互助金", "Member deposits"),
    AccountCode.FISCAL_CENTRAL: (AccountType.EQUITY, "中央财政资金", "Fiscal capital: central"),
    AccountCode.FISCAL_PROVINCIAL: (
        AccountType.EQUITY,
        "省级财政资金",
        "Fiscal capital: provincial",
    ),
    AccountCode.FISCAL_MUNICIPAL: (
        AccountType.EQUITY,
        "市级财政资金",
        "Fiscal capital: municipal",
    ),
    AccountCode.FISCAL_COUNTY: (AccountType.EQUITY, "县级财政资金", "Fiscal capital: county"),
    AccountCode.DONATIONS: (AccountType.EQUITY, "捐赠资金", "Donations"),
    AccountCode.OTHER_CAPITAL: (AccountType.EQUITY, "其他资金", "Other capital"),
    AccountCode.FEE_INCOME: (AccountType.INCOME, "占用费收入", "Usage-fee income"),
    AccountCode.DEPOSIT_INTEREST: (AccountType.INCOME, "存款利息收入", "Deposit interest"),
    AccountCode.EXPENSE_STAFF: (AccountType.EXPENSE, "管理人员补贴", "Staff subsidies"),
    AccountCode.EXPENSE_OFFICE: (AccountType.EXPENSE, "办公费用", "Office expenses"),
    AccountCode.EXPENSE_DIVIDENDS: (AccountType.EXPENSE, "会员分红", "Dividends"),
    AccountCode.EXPENSE_OTHER: (AccountType.EXPENSE, "其他支出", "Other expenses"),
    AccountCode.WRITE_OFF: (AccountType.EXPENSE, "呆坏账核销", "Bad-debt write-off"),
}


class LedgerChannel(StrEnum):
    TRANSFER = "transfer"  # 银行转账
    CASH = "cash"  # 现金（仅过渡期，必被标记）
    INTERNAL = "internal"  # 记账调整，不涉及资金流动


class TransactionKind(StrEnum):
    """Known kinds; stored as text so later modules can add their own without a migration."""

    CAPITAL_CONTRIBUTION = "capital_contribution"
    MEMBER_DEPOSIT = "member_deposit"
    DISBURSEMENT = "disbursement"
    REPAYMENT = "repayment"
    FEE = "fee"
    DEPOSIT_INTEREST = "deposit_interest"
    EXPENSE = "expense"
    ADJUSTMENT = "adjustment"
    REVERSAL = "reversal"
    WRITE_OFF = "write_off"
    # a written-off loan's principal the bank collected after all, put back on the loan
    # (Dr loans receivable, Cr write-off) before its repayment is booked
    WRITE_OFF_RECOVERY = "write_off_recovery"
    # money the bank collected for a loan that no longer owes it, kept in suspense
    COLLECTION_HELD = "collection_held"
    REFUND = "refund"


class LedgerAccount(Base):
    __tablename__ = "ledger_accounts"
    __table_args__ = (UniqueConstraint("association_id", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    association_id: Mapped[int] = mapped_column(ForeignKey("associations.id"), index=True)
    code: Mapped[AccountCode] = mapped_column(enum_column(AccountCode, length=8))
    account_type: Mapped[AccountType] = mapped_column(enum_column(AccountType))
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))


class JournalTransaction(Base):
    __tablename__ = "journal_transactions"
    __table_args__ = (CheckConstraint("total_fen > 0", name="total_positive"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    association_id: Mapped[int] = mapped_column(ForeignKey("associations.id"), index=True)
    business_date: Mapped[date] = mapped_column(Date, index=True)
    description: Mapped[str] = mapped_column(String(400))
    kind: Mapped[str] = mapped_column(String(40))
    channel: Mapped[LedgerChannel] = mapped_column(enum_column(LedgerChannel, length=16))
    cash_flagged: Mapped[bool] = mapped_column(Boolean, default=False)
    external_ref: Mapped[str | None] = mapped_column(String(100), default=None, index=True)
    total_fen: Mapped[int] = mapped_column(BigInteger)
    reversal_of: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("journal_transactions.id"), unique=True, default=None
    )
    created_by: Mapped[str] = mapped_column(String(100), default="system")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    legs: Mapped[list[JournalLeg]] = relationship(
        back_populates="transaction", order_by="JournalLeg.id", viewonly=True
    )


class JournalLeg(Base):
    __tablename__ = "journal_legs"
    __table_args__ = (
        CheckConstraint(
            "(debit_fen > 0 AND credit_fen = 0) OR (debit_fen = 0 AND credit_fen > 0)",
            name="one_side_positive",
        ),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    transaction_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("journal_transactions.id", deferrable=True, initially="DEFERRED"), index=True
    )
    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"), index=True)
    debit_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    credit_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    memo: Mapped[str] = mapped_column(String(200), default="")

    transaction: Mapped[JournalTransaction] = relationship(back_populates="legs", viewonly=True)
    account: Mapped[LedgerAccount] = relationship()


_APPEND_ONLY = (JournalTransaction, JournalLeg, AuditEvent)


def _refuse_append_only_changes(session: Session, _context: object, _instances: object) -> None:
    """In code as in the database: journal and audit rows are never updated or deleted."""
    for obj in [*session.dirty, *session.deleted]:
        if isinstance(obj, _APPEND_ONLY) and (obj in session.deleted or session.is_modified(obj)):
            raise LedgerError(
                "账簿和审计日志只能追加，更正请用冲销",
                f"{type(obj).__name__} is append-only: corrections are reversals",
            )


event.listen(Session, "before_flush", _refuse_append_only_changes)
