"""Payment instructions, their recorded transitions, loan repayment schedules and the
follow-up items the county fund office works through."""

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

from adapters.records import Direction
from gateway.db import Base, BigIntId, enum_column, utcnow


class InstructionStatus(StrEnum):
    """``pending → batched → sent → accepted | rejected → settled | failed | returned``."""

    PENDING = "pending"  # 待发送
    BATCHED = "batched"  # 已组批（文件已生成并保存）
    SENT = "sent"  # 已送达银行
    ACCEPTED = "accepted"  # 银行已受理
    REJECTED = "rejected"  # 银行拒绝
    SETTLED = "settled"  # 已入账（代扣可部分入账）
    FAILED = "failed"  # 失败，已退回借款/留待重扣
    RETURNED = "returned"  # 入账后退汇，已冲销


class PaymentPurpose(StrEnum):
    """What a payment is for. Loans are paid out and collected; liquidation pays out deposits
    to members' cards and capital to the accounts the county names (no loan behind them)."""

    LOAN = "loan"  # 借款放款或还款
    DEPOSIT_REFUND = "deposit_refund"  # 清算退还会员入会互助金
    CAPITAL_RETURN = "capital_return"  # 清算退还财政资金（及结余上交）


TRANSITIONS: dict[InstructionStatus, frozenset[InstructionStatus]] = {
    InstructionStatus.PENDING: frozenset({InstructionStatus.BATCHED, InstructionStatus.FAILED}),
    InstructionStatus.BATCHED: frozenset({InstructionStatus.SENT, InstructionStatus.PENDING}),
    InstructionStatus.SENT: frozenset(
        {
            InstructionStatus.ACCEPTED,
            InstructionStatus.REJECTED,
            InstructionStatus.SETTLED,
        }
    ),
    InstructionStatus.ACCEPTED: frozenset({InstructionStatus.SETTLED, InstructionStatus.REJECTED}),
    InstructionStatus.REJECTED: frozenset({InstructionStatus.FAILED}),
    InstructionStatus.SETTLED: frozenset({InstructionStatus.RETURNED}),
    InstructionStatus.FAILED: frozenset(),
    InstructionStatus.RETURNED: frozenset(),
}

OPEN_STATUSES = (
    InstructionStatus.PENDING,
    InstructionStatus.BATCHED,
    InstructionStatus.SENT,
    InstructionStatus.ACCEPTED,
)


