"""A step's run renews its lease while the step works: a step that takes longer than the lease
is left to its run by the other schedulers (shown to them as running elsewhere) instead of being
run a second time beside it, and only a run that shows no sign of life for the whole lease, or
a step still working after its longest time, is taken over. On SQLite and on PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from gateway.jobs import pipeline
from gateway.jobs.models import JobRun, RunStatus
from gateway.jobs.pipeline import Nightly, StepOutcome, run_date
from tests.settle_support import DAY1, Settle, settle_on_database

LEASE = timedelta(seconds=1)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def settle(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settle]:
    yield from settle_on_database(request, tmp_path)


def _node(settle: Settle, name: str, *, longest_step: timedelta = timedelta(hours=1)) -> Nightly:
    node = settle.make_nightly()
    node.owner = f"{name}:1"  # scheduler nodes on other hosts: only their leases tell
    node.lease = LEASE
    node.longest_step = longest_step
    return node


class SlowCollections:
    """Node a's collections step works until told to go on; every node's call is counted."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[str] = []
        self.started = threading.Event()
        self.go_on = threading.Event()
        real = pipeline._collections

        def step(ctx: Nightly, day: date) -> dict[str, Any]:
            self.calls.append(ctx.owner)
            if ctx.owner == "node-a:1":
                self.started.set()
                assert self.go_on.wait(20)
            return real(ctx, day)

        monkeypatch.setattr(pipeline, "_collections", step)

    def run_a(self, node: Nightly) -> tuple[threading.Thread, list[StepOutcome]]:
        outcomes: list[StepOutcome] = []
        thread = threading.Thread(
            target=lambda: outcomes.extend(run_date(node, DAY1, ("collections",)))
        )
        thread.start()
        assert self.started.wait(20)
        return thread, outcomes


def test_a_step_working_past_its_lease_is_not_run_a_second_time(
    settle: Settle, monkeypatch: pytest.MonkeyPatch
) -> None:
    slow = SlowCollections(monkeypatch)
    a, b = _node(settle, "node-a"), _node(settle, "node-b")
    thread, a_outcomes = slow.run_a(a)
    time.sleep(LEASE.total_seconds() * 1.6)  # a works well past its lease

    (b_outcome,) = run_date(b, DAY1, ("collections",))
    slow.go_on.set()
    thread.join(20)

    assert slow.calls == ["node-a:1"]
    assert b_outcome.status == "running_elsewhere"
    assert b_outcome.summary["held_by"] == "node-a:1"
    assert "last_alive" in b_outcome.summary  # a renewed its lease meanwhile
    assert [o.status for o in a_outcomes] == ["ran"]
    row = settle.fresh().scalars(select(JobRun)).one()
    assert (row.status, row.owner, row.attempts) == (RunStatus.SUCCEEDED, "node-a:1", 1)


def test_a_step_hung_past_its_longest_time_is_taken_over_once_its_lease_runs_out(
    settle: Settle, monkeypatch: pytest.MonkeyPatch
) -> None:
    slow = SlowCollections(monkeypatch)
    a = _node(settle, "node-a", longest_step=timedelta(seconds=0.3))
    b = _node(settle, "node-b")
    thread, a_outcomes = slow.run_a(a)
    time.sleep(0.3 + LEASE.total_seconds() * 1.6)  # renewed for 0.3 s, then silent

    (b_outcome,) = run_date(b, DAY1, ("collections",))
    slow.go_on.set()
    thread.join(20)

    assert slow.calls == ["node-a:1", "node-b:1"]
    assert b_outcome.status == "ran"
    (a_outcome,) = a_outcomes
    assert a_outcome.status == "taken_over"
    assert a_outcome.summary["taken_over_by"] == "node-b:1"
    row = settle.fresh().scalars(select(JobRun)).one()
    assert (row.status, row.owner, row.attempts) == (RunStatus.SUCCEEDED, "node-b:1", 2)
