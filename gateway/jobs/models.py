"""One row per nightly step, business date and partition: the guard that makes each step
run once however many scheduler processes share the database."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Date, DateTime, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db import Base, BigIntId, enum_column, utcnow


class RunStatus(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class JobRun(Base):
    __tablename__ = "job_runs"
    __table_args__ = (UniqueConstraint("step", "business_date", "partition"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    step: Mapped[str] = mapped_column(String(40))
    business_date: Mapped[date] = mapped_column(Date, index=True)
    partition: Mapped[str] = mapped_column(String(40))
    status: Mapped[RunStatus] = mapped_column(enum_column(RunStatus), index=True)
    owner: Mapped[str] = mapped_column(String(120))
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # when the run last renewed its lease (None: not yet); see gateway.jobs.guard.beat
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    summary: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str | None] = mapped_column(Text, default=None)
