"""Banking days and cut-off times.

A banking day is a weekday that is not a public holiday, or a weekend day worked in exchange
for one (调休). Calendars are TOML files in ``config/calendar/``; a bank names its own in
``[cutoff] holiday_calendar``. Cut-offs are wall-clock times in the bank's time zone.
"""

from __future__ import annotations

import logging
import tomllib
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from adapters.bankconfig import BankConfig
from adapters.records import Direction
from gateway.errors import ConfigurationError
from reconciliation.calendar import BankingCalendar as MatchingCalendar

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BankingCalendar:
    name: str
    holidays: frozenset[date]
    makeup_workdays: frozenset[date]
    covers_through: date | None = None

    def is_banking_day(self, day: date) -> bool:
        """Past ``covers_through`` only weekends count as closed (see :func:`calendar_for`)."""
        if day in self.makeup_workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays

    def next_banking_day(self, day: date) -> date:
        """``day`` itself when it is a banking day, else the next one."""
        for offset in range(0, 40):
            candidate = day + timedelta(days=offset)
            if self.is_banking_day(candidate):
                return candidate
        raise ConfigurationError(
            f"日历 {self.name} 在 {day} 之后 40 天内没有银行工作日",
            f"calendar {self.name} has no banking day within 40 days after {day}",
        )

    def for_matching(self) -> MatchingCalendar:
        """The same days for the reconciliation engine, so both read one calendar file."""
        return MatchingCalendar.of(self.holidays, self.makeup_workdays)

    def banking_days(self, start: date, count: int) -> list[date]:
        """The first ``count`` banking days from ``start`` (inclusive)."""
        days: list[date] = []
        day = start
        while len(days) < count:
            day = self.next_banking_day(day)
            days.append(day)
            day += timedelta(days=1)
        return days


def load_calendar(path: Path) -> BankingCalendar:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigurationError(
            f"无法读取节假日日历 {path}", f"cannot read the holiday calendar {path}: {exc}"
        ) from exc
    try:
        holidays = frozenset(_dates(raw.get("holidays", []), "holidays"))
        makeup = frozenset(_dates(raw.get("makeup_workdays", []), "makeup_workdays"))
        covers = raw.get("covers_through")
        if covers is not None and not isinstance(covers, date):
            raise ValueError(f"covers_through must be a date, got {covers!r}")
    except ValueError as exc:
        raise ConfigurationError(
            f"节假日日历格式错误 {path}", f"holiday calendar {path}: {exc}"
        ) from exc
    clash = holidays & makeup
    if clash:
        raise ConfigurationError(
            f"节假日日历 {path} 中同一天既是假日又是调休工作日",
            f"holiday calendar {path}: {sorted(clash)[0]} is both a holiday and a workday",
        )
    return BankingCalendar(str(raw.get("name", path.stem)), holidays, makeup, covers)


def _dates(values: object, key: str) -> list[date]:
    if not isinstance(values, list):
        raise ValueError(f"{key} must be a list of dates")
    out: list[date] = []
    for value in values:
        if isinstance(value, datetime) or not isinstance(value, date):
            raise ValueError(f"{key}: {value!r} is not a date (write 2024-10-01)")
        out.append(value)
    return out


def calendar_for(bank: BankConfig, config_dir: Path, default: Path) -> BankingCalendar:
    """The bank's own calendar, else the configured default (relative to ``config_dir``)."""
    path = bank.cutoff.holiday_calendar or (
        default if default.is_absolute() else config_dir / default
    )
    calendar = load_calendar(path)
    today = datetime.now(ZoneInfo(bank.bank.timezone)).date()
    if calendar.covers_through is not None and today > calendar.covers_through:
        log.warning(
            "holiday calendar %s (%s) covers dates through %s only: add this year's public "
            "holidays, until then only weekends count as closed",
            calendar.name,
            path,
            calendar.covers_through,
        )
    return calendar


def cutoff_time(bank: BankConfig, direction: Direction) -> time:
    return (
        bank.cutoff.disbursement if direction is Direction.DISBURSEMENT else bank.cutoff.collection
    )


def next_cutoff(
    bank: BankConfig, calendar: BankingCalendar, direction: Direction, now: datetime
) -> datetime:
    """The next moment a batch in ``direction`` must reach the bank, in the bank's zone."""
    zone = ZoneInfo(bank.bank.timezone)
    local = now.astimezone(zone)
    at = cutoff_time(bank, direction)
    day = calendar.next_banking_day(local.date())
    if day == local.date() and local.time() >= at:
        day = calendar.next_banking_day(day + timedelta(days=1))
    return datetime.combine(day, at, tzinfo=zone)
