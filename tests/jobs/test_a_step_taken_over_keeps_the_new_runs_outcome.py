"""A run that stalled past its lease and lost its step to another run cannot write its late
outcome over the new run's: the row keeps what the run holding it recorded, and the stalled
run's outcome says it was taken over, and by whom. On SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from gateway.db import session_scope, utcnow
from gateway.jobs import pipeline
from gateway.jobs.models import JobRun, RunStatus
from gateway.jobs.pipeline import Nightly, StepOutcome, run_date
from tests.settle_support import DAY1, Settle, settle_on_database


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def settle(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settle]:
    yield from settle_on_database(request, tmp_path)


def _node(settle: Settle, name: str) -> Nightly:
    node = settle.make_nightly()
    node.owner = f"{name}:1"
    return node


def _stall_then_lose_the_step(
    settle: Settle, monkeypatch: pytest.MonkeyPatch, *, late: str
) -> tuple[StepOutcome, list[StepOutcome]]:
    """Node a's collections step falls silent past its lease (its heartbeats never reached the
    database); node b takes the step over and finishes it; then a comes back and ends with
    ``late`` ("failure" or "success")."""
    a, b = _node(settle, "node-a"), _node(settle, "node-b")
    real = pipeline._collections
    b_outcomes: list[StepOutcome] = []

    def step(ctx: Nightly, day: date) -> dict[str, Any]:
        if ctx.owner == "node-a:1":
            with session_scope(settle.factory) as session:
                silent_since = utcnow() - a.lease - timedelta(minutes=1)
                session.execute(update(JobRun).values(started_at=silent_since, heartbeat_at=None))
            b_outcomes.extend(run_date(b, DAY1, ("collections",)))
            if late == "failure":
                raise RuntimeError("node a lost its database connection at the end")
        return real(ctx, day)

    monkeypatch.setattr(pipeline, "_collections", step)
    (a_outcome,) = run_date(a, DAY1, ("collections",))
    return a_outcome, b_outcomes


@pytest.mark.parametrize("late", ["failure", "success"])
def test_a_late_outcome_of_a_run_taken_over_leaves_the_new_runs_success(
    settle: Settle, monkeypatch: pytest.MonkeyPatch, late: str
) -> None:
    a_outcome, b_outcomes = _stall_then_lose_the_step(settle, monkeypatch, late=late)

    assert [o.status for o in b_outcomes] == ["ran"]
    row = settle.fresh().scalars(select(JobRun)).one()
    assert (row.status, row.owner, row.attempts) == (RunStatus.SUCCEEDED, "node-b:1", 2)
    assert row.error is None
    assert a_outcome.status == "taken_over"
    assert a_outcome.summary["taken_over_by"] == "node-b:1"
    assert a_outcome.summary["its_status"] == "succeeded"
    if late == "failure":  # what befell the stalled run is still told
        assert "lost its database connection" in (a_outcome.error or "")


def test_a_run_still_holding_its_step_records_its_failure(
    settle: Settle, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(ctx: Nightly, day: date) -> dict[str, Any]:
        raise RuntimeError("bank SFTP down")

    monkeypatch.setattr(pipeline, "_collections", failing)
    (outcome,) = run_date(settle.nightly, DAY1, ("collections",))

    assert outcome.status == "failed"
    row = settle.fresh().scalars(select(JobRun)).one()
    assert (row.status, row.error) == (RunStatus.FAILED, "RuntimeError: bank SFTP down")
