"""Banking days: weekends and public holidays off, make-up working days (调休) on."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

import polars as pl

_ONE_DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class BankingCalendar:
    """Which days the bank books on.

    ``holidays`` are days off that would otherwise be working days; ``working_days`` are weekend
    days that are working days (调休). Weekdays are Monday=0 ... Sunday=6.
    """

    holidays: frozenset[date] = frozenset()
    working_days: frozenset[date] = frozenset()
    weekend: frozenset[int] = frozenset({5, 6})

    @classmethod
    def of(
        cls, holidays: Iterable[date] = (), working_days: Iterable[date] = ()
    ) -> BankingCalendar:
        return cls(frozenset(holidays), frozenset(working_days))

    def is_banking_day(self, day: date) -> bool:
        if day in self.working_days:
            return True
        return day.weekday() not in self.weekend and day not in self.holidays

    def banking_days_between(self, start: date, end: date) -> int:
        """Banking days in (start, end]; negative when end is before start."""
        if end < start:
            return -self.banking_days_between(end, start)
        count = 0
        day = start + _ONE_DAY
        while day <= end:
            count += self.is_banking_day(day)
            day += _ONE_DAY
        return count

    def banking_days_in(self, start: date, end: date) -> list[date]:
        """The banking days in [start, end], in order."""
        days: list[date] = []
        day = start
        while day <= end:
            if self.is_banking_day(day):
                days.append(day)
            day += _ONE_DAY
        return days

    def previous_banking_day(self, day: date) -> date:
        day -= _ONE_DAY
        for _ in range(366):
            if self.is_banking_day(day):
                return day
            day -= _ONE_DAY
        raise ValueError(f"no banking day in the year before {day}")

    def ordinal_table(self, start: date, end: date) -> pl.DataFrame:
        """Map each day in [start, end] to its banking-day ordinal (banking days up to the day).

        The difference of two ordinals is ``banking_days_between`` of the two days.
        """
        days: list[date] = []
        ordinals: list[int] = []
        count = 0
        day = start
        while day <= end:
            count += self.is_banking_day(day)
            days.append(day)
            ordinals.append(count)
            day += _ONE_DAY
        return pl.DataFrame(
            {"day": days, "ordinal": ordinals}, schema={"day": pl.Date, "ordinal": pl.Int64}
        )
