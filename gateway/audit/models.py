"""The append-only, hash-chained audit log.

Events are grouped in chains (one per association, plus ``global`` for county-wide and
system events), so work in different associations never waits on one lock; each chain is
numbered 1, 2, 3... and hash-linked on its own.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db import Base, BigIntId


class AuditEvent(Base):
    """One recorded change. ``hash`` = SHA-256 over ``prev_hash`` and the canonical event."""

    __tablename__ = "audit_events"
    __table_args__ = (UniqueConstraint("chain", "seq"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    chain: Mapped[str] = mapped_column(String(60))
    seq: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(100), index=True)
    object_type: Mapped[str] = mapped_column(String(60))
    object_id: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditChainHead(Base):
    """Names each chain's last event; appenders lock it, so a chain never forks and a
    deleted tail is noticed. The database lets it only move forward and never be deleted;
    ``huzhu audit heads`` prints the heads to keep outside the database as well."""

    __tablename__ = "audit_chain_heads"

    chain: Mapped[str] = mapped_column(String(60), primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger)
    last_hash: Mapped[str] = mapped_column(String(64))
