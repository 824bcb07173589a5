"""Payment batches: one file's worth of instructions, its stored bytes and their SHA-256.

A batch's bytes are rendered once, in the transaction that claims its instructions, and
stored here; every delivery (and every ``resend``) sends exactly these bytes.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from adapters.records import Direction
from gateway.db import Base, BigIntId, enum_column, utcnow


class BatchStatus(StrEnum):
    STORED = "stored"  # 已生成并保存，待发送
    SENT = "sent"  # 已送达银行
    ANSWERED = "answered"  # 银行已回盘
    REJECTED = "rejected"  # 银行整份拒绝（拒绝通知）


class PaymentBatch(Base):
    __tablename__ = "payment_batches"
    __table_args__ = (
        UniqueConstraint("bank_code", "business_date", "direction", "sequence"),
        UniqueConstraint("bank_code", "file_name"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    bank_code: Mapped[str] = mapped_column(String(32), index=True)
    special_account_id: Mapped[int] = mapped_column(ForeignKey("special_accounts.id"))
    direction: Mapped[Direction] = mapped_column(enum_column(Direction, length=16))
    business_date: Mapped[date] = mapped_column(Date, index=True)
    sequence: Mapped[int] = mapped_column(Integer)
    message_id: Mapped[str] = mapped_column(String(35), unique=True)
    file_name: Mapped[str] = mapped_column(String(120))
    status: Mapped[BatchStatus] = mapped_column(enum_column(BatchStatus), index=True)
    line_count: Mapped[int] = mapped_column(Integer)
    total_fen: Mapped[int] = mapped_column(BigInteger)
    # The bytes that travel (after the bank's encryption, if any) and their hash.
    content: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))
    # Side files by suffix (".sig"), as JSON {suffix: base64}; made once with the content.
    sidecars_json: Mapped[str] = mapped_column(Text, default="{}")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    delivery_attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(1000), default=None)
    # The send lease: the one run delivering these bytes now (``host:pid/token``) and since
    # when. A second sender (another night's step, ``resend``) leaves the batch alone meanwhile.
    sending_owner: Mapped[str | None] = mapped_column(String(120), default=None)
    sending_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