class PaymentInstruction(Base):
    """One payment the bank is asked to make: a disbursement onto a member's card or a
    collection from it. ``principal_fen + fee_fen == amount_fen``.

    A loan's instruction names its loan; a liquidation payout has none: a deposit refund is
    paid onto the member's card, a capital return onto ``payee_account`` (named by the county).
    """

    __tablename__ = "payment_instructions"
    __table_args__ = (
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        CheckConstraint("principal_fen >= 0 AND fee_fen >= 0", name="split_not_negative"),
        CheckConstraint("principal_fen + fee_fen = amount_fen", name="split_adds_up"),
        CheckConstraint("settled_amount_fen >= 0", name="settled_not_negative"),
        CheckConstraint("purpose <> 'loan' OR loan_id IS NOT NULL", name="loan_has_loan"),
        CheckConstraint(
            "purpose <> 'deposit_refund' OR member_id IS NOT NULL", name="refund_has_member"
        ),
        CheckConstraint(
            "member_id IS NOT NULL OR (payee_account IS NOT NULL AND payee_name IS NOT NULL)",
            name="has_payee",
        ),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    end_to_end_id: Mapped[str] = mapped_column(String(35), unique=True)
    direction: Mapped[Direction] = mapped_column(enum_column(Direction, length=16))
    status: Mapped[InstructionStatus] = mapped_column(enum_column(InstructionStatus), index=True)
    association_id: Mapped[int] = mapped_column(ForeignKey("associations.id"), index=True)
    special_account_id: Mapped[int] = mapped_column(ForeignKey("special_accounts.id"), index=True)
    purpose: Mapped[PaymentPurpose] = mapped_column(
        enum_column(PaymentPurpose, length=16),
        default=PaymentPurpose.LOAN,
        server_default=PaymentPurpose.LOAN.value,
    )
    loan_id: Mapped[int | None] = mapped_column(ForeignKey("loans.id"), index=True)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    payee_account: Mapped[str | None] = mapped_column(String(40), default=None)
    payee_name: Mapped[str | None] = mapped_column(String(200), default=None)
    schedule_line_id: Mapped[int | None] = mapped_column(
        ForeignKey("repayment_schedule_lines.id"), default=None, index=True
    )
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    principal_fen: Mapped[int] = mapped_column(BigInteger)
    fee_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    requested_date: Mapped[date] = mapped_column(Date, index=True)
    batch_id: Mapped[int | None] = mapped_column(
        ForeignKey("payment_batches.id"), default=None, index=True
    )
    settled_amount_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    settled_on: Mapped[date | None] = mapped_column(Date, default=None)
    reason_code: Mapped[str | None] = mapped_column(String(16), default=None)
    reason_text: Mapped[str | None] = mapped_column(String(400), default=None)
    journal_transaction_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class InstructionTransition(Base):
    """One recorded step of an instruction's lifecycle: when, why, and from which file."""

    __tablename__ = "instruction_transitions"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    instruction_id: Mapped[int] = mapped_column(ForeignKey("payment_instructions.id"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(24), default=None)
    to_status: Mapped[str] = mapped_column(String(24))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    business_date: Mapped[date] = mapped_column(Date)
    cause: Mapped[str] = mapped_column(String(400))
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("payment_batches.id"), default=None)
    inbound_file_id: Mapped[int | None] = mapped_column(
        ForeignKey("inbound_files.id"), default=None
    )


class RepaymentMethod(StrEnum):
    LUMP_SUM = "lump_sum"  # 到期一次还本付费
    EQUAL_INSTALMENTS = "equal_instalments"  # 按月等额还本、按余额付费


class ScheduleLineStatus(StrEnum):
    OPEN = "open"  # 未到期或待扣款
    PAID = "paid"  # 已足额收回
    OVERDUE = "overdue"  # 逾期（未扣或部分扣款）
    CANCELLED = "cancelled"  # 放款被退汇，计划作废


class RepaymentScheduleLine(Base):
    """One due repayment of a loan: principal and usage fee due on a date."""

    __tablename__ = "repayment_schedule_lines"
    __table_args__ = (
        UniqueConstraint("loan_id", "instalment_no"),
        CheckConstraint("principal_fen >= 0 AND fee_fen >= 0", name="amounts_not_negative"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id"), index=True)
    instalment_no: Mapped[int] = mapped_column(Integer)
    method: Mapped[RepaymentMethod] = mapped_column(enum_column(RepaymentMethod))
    due_on: Mapped[date] = mapped_column(Date, index=True)
    principal_fen: Mapped[int] = mapped_column(BigInteger)
    fee_fen: Mapped[int] = mapped_column(BigInteger)
    paid_principal_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    paid_fee_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_on: Mapped[date | None] = mapped_column(Date, default=None, index=True)
    status: Mapped[ScheduleLineStatus] = mapped_column(
        enum_column(ScheduleLineStatus), default=ScheduleLineStatus.OPEN, index=True
    )

    @property
    def outstanding_principal_fen(self) -> int:
        return self.principal_fen - self.paid_principal_fen

    @property
    def outstanding_fee_fen(self) -> int:
        return self.fee_fen - self.paid_fee_fen


class FollowUpKind(StrEnum):
    DISBURSEMENT_FAILED = "disbursement_failed"  # 代付失败，借款退回已审批
    COLLECTION_FAILED = "collection_failed"  # 代扣失败
    COLLECTION_PARTIAL = "collection_partial"  # 部分扣款
    RETURNED_AFTER_SETTLEMENT = "returned_after_settlement"  # 入账后退汇
    FILE_QUARANTINED = "file_quarantined"  # 银行文件被隔离
    BATCH_NOT_BUILT = "batch_not_built"  # 批次无法生成
    DELIVERY_FAILED = "delivery_failed"  # 文件发送失败（未能送达银行服务器）
    FILE_REFUSED = "file_refused"  # 银行拒收文件（拒绝通知）
    NO_ANSWER = "no_answer"  # 银行逾期未回盘
    OVER_FILE_LIMIT = "over_file_limit"  # 单笔超过文件金额上限
    RETRIES_EXHAUSTED = "retries_exhausted"  # 重扣次数用尽
    ANSWER_CONTRADICTED = "answer_contradicted"  # 银行前后回盘不一致
    WRITTEN_OFF_RECOVERED = "written_off_recovered"  # 已核销借款又被扣回，按核销后收回入账
    COLLECTION_HELD = "collection_held"  # 扣款到账但借款已不欠，暂记待处理

    @property
    def label_zh(self) -> str:
        return FOLLOW_UP_LABELS[self][0]

    @property
    def label_en(self) -> str:
        return FOLLOW_UP_LABELS[self][1]


# Each follow-up kind in words, Chinese first (the console, the command line, the demo summary).
FOLLOW_UP_LABELS: dict[FollowUpKind, tuple[str, str]] = {
    FollowUpKind.DISBURSEMENT_FAILED: ("代付失败，借款退回已审批", "Disbursement failed"),
    FollowUpKind.COLLECTION_FAILED: ("代扣失败", "Collection failed"),
    FollowUpKind.COLLECTION_PARTIAL: ("部分扣款", "Collection partly paid"),
    FollowUpKind.RETURNED_AFTER_SETTLEMENT: ("入账后退汇", "Returned after settlement"),
    FollowUpKind.FILE_QUARANTINED: ("银行文件被隔离", "Bank file quarantined"),
    FollowUpKind.BATCH_NOT_BUILT: ("批次无法生成", "Batch could not be built"),
    FollowUpKind.DELIVERY_FAILED: ("文件发送失败", "File could not be delivered"),
    FollowUpKind.FILE_REFUSED: ("银行拒收文件", "File refused by the bank"),
    FollowUpKind.NO_ANSWER: ("银行逾期未回盘", "No answer from the bank in time"),
    FollowUpKind.OVER_FILE_LIMIT: ("单笔超过文件金额上限", "Over the file's amount limit"),
    FollowUpKind.RETRIES_EXHAUSTED: ("重扣次数用尽", "Collection retries exhausted"),
    FollowUpKind.ANSWER_CONTRADICTED: ("银行前后回盘不一致", "Bank's answers contradict"),
    FollowUpKind.WRITTEN_OFF_RECOVERED: ("已核销借款收回", "Written-off loan recovered"),
    FollowUpKind.COLLECTION_HELD: ("扣款暂记待处理", "Collection held in suspense"),
}


class FollowUpItem(Base):
    """Something the county fund office must look at; the mismatch queue can absorb these."""

    __tablename__ = "payment_follow_ups"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    kind: Mapped[FollowUpKind] = mapped_column(enum_column(FollowUpKind, length=32), index=True)
    business_date: Mapped[date] = mapped_column(Date, index=True)
    association_id: Mapped[int | None] = mapped_column(ForeignKey("associations.id"), default=None)
    instruction_id: Mapped[int | None] = mapped_column(
        ForeignKey("payment_instructions.id"), default=None
    )
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("payment_batches.id"), default=None)
    inbound_file_id: Mapped[int | None] = mapped_column(
        ForeignKey("inbound_files.id"), default=None
    )
    amount_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    reason_code: Mapped[str | None] = mapped_column(String(16), default=None)
    message_zh: Mapped[str] = mapped_column(String(400))
    message_en: Mapped[str] = mapped_column(String(400))
    resolved: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Who marked it dealt with, when, and what was done (gateway.payments.follow_ups).
    resolved_by: Mapped[str | None] = mapped_column(String(100), default=None)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    resolution_note: Mapped[str | None] = mapped_column(String(600), default=None)
