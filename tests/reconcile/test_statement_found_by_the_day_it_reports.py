"""A day's statement is the stored statement reporting that day, whichever night fetched its
file: one fetched by an earlier night (a night caught up) or many nights later counts. A file
applied before the days of its statements were recorded is found as it always was, fetched
within a fortnight after its day."""

from __future__ import annotations

from datetime import timedelta

from adapters.base import Adapter
from gateway.org.models import SpecialAccount
from gateway.reconcile.source import STATEMENT_FETCH_DAYS, find_statements
from tests.recon_support import Nights, store_statement


def _adapter_for(nights: Nights) -> Adapter:
    return nights.settle.profile.adapter


def test_statements_fetched_before_and_long_after_their_day_are_found(nights: Nights) -> None:
    adapter = _adapter_for(nights)
    session = nights.settle.fresh()
    early, late = nights.day, nights.day + timedelta(days=1)
    nights.day = early
    store_statement(session, adapter, nights.statement([]), early - timedelta(days=3))
    nights.day = late
    store_statement(
        session, adapter, nights.statement([]), late + timedelta(days=STATEMENT_FETCH_DAYS + 5)
    )
    session.commit()
    special = session.get(SpecialAccount, nights.special_id)
    assert special is not None

    found = find_statements(session, special, [early, late], lambda code: adapter)

    assert sorted(found) == [early, late]
    assert found[late].to_date == late


def test_a_file_applied_before_statement_days_were_recorded_is_found_by_its_fetch_night(
    nights: Nights,
) -> None:
    adapter = _adapter_for(nights)
    session = nights.settle.fresh()
    day = nights.day
    store_statement(
        session, adapter, nights.statement([]), day + timedelta(days=1), record_day=False
    )
    session.commit()
    special = session.get(SpecialAccount, nights.special_id)
    assert special is not None

    assert list(find_statements(session, special, [day], lambda code: adapter)) == [day]
