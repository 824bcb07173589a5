"""Which banking calendar the engine counts days on: the banks' own holiday calendar.

The nightly ``reconcile`` step and ``huzhu reconcile`` both build their
:class:`~reconciliation.config.MatchConfig` through :func:`match_config`, so the same date
gives the same result whichever of them runs it. The calendar is the one batches are sent on
(a bank's ``[cutoff] holiday_calendar``, else ``[calendar] default`` of ``payments.toml``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.batches.banks import format_loader
from gateway.batches.calendar import BankingCalendar
from gateway.org.models import Bank, SpecialAccount
from gateway.payments.config import load_payments_config
from reconciliation.config import MatchConfig

log = logging.getLogger(__name__)

# A bank's code -> its banking calendar.
CalendarOf = Callable[[str], BankingCalendar]


def match_config(
    session: Session, calendar_of: CalendarOf, *, leave_out: Collection[str] = ()
) -> MatchConfig | None:
    """The engine's settings with the calendar of the banks that hold special accounts (but
    those in ``leave_out``: banks whose configuration cannot be read tonight, whose accounts
    wait).

    ``None`` (calendar days) when no bank holds one. When banks keep different calendars the
    first by name is used and a warning is logged."""
    codes = session.scalars(
        select(Bank.code)
        .join(SpecialAccount, SpecialAccount.bank_id == Bank.id)
        .distinct()
        .order_by(Bank.code)
    ).all()
    calendars = {calendar_of(code) for code in codes if code not in leave_out}
    if not calendars:
        return None
    if len(calendars) > 1:
        log.warning("banks keep different holiday calendars: matching on the first")
    chosen = sorted(calendars, key=lambda c: c.name)[0]
    return MatchConfig(calendar=chosen.for_matching())


def calendar_loader(config_dir: Path) -> CalendarOf:
    """Each bank's calendar as its profile reads it, from ``<config_dir>/banks/<code>.toml``
    and ``<config_dir>/payments.toml``; no keys or connection are needed."""
    formats = format_loader(config_dir, load_payments_config(config_dir))
    return lambda code: formats(code).calendar
