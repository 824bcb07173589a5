"""``huzhu nightly`` tells a step another run is doing from a step already done: the step shows
as running_elsewhere with the run holding it and since when, and the command exits 75 (the
date's work is not known to be done: look again later) instead of 0; a failure still exits 1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from gateway.cli import app
from gateway.db import session_scope, utcnow
from gateway.jobs.models import JobRun, RunStatus
from gateway.jobs.pipeline import STEPS
from tests.settle_support import DAY1, Settle, cli_environment, settle_in

HOLDER = "node-a:4242@0123456789ab"  # a scheduler on another host, alive


@pytest.fixture
def settle(tmp_path: Path) -> Iterator[Settle]:
    yield from settle_in(tmp_path)


def _held_elsewhere(settle: Settle, steps: tuple[str, ...]) -> None:
    started = utcnow() - timedelta(minutes=20)
    with session_scope(settle.factory) as session:
        for step in steps:
            session.add(
                JobRun(
                    step=step,
                    business_date=DAY1,
                    partition="tbank" if step in ("fetch", "batches") else "all",
                    status=RunStatus.RUNNING,
                    owner=HOLDER,
                    attempts=1,
                    started_at=started,
                    heartbeat_at=utcnow() - timedelta(minutes=1),
                    summary="",
                )
            )


def _nightly(settle: Settle, tmp_path: Path, *extra: str) -> tuple[int, str]:
    """The exit code, and what the terminal shows (standard output and error)."""
    result = CliRunner().invoke(
        app,
        ["nightly", "--date", DAY1.isoformat(), "--no-catch-up", *extra],
        env=cli_environment(settle, tmp_path),
        terminal_width=240,
    )
    return result.exit_code, result.output


def test_steps_another_scheduler_is_running_show_who_and_since_when_and_exit_75(
    settle: Settle, tmp_path: Path
) -> None:
    settle.released_loan()
    _held_elsewhere(settle, STEPS)
    since = settle.fresh().scalars(select(JobRun.started_at)).first()
    assert since is not None

    code, output = _nightly(settle, tmp_path)

    assert code == 75
    assert output.count("running_elsewhere") == len(STEPS)
    assert "skipped" not in output
    assert HOLDER in output
    local = since.replace(tzinfo=since.tzinfo or ZoneInfo("UTC")).astimezone(
        ZoneInfo("Asia/Shanghai")
    )
    assert f"始于 since {local:%Y-%m-%d %H:%M}" in output
    assert "not known to be done" in output
    # nothing ran beside the other scheduler: its rows are as it left them
    rows = settle.fresh().scalars(select(JobRun)).all()
    assert {(r.status, r.owner, r.attempts) for r in rows} == {(RunStatus.RUNNING, HOLDER, 1)}


def test_the_json_outcome_names_the_holder_of_a_step_running_elsewhere(
    settle: Settle, tmp_path: Path
) -> None:
    _held_elsewhere(settle, ("collections",))

    result = CliRunner().invoke(
        app,
        ["nightly", "--date", DAY1.isoformat(), "--steps", "collections", "--json"],
        env=cli_environment(settle, tmp_path),
    )

    assert result.exit_code == 75
    (outcome,) = json.loads(result.stdout)
    assert outcome["status"] == "running_elsewhere"
    assert outcome["summary"]["held_by"] == HOLDER
    assert {"since", "last_alive"} <= outcome["summary"].keys()


def test_steps_done_already_are_skipped_and_exit_0(settle: Settle, tmp_path: Path) -> None:
    first, _ = _nightly(settle, tmp_path, "--steps", "results,collections")
    again, output = _nightly(settle, tmp_path, "--steps", "results,collections")

    assert (first, again) == (0, 0)
    assert output.count("skipped") == 2
    assert "running_elsewhere" not in output


def test_a_failed_step_exits_1_even_beside_a_step_running_elsewhere(
    settle: Settle, tmp_path: Path
) -> None:
    _held_elsewhere(settle, ("collections",))
    with session_scope(settle.factory) as session:
        session.add(
            JobRun(
                step="results",
                business_date=DAY1,
                partition="all",
                status=RunStatus.FAILED,
                owner=HOLDER,
                attempts=1,
                summary="",
            )
        )

    code, output = _nightly(settle, tmp_path, "--steps", "fetch,collections")

    assert code == 1  # fetch cannot reach the bank in the test settings
    assert "failed" in output
    assert "running_elsewhere" in output
