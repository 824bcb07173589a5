"""A step left ``running`` is taken over at once only when its holder was a process of this
very machine and PID namespace that is gone. Two scheduler nodes may report the same hostname
(containers, cloned machines) while a pid of one cannot be seen from the other: such a run is
alive for all this node can tell, and keeps its lease."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from gateway.db import session_scope, utcnow
from gateway.jobs import pipeline
from gateway.jobs.models import JobRun, RunStatus
from gateway.jobs.pipeline import Nightly, run_date
from gateway.processes import process_gone, process_namespace, this_process
from tests.settle_support import DAY1, Settle, settle_in


@pytest.fixture
def settle(tmp_path: Path) -> Iterator[Settle]:
    yield from settle_in(tmp_path)


@pytest.fixture
def steps_run(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Who ran the collections step."""
    calls: list[str] = []
    real = pipeline._collections

    def counted(ctx: Nightly, day: date) -> dict[str, Any]:
        calls.append(ctx.owner)
        return real(ctx, day)

    monkeypatch.setattr(pipeline, "_collections", counted)
    return calls


def _a_pid_that_is_gone() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _left_running(settle: Settle, owner: str) -> None:
    with session_scope(settle.factory) as session:
        session.add(
            JobRun(
                step="collections",
                business_date=DAY1,
                partition="all",
                status=RunStatus.RUNNING,
                owner=owner,
                attempts=1,
                started_at=utcnow() - timedelta(minutes=5),
                summary="",
            )
        )


def _row(settle: Settle) -> JobRun:
    return settle.fresh().scalars(select(JobRun)).one()


def test_a_live_run_of_another_container_with_our_hostname_keeps_its_lease(
    settle: Settle, steps_run: list[str]
) -> None:
    other = f"{socket.gethostname()}:{_a_pid_that_is_gone()}@0123456789ab"
    assert process_namespace() != "0123456789ab"
    _left_running(settle, other)

    (outcome,) = run_date(settle.nightly, DAY1, ("collections",))

    assert steps_run == []  # not run a second time beside it
    assert outcome.status != "ran"
    row = _row(settle)
    assert (row.status, row.owner, row.attempts) == (RunStatus.RUNNING, other, 1)


def test_a_crashed_process_of_this_container_is_taken_over_at_once(
    settle: Settle, steps_run: list[str]
) -> None:
    crashed = f"{socket.gethostname()}:{_a_pid_that_is_gone()}@{process_namespace()}"
    _left_running(settle, crashed)

    (outcome,) = run_date(settle.nightly, DAY1, ("collections",))

    assert outcome.status == "ran"
    assert steps_run == [settle.nightly.owner]
    row = _row(settle)
    assert (row.status, row.owner, row.attempts) == (RunStatus.SUCCEEDED, this_process(), 2)


def test_a_holder_written_before_namespaces_were_recorded_is_judged_by_its_pid(
    settle: Settle, steps_run: list[str]
) -> None:
    _left_running(settle, f"{socket.gethostname()}:{_a_pid_that_is_gone()}")

    (outcome,) = run_date(settle.nightly, DAY1, ("collections",))

    assert outcome.status == "ran"
    assert _row(settle).attempts == 2


def test_this_process_names_its_namespace_and_is_never_taken_for_gone() -> None:
    me = this_process()
    assert me.startswith(f"{socket.gethostname()}:")
    if Path("/proc/self/ns/pid").exists():
        assert me.endswith(f"@{process_namespace()}")
    assert not process_gone(me)
    assert not process_gone(f"{me}/0badc0ffee00")
    assert not process_gone("another-host:1@0123456789ab")
    assert not process_gone("")
