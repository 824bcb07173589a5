"""The run guard: one row per (step, business date, partition), claimed atomically.

A step runs only if its row could be inserted (``INSERT ... ON CONFLICT DO NOTHING``), or
if the row says it failed, or if it has been ``running`` with no sign of life (its start or
its last heartbeat) for longer than its lease, or was left ``running`` by a process of this
host and PID namespace that no longer exists (it crashed). Taking over such a row is a
compare-and-set on what was read of it, so of several scheduler processes sharing one
database exactly one wins; the run that lost the row can no longer record its outcome over
the new holder's (:func:`finish` only writes a row that is still the run's own). While a step
works, its run renews the lease (:func:`beat`), so only a stalled run is taken over. Steps are
idempotent as well, so a step resumed after a crash finishes what the dead run began.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from gateway.db import as_utc, utcnow
from gateway.jobs.models import JobRun, RunStatus
from gateway.processes import process_gone


@dataclass(frozen=True)
class Claim:
    """This run holds the row: which row, and what it says while it is still this run's."""

    run_id: int
    owner: str
    attempt: int
    started_at: datetime


@dataclass(frozen=True)
class Holder:
    """Another run has the row: who, in what state, since when and when it was last alive."""

    owner: str
    status: RunStatus
    since: datetime
    heartbeat_at: datetime | None

    def last_alive(self) -> datetime:
        return max(as_utc(self.since), as_utc(self.heartbeat_at or self.since))


def claim(
    session: Session,
    *,
    step: str,
    business_date: date,
    partition: str,
    owner: str,
    lease: timedelta,
    now: datetime | None = None,
) -> Claim | Holder | None:
    """Claim the run: a :class:`Claim` when this run is to do the step, the :class:`Holder`
    when another run is doing it (alive for all we can tell), None when it succeeded already.

    The caller commits right after, so other processes see the claim at once."""
    moment = now or utcnow()
    owner = owner[:120]
    values = {
        "step": step,
        "business_date": business_date,
        "partition": partition,
        "status": RunStatus.RUNNING.value,
        "owner": owner,
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
        return Claim(int(inserted), owner, 1, moment)
    for _ in range(3):
        run_id, attempts, seen = _read(session, step, business_date, partition)
        if seen.status == RunStatus.SUCCEEDED:
            return None
        if (
            seen.status == RunStatus.RUNNING
            and seen.last_alive() > moment - lease
            and not process_gone(seen.owner)
        ):
            return seen
        heartbeat = (
            JobRun.heartbeat_at.is_(None)
            if seen.heartbeat_at is None
            else JobRun.heartbeat_at == seen.heartbeat_at
        )
        taken = session.execute(
            update(JobRun)
            .where(
                JobRun.id == run_id,
                JobRun.status == seen.status,
                JobRun.owner == seen.owner,
                JobRun.attempts == attempts,
                JobRun.started_at == seen.since,
                heartbeat,
            )
            .values(
                status=RunStatus.RUNNING,
                owner=owner,
                attempts=attempts + 1,
                started_at=moment,
                heartbeat_at=None,
                finished_at=None,
            )
            .execution_options(synchronize_session=False)
        )
        if getattr(taken, "rowcount", 0) == 1:
            return Claim(run_id, owner, attempts + 1, moment)
        # the row changed between our read and our write (another run took it over, or its
        # holder renewed its lease): look again
    return seen


def beat(session: Session, run: Claim, now: datetime | None = None) -> bool:
    """Renew the run's lease; False when the row is no longer this run's (taken over)."""
    renewed = session.execute(
        update(JobRun)
        .where(*_still_ours(run))
        .values(heartbeat_at=now or utcnow())
        .execution_options(synchronize_session=False)
    )
    return getattr(renewed, "rowcount", 0) == 1


def finish(
    session: Session, run: Claim, *, ok: bool, summary: str, error: str | None = None
) -> Holder | None:
    """Record the outcome while the row is still this run's; ``error`` keeps the last failure,
    also once a retry succeeded. Returns None when recorded, or, when another run took the
    row over meanwhile (this run stalled past its lease), that run, whose outcome stands."""
    values: dict[str, object] = {
        "status": RunStatus.SUCCEEDED if ok else RunStatus.FAILED,
        "finished_at": utcnow(),
        "summary": summary[:4000],
    }
    if error is not None:
        values["error"] = error[:4000]
    recorded = session.execute(
        update(JobRun)
        .where(*_still_ours(run))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if getattr(recorded, "rowcount", 0) == 1:
        return None
    row = session.get(JobRun, run.run_id, populate_existing=True)
    assert row is not None
    return Holder(row.owner, row.status, row.started_at, row.heartbeat_at)


def _still_ours(run: Claim) -> tuple[ColumnElement[bool], ...]:
    """The row as this run claimed it: a takeover changes its owner and counts an attempt."""
    return (
        JobRun.id == run.run_id,
        JobRun.status == RunStatus.RUNNING,
        JobRun.owner == run.owner,
        JobRun.attempts == run.attempt,
    )


def _read(
    session: Session, step: str, business_date: date, partition: str
) -> tuple[int, int, Holder]:
    """The row's id, attempts and holder."""
    run_id, attempts, owner, status, started_at, heartbeat_at = session.execute(
        select(
            JobRun.id,
            JobRun.attempts,
            JobRun.owner,
            JobRun.status,
            JobRun.started_at,
            JobRun.heartbeat_at,
        ).where(
            JobRun.step == step,
            JobRun.business_date == business_date,
            JobRun.partition == partition,
        )
    ).one()
    return int(run_id), int(attempts), Holder(owner, RunStatus(status), started_at, heartbeat_at)
