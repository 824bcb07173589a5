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
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger

from gateway.jobs.pipeline import Nightly, StepOutcome, run_date, run_through
from gateway.payments.config import SchedulerConfig

log = logging.getLogger(__name__)


def cron_trigger(expression: str, timezone: str) -> BaseTrigger:
    """Five crontab fields, or six with seconds first (``*/2 * * * * *``), meaning what they
    mean to cron: day-of-week 0 and 7 are Sunday, 1 is Monday (APScheduler 3 numbers Monday 0,
    so the field is translated to day names), and when both day-of-month and day-of-week are
    restricted (neither starts with ``*``), a day matching either fires, as cron has it."""
    fields = expression.split()
    if len(fields) == 5:
        second, (minute, hour, day, month, day_of_week) = "0", fields
    elif len(fields) == 6:
        second, minute, hour, day, month, day_of_week = fields
    else:
        raise ValueError(f"cron expression {expression!r} needs 5 or 6 fields")
    zone = ZoneInfo(timezone)
    try:
        weekdays = crontab_weekdays(day_of_week)
    except ValueError as exc:
        raise ValueError(f"cron expression {expression!r}: {exc}") from None

    def on(days: str, of_week: str) -> CronTrigger:
        return CronTrigger(
            second=second,
            minute=minute,
            hour=hour,
            day=days,
            month=month,
            day_of_week=of_week,
            timezone=zone,
        )

    if day.startswith("*") or day_of_week.startswith("*"):
        return on(day, weekdays)
    return OrTrigger([on(day, "*"), on("*", weekdays)])


# crontab's day numbers: 0 and 7 are Sunday; APScheduler 3 is given names, never numbers
_DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")
_NAMED = {name: number for number, name in enumerate(_DAY_NAMES[:7])}


def crontab_weekdays(field: str) -> str:
    """A crontab day-of-week field (numbers 0-7, names, ranges, lists, steps) as APScheduler's
    ``day_of_week``: ``*``, or the days' names (``"1-5"`` is ``"mon,tue,wed,thu,fri"``)."""
    if field == "*":
        return "*"
    days: set[int] = set()
    for part in field.split(","):
        body, slash, every = part.partition("/")
        if slash and not (every.isdigit() and int(every) > 0):
            raise ValueError(f"day-of-week step {part!r} is not a positive number")
        step = int(every) if slash else 1
        if body == "*":
            first, last = 0, 7
        elif "-" in body:
            start, _, end = body.partition("-")
            first, last = _day_number(start, last=False), _day_number(end, last=True)
            if first > last:
                raise ValueError(f"day-of-week range {body!r} runs backwards")
        else:
            first = _day_number(body, last=False)
            last = 7 if slash else first  # "1/2": from Monday on, every other day
        days.update(number % 7 for number in range(first, last + 1, step))
    # Monday first, as APScheduler counts; a list of names is an APScheduler list of days
    return ",".join(_DAY_NAMES[number] for number in sorted(days, key=lambda n: (n - 1) % 7))


def _day_number(token: str, *, last: bool) -> int:
    """``0``-``7`` or a three-letter day name; ``sun`` ending a range is 7 (``mon-sun``)."""
    if token.isdigit() and int(token) <= 7:
        return int(token)
    number = _NAMED.get(token.lower())
    if number is None:
        raise ValueError(f"day of week {token!r} is neither 0-7 nor a day name (mon, tue, ...)")
    return 7 if last and number == 0 else number


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
