"""The scheduler's cron strings in ``config/payments.toml`` mean what crontab means: day of
week 0 and 7 are Sunday and 1 is Monday (APScheduler 3 on its own counts Monday as 0, which
moved "1-5" to Tuesday-Saturday), and a day matching either a restricted day of month or a
restricted day of week fires."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from gateway.jobs.scheduler import cron_trigger
from gateway.payments.config import SchedulerConfig

ZONE = "Asia/Shanghai"
SATURDAY = datetime(2026, 1, 3, 0, 0, tzinfo=ZoneInfo(ZONE))


def fire_times(expression: str, count: int, start: datetime = SATURDAY) -> list[str]:
    """The next ``count`` fire times as "Mon 01-05 14:00"."""
    trigger = cron_trigger(expression, ZONE)
    found: list[str] = []
    previous = None
    now = start
    for _ in range(count):
        moment = trigger.get_next_fire_time(previous, now)
        assert moment is not None
        found.append(moment.strftime("%a %m-%d %H:%M"))
        previous = now = moment
    return found


def test_weekdays_one_to_five_fire_monday_to_friday() -> None:
    assert fire_times("0 14 * * 1-5", 6) == [
        "Mon 01-05 14:00",
        "Tue 01-06 14:00",
        "Wed 01-07 14:00",
        "Thu 01-08 14:00",
        "Fri 01-09 14:00",
        "Mon 01-12 14:00",
    ]


@pytest.mark.parametrize("sunday", ["0", "7", "sun", "SUN"])
def test_day_zero_and_seven_are_sunday(sunday: str) -> None:
    assert fire_times(f"30 6 * * {sunday}", 2) == ["Sun 01-04 06:30", "Sun 01-11 06:30"]


def test_monday_is_one() -> None:
    assert fire_times("30 6 * * 1", 2) == ["Mon 01-05 06:30", "Mon 01-12 06:30"]


def test_names_lists_and_steps_count_as_crontab_does() -> None:
    assert fire_times("0 9 * * mon-fri", 5) == fire_times("0 9 * * 1-5", 5)
    assert fire_times("0 9 * * 1,3,5", 4) == [
        "Mon 01-05 09:00",
        "Wed 01-07 09:00",
        "Fri 01-09 09:00",
        "Mon 01-12 09:00",
    ]
    # crontab steps from Sunday: */2 is Sunday, Tuesday, Thursday, Saturday
    assert fire_times("0 9 * * */2", 5) == [
        "Sat 01-03 09:00",
        "Sun 01-04 09:00",
        "Tue 01-06 09:00",
        "Thu 01-08 09:00",
        "Sat 01-10 09:00",
    ]
    assert fire_times("0 9 * * 1-5/2", 3) == [
        "Mon 01-05 09:00",
        "Wed 01-07 09:00",
        "Fri 01-09 09:00",
    ]
    assert fire_times("0 9 * * fri-sun", 3) == [
        "Sat 01-03 09:00",
        "Sun 01-04 09:00",
        "Fri 01-09 09:00",
    ]
    assert fire_times("0 9 * * 5-7", 3) == fire_times("0 9 * * fri-sun", 3)


def test_six_fields_with_seconds_first_count_days_the_same_way() -> None:
    assert fire_times("15 0 14 * * 1-5", 2) == ["Mon 01-05 14:00", "Tue 01-06 14:00"]
    assert fire_times("15 0 14 * * 0", 1, SATURDAY) == ["Sun 01-04 14:00"]


def test_a_day_of_month_or_a_day_of_week_fires_when_both_are_given() -> None:
    # crontab: the 1st of the month, and every Monday; 2026-02-01 is a Sunday
    assert fire_times("0 6 1 * mon", 6, datetime(2026, 1, 20, tzinfo=ZoneInfo(ZONE))) == [
        "Mon 01-26 06:00",
        "Sun 02-01 06:00",
        "Mon 02-02 06:00",
        "Mon 02-09 06:00",
        "Mon 02-16 06:00",
        "Mon 02-23 06:00",
    ]


def test_the_shipped_triggers_fire_on_the_days_they_name() -> None:
    config = SchedulerConfig()
    assert fire_times(config.nightly, 2) == ["Sat 01-03 06:30", "Sun 01-04 06:30"]
    assert fire_times(config.batches, 6)[-2:] == ["Fri 01-09 14:00", "Mon 01-12 14:00"]


@pytest.mark.parametrize("field", ["8", "5-1", "mon-xyz", "*/0"])
def test_a_day_of_week_crontab_would_refuse_is_refused(field: str) -> None:
    with pytest.raises(ValueError, match="30 6"):
        cron_trigger(f"30 6 * * {field}", ZONE)
