"""``huzhu scheduler`` started (or restarted) after today's nightly time runs today's nightly at
once unless it is all done, and a step a run left failed (the bank's SFTP down a moment) is run
again later the same day, a bounded number of times, instead of waiting for the next night."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from adapters.transport.base import Transport
from gateway.batches.banks import BankProfile
from gateway.db import session_scope
from gateway.jobs.models import JobRun, RunStatus
from gateway.jobs.pipeline import STEPS, Nightly, StepOutcome
from gateway.jobs.scheduler import BusinessClock, cron_trigger, passed_today, run_scheduler
from gateway.payments.config import SchedulerConfig
from tests.settle_support import BANK, Settle, settle_in

ZONE = "Asia/Shanghai"
NEVER_IN_THESE_TESTS = "59 23 31 12 *"  # the 14:00 batch round kept out of the way


@pytest.fixture
def settle(tmp_path: Path) -> Iterator[Settle]:
    yield from settle_in(tmp_path)


class Watch:
    """Runs the scheduler until ``enough`` says so of the outcomes seen (or ``limit`` s)."""

    def __init__(self, enough: Callable[[list[StepOutcome]], bool] | None = None) -> None:
        self.outcomes: list[StepOutcome] = []
        self.enough = enough
        self.stop = threading.Event()
        self.on_step: list[Callable[[StepOutcome], None]] = []

    def seen(self, outcome: StepOutcome) -> None:
        self.outcomes.append(outcome)
        for hook in self.on_step:
            hook(outcome)
        if self.enough is not None and self.enough(self.outcomes):
            self.stop.set()

    def run(self, nightly: Nightly, config: SchedulerConfig, limit: float) -> None:
        run_scheduler(
            nightly,
            config,
            BusinessClock(timezone=ZONE),
            stop=self.stop,
            run_for_seconds=limit,
            on_step=self.seen,
        )


def _today() -> datetime:
    return datetime.now(ZoneInfo(ZONE))


def _flaky_bank(settle: Settle, down: threading.Event) -> Nightly:
    def connect(profile: BankProfile) -> Transport:
        if down.is_set():
            raise ConnectionRefusedError("银行SFTP暂不可用 bank SFTP refused the connection")
        return settle.server

    return settle.make_nightly(transport=connect)


def _fetch_row(settle: Settle) -> JobRun:
    return settle.fresh().scalars(select(JobRun).where(JobRun.step == "fetch")).one()


def test_a_scheduler_started_after_the_nightly_time_runs_today_at_once(settle: Settle) -> None:
    config = SchedulerConfig(nightly="0 0 * * *", batches=NEVER_IN_THESE_TESTS)
    watch = Watch(lambda seen: {o.step for o in seen} >= set(STEPS))

    watch.run(settle.nightly, config, limit=60)

    today = _today().date()
    assert {o.step for o in watch.outcomes} == set(STEPS)
    assert {o.business_date for o in watch.outcomes} == {today}
    assert "skipped" not in {o.status for o in watch.outcomes}
    rows = settle.fresh().scalars(select(JobRun)).all()
    assert {r.business_date for r in rows} == {today}


def test_a_scheduler_started_on_a_day_without_a_nightly_run_waits(settle: Settle) -> None:
    tomorrow = (_today() + timedelta(days=1)).isoweekday() % 7  # crontab: 0 is Sunday
    config = SchedulerConfig(nightly=f"0 0 * * {tomorrow}", batches=NEVER_IN_THESE_TESTS)
    watch = Watch()

    watch.run(settle.nightly, config, limit=2)

    assert watch.outcomes == []
    assert settle.fresh().scalars(select(JobRun)).all() == []


def test_a_scheduler_restarted_after_today_was_done_runs_nothing(settle: Settle) -> None:
    today = _today().date()
    with session_scope(settle.factory) as session:
        for step in STEPS:
            session.add(
                JobRun(
                    step=step,
                    business_date=today,
                    partition=BANK if step in ("fetch", "batches") else "all",
                    status=RunStatus.SUCCEEDED,
                    owner="node-a:1",
                    attempts=1,
                    summary="{}",
                )
            )
    config = SchedulerConfig(nightly="0 0 * * *", batches=NEVER_IN_THESE_TESTS)
    watch = Watch()

    watch.run(settle.nightly, config, limit=2)

    assert watch.outcomes == []


def test_a_step_failing_while_the_bank_is_down_is_retried_the_same_day(settle: Settle) -> None:
    down = threading.Event()
    down.set()
    config = SchedulerConfig(
        nightly="0 0 * * *", batches=NEVER_IN_THESE_TESTS, retry_minutes=0.02, retries_per_day=3
    )
    watch = Watch(lambda seen: any(o.step == "fetch" and o.status == "ran" for o in seen))

    def bank_back_after_the_first_run(outcome: StepOutcome) -> None:
        if outcome.step == "batches":
            down.clear()

    watch.on_step.append(bank_back_after_the_first_run)

    watch.run(_flaky_bank(settle, down), config, limit=60)

    fetches = [o.status for o in watch.outcomes if o.step == "fetch"]
    assert fetches == ["failed", "ran"]
    row = _fetch_row(settle)
    assert (row.status, row.attempts, row.business_date) == (
        RunStatus.SUCCEEDED,
        2,
        _today().date(),
    )
    assert "bank SFTP refused" in (row.error or "")  # the morning's failure is kept


def test_retries_stop_after_the_days_allowance(settle: Settle) -> None:
    down = threading.Event()
    down.set()  # the bank stays down all day
    config = SchedulerConfig(
        nightly="0 0 * * *", batches=NEVER_IN_THESE_TESTS, retry_minutes=0.01, retries_per_day=2
    )
    failures = threading.Event()

    def count(outcome: StepOutcome) -> None:
        if sum(o.step == "fetch" for o in watch.outcomes) == 3:
            failures.set()

    def stop_a_while_after_the_third() -> None:
        failures.wait(60)
        time.sleep(2.0)  # a fourth try, were there one, would come within 0.6 s
        watch.stop.set()

    watch = Watch()
    watch.on_step.append(count)
    stopper = threading.Thread(target=stop_a_while_after_the_third)
    stopper.start()

    watch.run(_flaky_bank(settle, down), config, limit=90)
    stopper.join()

    assert [o.status for o in watch.outcomes if o.step == "fetch"] == ["failed"] * 3
    assert _fetch_row(settle).attempts == 3  # the first run and two retries, then no more


def test_passed_today_reads_the_trigger_on_todays_date() -> None:
    zone = ZoneInfo(ZONE)
    weekdays = cron_trigger("30 6 * * 1-5", ZONE)
    monday = datetime(2026, 1, 5, tzinfo=zone)
    assert passed_today(weekdays, monday.replace(hour=7))
    assert not passed_today(weekdays, monday.replace(hour=6, minute=29))
    assert not passed_today(weekdays, datetime(2026, 1, 3, 23, 0, tzinfo=zone))  # Saturday
