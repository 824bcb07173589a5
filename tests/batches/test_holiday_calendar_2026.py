"""The 2026 public holidays and make-up working days (2026年部分节假日安排的通知)."""

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from gateway.batches.calendar import load_calendar
from gateway.jobs.pipeline import run_date
from gateway.reconcile import service as reconcile_service
from reconciliation.config import MatchConfig
from tests.settle_support import DAY1, settle_in

CALENDAR = Path(__file__).resolve().parents[2] / "config" / "calendar" / "cn.toml"


def _span(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


HOLIDAYS_2026 = [
    *_span(date(2026, 1, 1), date(2026, 1, 3)),  # 元旦
    *_span(date(2026, 2, 15), date(2026, 2, 23)),  # 春节
    *_span(date(2026, 4, 4), date(2026, 4, 6)),  # 清明
    *_span(date(2026, 5, 1), date(2026, 5, 5)),  # 劳动节
    *_span(date(2026, 6, 19), date(2026, 6, 21)),  # 端午
    *_span(date(2026, 9, 25), date(2026, 9, 27)),  # 中秋
    *_span(date(2026, 10, 1), date(2026, 10, 7)),  # 国庆
]
MAKEUP_2026 = [
    date(2026, 1, 4),
    date(2026, 2, 14),
    date(2026, 2, 28),
    date(2026, 5, 9),
    date(2026, 9, 20),
    date(2026, 10, 10),
]


def test_2026_is_covered_so_no_fallback_to_weekends() -> None:
    calendar = load_calendar(CALENDAR)
    assert calendar.covers_through is not None
    assert calendar.covers_through >= date(2026, 12, 31)


@pytest.mark.parametrize("day", HOLIDAYS_2026, ids=str)
def test_every_2026_holiday_is_closed(day: date) -> None:
    assert not load_calendar(CALENDAR).is_banking_day(day)


@pytest.mark.parametrize("day", MAKEUP_2026, ids=str)
def test_every_2026_weekend_worked_in_exchange_is_a_banking_day(day: date) -> None:
    assert day.weekday() >= 5
    assert load_calendar(CALENDAR).is_banking_day(day)


def test_national_day_week_and_the_days_around_it() -> None:
    calendar = load_calendar(CALENDAR)
    assert calendar.is_banking_day(date(2026, 2, 14))  # Saturday before the Spring Festival
    assert calendar.is_banking_day(date(2026, 10, 10))  # Saturday after National Day
    assert not calendar.is_banking_day(date(2026, 10, 7))  # last day of the holiday
    assert calendar.is_banking_day(date(2026, 10, 8))  # Thursday, back at work
    assert not calendar.is_banking_day(date(2026, 10, 11))  # an ordinary Sunday
    assert calendar.next_banking_day(date(2026, 9, 30)) == date(2026, 9, 30)
    assert calendar.next_banking_day(date(2026, 10, 1)) == date(2026, 10, 8)
    assert calendar.next_banking_day(date(2026, 2, 15)) == date(2026, 2, 24)


def test_the_reconciliation_engine_reads_the_same_days() -> None:
    calendar = load_calendar(CALENDAR)
    matching = calendar.for_matching()
    for day in _span(date(2024, 1, 1), date(2026, 12, 31)):
        assert matching.is_banking_day(day) == calendar.is_banking_day(day), day
    # 9 days closed for the Spring Festival: 2026-02-13 (Fri) to 2026-02-24 (Tue) is 2 days
    # apart: the 14th (a make-up Saturday) and the 24th
    assert matching.banking_days_between(date(2026, 2, 13), date(2026, 2, 24)) == 2


def test_the_nightly_reconcile_step_counts_banking_days_on_the_banks_calendar(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[MatchConfig | None] = []
    run_for = reconcile_service.reconcile_account

    def recording(session: Session, special_id: int, day: date, **kwargs: Any) -> object:
        config = kwargs.get("config")
        assert config is None or isinstance(config, MatchConfig)
        seen.append(config)
        return run_for(session, special_id, day, **kwargs)

    monkeypatch.setattr(reconcile_service, "reconcile_account", recording)
    for settle in settle_in(tmp_path):
        outcomes = run_date(settle.nightly, DAY1, ("reconcile",))
        assert [o.status for o in outcomes] == ["ran"]
        bank_calendar = settle.profile.calendar
    assert len(seen) == 1
    config = seen[0]
    assert config is not None
    assert config.calendar is not None
    assert config.calendar == bank_calendar.for_matching()
    assert not config.calendar.is_banking_day(date(2026, 10, 7))
    assert config.calendar.is_banking_day(date(2026, 10, 10))
