"""The run guard: one row per (step, business date, partition), claimed atomically.

A step runs only if its row could be inserted (``INSERT ... ON CONFLICT DO NOTHING``), or
if the row says it failed, or if it has been ``running`` past its lease, or was left
``running`` by a process of this host that no longer exists (it crashed). Taking over
such a row is a compare-and-set on its status and start time, so of several
scheduler processes sharing one database exactly one wins. Steps are idempotent as well,
so a step resumed after a crash finishes what the dead run began.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from gateway.db import utcnow
from gateway.jobs.models import JobRun, RunStatus
from gateway.processes import process_gone


def claim(
    session: Session,
    *,
    step: str,
    business_date: date,
    partition: str,
    owner: str,
    lease: timedelta,
    now: datetime | None = None,
) -> int | None:
    """Claim the run; returns its id, or None when it succeeded already or runs elsewhere.

    The caller commits right after, so other processes see the claim at once."""
    moment = now or utcnow()
    values = {
        "step": step,
        "business_date": business_date,
        "partition": partition,
        "status": RunStatus.RUNNING.value,
        "owner": owner[:120],
        "attempts": 1,
        "started_at": moment,
        "summary": "",
    }
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = (
        insert(JobRun)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["step", "business_date", "partition"])
        .returning(JobRun.id)
    )
    inserted = session.execute(statement).scalar_one_or_none()
    if inserted is not None:
        return int(inserted)
    row = session.execute(
        select(JobRun.id, JobRun.status, JobRun.started_at, JobRun.attempts).where(
            JobRun.step == step,
            JobRun.business_date == business_date,
            JobRun.partition == partition,
        )
    ).one()
    run_id, status, started_at, attempts = row
    if status == RunStatus.SUCCEEDED:
        return None
    if (
        status == RunStatus.RUNNING
        and _aware(started_at) > moment - lease
        and not _owner_gone(session, run_id)
    ):
        return None
    taken = session.execute(
        update(JobRun)
        .where(JobRun.id == run_id, JobRun.status == status, JobRun.started_at == started_at)
        .values(
            status=RunStatus.RUNNING,
            owner=owner[:120],
            attempts=attempts + 1,
            started_at=moment,
            finished_at=None,
        )
        .execution_options(synchronize_session=False)
    )
    return int(run_id) if getattr(taken, "rowcount", 0) == 1 else None


def finish(
    session: Session, run_id: int, *, ok: bool, summary: str, error: str | None = None
) -> None:
    """Record the outcome. ``error`` keeps the last failure, also once a retry succeeded."""
    values: dict[str, object] = {
        "status": RunStatus.SUCCEEDED if ok else RunStatus.FAILED,
        "finished_at": utcnow(),
        "summary": summary[:4000],
    }
    if error is not None:
        values["error"] = error[:4000]
    session.execute(
        update(JobRun)
        .where(JobRun.id == run_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )


def _owner_gone(session: Session, run_id: int) -> bool:
    """A run left ``running`` by a process of this host that no longer exists (it crashed)."""
    return process_gone(session.scalar(select(JobRun.owner).where(JobRun.id == run_id)) or "")


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
