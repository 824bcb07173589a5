"""``huzhu scheduler``: APScheduler with cron triggers from ``config/payments.toml``.

Two jobs: ``nightly`` runs the whole pipeline for today (catching up missed dates first)
and ``batches`` runs another round of batch building and sending before the cut-offs. Any
number of scheduler processes may share one database: the run guard lets each step run
once per business date.

For rehearsals and tests the business date can run on a simulated calendar: from
``simulate_from``, one business day every ``seconds_per_day`` seconds of wall time.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger

from gateway.jobs.pipeline import Nightly, StepOutcome, run_date, run_through
from gateway.payments.config import SchedulerConfig

log = logging.getLogger(__name__)


def cron_trigger(expression: str, timezone: str) -> CronTrigger:
    """Five crontab fields, or six with seconds first (``*/2 * * * * *``)."""
    fields = expression.split()
    if len(fields) == 5:
        return CronTrigger.from_crontab(expression, timezone=ZoneInfo(timezone))
    if len(fields) == 6:
        second, minute, hour, day, month, day_of_week = fields
        return CronTrigger(
            second=second,
            minute=minute,
            hour=hour,
            day=day,
            month=month,
            day_of_week=day_of_week,
            timezone=ZoneInfo(timezone),
        )
    raise ValueError(f"cron expression {expression!r} needs 5 or 6 fields")


@dataclass
class BusinessClock:
    """Today's business date: the real one, or a simulated one for rehearsals."""

    timezone: str
    simulate_from: date | None = None
    seconds_per_day: float = 60.0
    started: datetime | None = None

    def today(self) -> date:
        now = datetime.now(ZoneInfo(self.timezone))
        if self.simulate_from is None:
            return now.date()
        started = self.started or now
        elapsed = (now - started).total_seconds()
        return self.simulate_from + timedelta(days=int(elapsed // self.seconds_per_day))


def run_scheduler(
    nightly: Nightly,
    config: SchedulerConfig,
    clock: BusinessClock,
    *,
    stop: threading.Event,
    run_for_seconds: float | None = None,
    on_step: Callable[[StepOutcome], None] | None = None,
) -> None:
    """Run until ``stop`` is set (or ``run_for_seconds`` pass)."""
    clock.started = clock.started or datetime.now(ZoneInfo(clock.timezone))
    if nightly.clock is None:  # a date caught up is held to this clock's today, not its own
        nightly.clock = clock.today
    lock = threading.Lock()  # one job at a time in this process

    def nightly_job() -> None:
        with lock:
            day = clock.today()
            log.info("nightly run", extra={"business_date": str(day)})
            run_through(nightly, day, catch_up_days=config.catch_up_days, on_step=on_step)

    def batches_job() -> None:
        with lock:
            day = clock.today()
            log.info("batch round", extra={"business_date": str(day)})
            run_date(nightly, day, ("batches_late",), on_step=on_step)

    scheduler = BackgroundScheduler(timezone=ZoneInfo(config.timezone))
    scheduler.add_job(
        nightly_job,
        cron_trigger(config.nightly, config.timezone),
        id="nightly",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=3600,
    )
    scheduler.add_job(
        batches_job,
        cron_trigger(config.batches, config.timezone),
        id="batches",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=600,
    )
    scheduler.start()
    log.info(
        "scheduler started",
        extra={"nightly": config.nightly, "batches": config.batches, "owner": nightly.owner},
    )
    try:
        stop.wait(timeout=run_for_seconds)
    finally:
        scheduler.shutdown(wait=True)
        log.info("scheduler stopped")
