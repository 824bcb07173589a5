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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger

from gateway.jobs.pipeline import (
    ALL,
    NOT_DONE,
    Nightly,
    StepOutcome,
    run_date,
    run_through,
    steps_not_done,
)
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
    """Run until ``stop`` is set (or ``run_for_seconds`` pass).

    Started after today's nightly time with today's steps not all done (a restart, a machine
    that was off), the nightly runs once at once. A run leaving a step not done (failed, or in
    the hands of another run) is run again ``retry_minutes`` later, at most ``retries_per_day``
    times for its business date and only while that date is today: later dates are caught up
    by the next night's run. The run guard keeps every extra run from doing a step twice."""
    zone = ZoneInfo(config.timezone)
    clock.started = clock.started or datetime.now(ZoneInfo(clock.timezone))
    if nightly.clock is None:  # a date caught up is held to this clock's today, not its own
        nightly.clock = clock.today
    lock = threading.Lock()  # one job at a time in this process
    scheduler = BackgroundScheduler(timezone=zone)
    retried: dict[tuple[str, date], int] = {}  # retries so far, by job and date (under lock)

    def retry_later(
        job: str, run: Callable[[date], None], day: date, outcomes: Sequence[StepOutcome]
    ) -> None:
        left = [o for o in outcomes if o.status in NOT_DONE]
        if not left or config.retry_minutes <= 0:
            return
        for key in [key for key in retried if key[1] < day]:
            del retried[key]
        count = retried.get((job, day), 0)
        where = {"job": job, "business_date": str(day), "steps_not_done": len(left)}
        if count >= config.retries_per_day:
            log.warning("steps still not done; no retry left today", extra=where)
            return
        retried[(job, day)] = count + 1
        at = datetime.now(zone) + timedelta(minutes=config.retry_minutes)
        scheduler.add_job(
            run,
            "date",
            run_date=at,
            args=[day],
            id=f"{job}-retry",
            replace_existing=True,
            misfire_grace_time=3600,
        )
        log.info(
            "retry scheduled",
            extra=where | {"at": at.isoformat(timespec="seconds"), "retry": count + 1},
        )

    def nightly_job(retrying: date | None = None) -> None:
        with lock:
            day = clock.today()
            if retrying is not None and retrying != day:
                return  # the next night catches that date up
            log.info(
                "nightly run", extra={"business_date": str(day), "retry": retrying is not None}
            )
            outcomes = _guarded(
                "nightly",
                day,
                lambda: run_through(
                    nightly, day, catch_up_days=config.catch_up_days, on_step=on_step
                ),
            )
            retry_later("nightly", nightly_job, day, outcomes)

    def batches_job(retrying: date | None = None) -> None:
        with lock:
            day = clock.today()
            if retrying is not None and retrying != day:
                return
            log.info(
                "batch round", extra={"business_date": str(day), "retry": retrying is not None}
            )
            outcomes = _guarded(
                "batches_late",
                day,
                lambda: run_date(nightly, day, ("batches_late",), on_step=on_step),
            )
            retry_later("batches", batches_job, day, outcomes)

    nightly_trigger = cron_trigger(config.nightly, config.timezone)
    scheduler.add_job(
        nightly_job,
        nightly_trigger,
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
    now = datetime.now(zone)
    catch_up = passed_today(nightly_trigger, now) and _today_not_done(nightly, clock.today())
    if catch_up:
        scheduler.add_job(
            nightly_job, "date", run_date=now, id="nightly-catch-up", misfire_grace_time=3600
        )
    scheduler.start()
    log.info(
        "scheduler started",
        extra={
            "nightly": config.nightly,
            "batches": config.batches,
            "owner": nightly.owner,
            "catch_up_today": catch_up,
        },
    )
    try:
        stop.wait(timeout=run_for_seconds)
    finally:
        scheduler.shutdown(wait=True)
        log.info("scheduler stopped")


def _guarded(what: str, day: date, run: Callable[[], list[StepOutcome]]) -> list[StepOutcome]:
    """The run's outcomes; a run that could not start (the database out of reach) as one
    failed outcome, so that it is retried like a failed step."""
    try:
        return run()
    except Exception as exc:
        log.exception("run failed", extra={"business_date": str(day)})
        return [StepOutcome(what, day, ALL, "failed", error=f"{type(exc).__name__}: {exc}")]


def _today_not_done(nightly: Nightly, day: date) -> bool:
    try:
        return bool(steps_not_done(nightly, day))
    except Exception:  # the database out of reach: the run tells, and is retried
        log.exception("could not read today's runs", extra={"business_date": str(day)})
        return True


def passed_today(trigger: BaseTrigger, now: datetime) -> bool:
    """Whether ``trigger`` was due earlier today (in ``now``'s time zone)."""
    midnight = datetime.combine(now.date(), time(0), tzinfo=now.tzinfo)
    first = trigger.get_next_fire_time(None, midnight)
    return first is not None and first <= now
