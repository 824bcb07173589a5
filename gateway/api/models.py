"""What the API stores for itself: the responses of idempotent requests."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db import Base, BigIntId, utcnow
from gateway.queue.models import QueueItem


class IdempotencyRecord(Base):
    """A state-changing request made with an ``Idempotency-Key``: the key (per user), a hash
    of the request, the response that was sent, replayed for a retry of the same request, and
    the permission checks the endpoint passed (JSON, ``PassedCheck.as_json``), passed again by
    the caller before a replay. A response carrying secrets is never stored (``never_stored``).

    The record is written in the request's own transaction, so the change and its record
    commit together; a concurrent duplicate loses on the unique key and gets the replay."""

    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("user_id", "key"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    key: Mapped[str] = mapped_column(String(200))
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(String(400))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    media_type: Mapped[str] = mapped_column(String(100))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    checks: Mapped[str] = mapped_column(Text, server_default="[]")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


# The queue's work list is read in priority order, newest first within a priority, a page at a
# time (keyset on ``(priority, id)``): this index serves every page from its first row.
QUEUE_WORKLIST_INDEX = Index("ix_queue_items_priority_id", QueueItem.priority, QueueItem.id)
