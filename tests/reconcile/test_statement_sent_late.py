"""A statement the bank sends late, after its day was reconciled without one.

The next night with a statement of its own takes the late one in: its lines are matched like
any other, the opening continues from its closing, and the day's statement gap is closed with
that in its history. A day still without its statement is bridged as before.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import select

from adapters.base import Adapter
from adapters.records import Statement
from gateway.audit.models import AuditEvent
from gateway.queue import service as queue
from gateway.queue.models import ItemStatus, Resolution
from gateway.reconcile.models import OpenItem
from gateway.reconcile.service import reconcile_account
from tests.recon_support import Nights, store_statement


def _first_day_in_order(nights: Nights) -> Callable[[str], Adapter]:
    """Day 1 reconciled with its stored statement; returns the bank's adapter by code."""
    adapter = nights.settle.profile.adapter

    def adapter_for(code: str) -> Adapter:
        return adapter

    session = nights.settle.fresh()
    store_statement(session, adapter, nights.statement([]), nights.day + timedelta(days=1))
    reconcile_account(session, nights.special_id, nights.day, adapter_for=adapter_for)
    session.commit()
    nights.day += timedelta(days=1)
    return adapter_for


def test_a_statement_sent_late_is_reconciled_with_the_next_night(nights: Nights) -> None:
    adapter_for = _first_day_in_order(nights)
    adapter = adapter_for("tbank")

    # day 2: a loan paid out; the bank's statement does not come in time
    missing = nights.day
    paid = nights.paid_out_today(240_000)
    late = nights.statement([paid])
    session = nights.settle.fresh()
    gap_night = reconcile_account(session, nights.special_id, missing, adapter_for=adapter_for)
    session.commit()
    assert gap_night.kinds == {"statement_gap": 1}
    nights.day += timedelta(days=1)

    # day 3: the bank sends day 2's statement late, with day 3's
    session = nights.settle.fresh()
    store_statement(session, adapter, late, nights.day + timedelta(days=1))
    store_statement(session, adapter, nights.statement([]), nights.day + timedelta(days=1))
    session.commit()
    read: list[int] = []  # the size of each file the run parses

    def reading(code: str) -> Adapter:
        class Counting:
            def parse_statements(self, content: bytes) -> list[Statement]:
                read.append(len(content))
                return list(adapter.parse_statements(content))

        return Counting()  # type: ignore[return-value]

    after = reconcile_account(session, nights.special_id, nights.day, adapter_for=reading)
    session.commit()
    assert len(read) == 2  # the late file and the night's own, each read once

    # the late line matched the payment: nothing but the gap's closing to report
    assert after.kinds == {}
    assert after.matched_lines == 1
    assert session.scalars(select(OpenItem)).all() == []
    (gap,) = nights.items("statement_gap")
    assert (gap.subject, gap.status, gap.resolution) == (
        f"missing:{missing.isoformat()}",
        ItemStatus.CLOSED,
        Resolution.CLEARED,
    )
    assert gap.id in after.queue.cleared
    (last,) = queue.history(nights.settle.fresh(), gap.id)[-1:]
    assert "对账单已补到" in last.note
    run_events = nights.settle.fresh().scalars(
        select(AuditEvent.payload).where(AuditEvent.action == "reconcile.run")
    )
    assert [p.get("late_statements") for p in run_events][-1] == [missing.isoformat()]

    # the next nights go on from day 3 as usual
    nights.day += timedelta(days=1)
    session = nights.settle.fresh()
    store_statement(session, adapter, nights.statement([]), nights.day + timedelta(days=1))
    session.commit()
    assert (
        reconcile_account(session, nights.special_id, nights.day, adapter_for=adapter_for).kinds
        == {}
    )


def test_with_one_of_two_missing_days_still_missing_the_movement_is_bridged(
    nights: Nights,
) -> None:
    adapter_for = _first_day_in_order(nights)
    adapter = adapter_for("tbank")
    first_missing = nights.day
    late = nights.statement([nights.paid_out_today(240_000)])
    session = nights.settle.fresh()
    for _ in range(2):  # two days without a statement
        reconcile_account(session, nights.special_id, nights.day, adapter_for=adapter_for)
        session.commit()
        nights.statement([])
        nights.day += timedelta(days=1)

    session = nights.settle.fresh()
    store_statement(session, adapter, late, nights.day + timedelta(days=1))  # only the first comes
    store_statement(session, adapter, nights.statement([]), nights.day + timedelta(days=1))
    session.commit()
    after = reconcile_account(session, nights.special_id, nights.day, adapter_for=adapter_for)
    session.commit()
    assert after.kinds == {"statement_gap": 2}  # both days stay gaps
    assert after.matched_lines == 0
    # the payment is accounted for by the balance's movement over the two days, not unseen
    assert nights.settle.fresh().scalars(select(OpenItem)).all() == []
    assert {i.subject for i in nights.items("statement_gap")} == {
        f"missing:{first_missing.isoformat()}",
        f"missing:{(first_missing + timedelta(days=1)).isoformat()}",
    }
