"""A statement the bank sends so late that a later day's statement was reconciled meanwhile.

That day was reconciled as a statement gap, and the next statement's opening bridged it (the
books' own entries explaining the movement) or broke the balance. The late statement cannot
continue the chain any more, and its day is not reconciled again; but its lines are not lost:
they join the next night's, with the entries the bridge took as shown by it, so a credit
nobody instructed is raised as an unmatched bank line (which explains the balance break), and
the day's statement gap is closed with that in its history. A statement is taken in once.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from adapters.base import Adapter
from adapters.records import Statement
from gateway.queue import service as queue
from gateway.queue.models import ItemStatus, Resolution
from gateway.reconcile.service import AccountOutcome, reconcile_account
from tests.recon_support import Nights, store_statement


def _adapter_for(nights: Nights) -> Callable[[str], Adapter]:
    adapter = nights.settle.profile.adapter
    return lambda code: adapter


def _night(nights: Nights, *statements: Statement) -> AccountOutcome:
    """Store the statements the bank sends tonight, reconcile the current day, move on."""
    session = nights.settle.fresh()
    for statement in statements:
        store_statement(session, nights.settle.profile.adapter, statement, nights.day)
    session.commit()
    outcome = reconcile_account(
        session, nights.special_id, nights.day, adapter_for=_adapter_for(nights)
    )
    session.commit()
    nights.day += timedelta(days=1)
    return outcome


def test_a_credit_on_a_statement_sent_after_the_next_one_is_raised_the_night_it_comes(
    nights: Nights,
) -> None:
    assert _night(nights, nights.statement([])).kinds == {}
    missing = nights.day
    withheld = nights.statement([nights.line(nights.sub_a, 123_456, remittance="转账")])
    assert _night(nights).kinds == {"statement_gap": 1}
    # the next statement opens 1,234.56 higher: nothing in the books explains it
    assert _night(nights, nights.statement([])).kinds == {"statement_gap": 1, "balance_break": 1}

    came = _night(nights, withheld, nights.statement([]))

    assert came.kinds == {"unmatched_bank": 1}
    (credit,) = nights.items("unmatched_bank")
    assert (credit.status, credit.actual_fen, credit.sub_account) == (
        ItemStatus.OPEN,
        123_456,
        nights.sub_a,
    )
    (gap,) = nights.items("statement_gap")
    assert (gap.subject, gap.status, gap.resolution) == (
        f"missing:{missing.isoformat()}",
        ItemStatus.CLOSED,
        Resolution.CLEARED,
    )
    assert "对账单已补到" in queue.history(nights.settle.fresh(), gap.id)[-1].note
    # the unmatched line explains the sub-account's balance now
    (brk,) = nights.items("balance_break")
    assert brk.status is ItemStatus.CLOSED

    # taken in once: the next nights carry the line, they do not read the statement again
    assert _night(nights, nights.statement([])).kinds == {"unmatched_bank": 1}
    assert len(nights.items("unmatched_bank")) == 1


def test_a_payment_the_next_opening_bridged_matches_the_late_statements_line(
    nights: Nights,
) -> None:
    assert _night(nights, nights.statement([])).kinds == {}
    withheld = nights.statement([nights.paid_out_today(240_000)])
    assert _night(nights).kinds == {"statement_gap": 1}
    # the next opening is lower by exactly the payment: it is taken as shown
    assert _night(nights, nights.statement([])).kinds == {"statement_gap": 1}

    came = _night(nights, withheld, nights.statement([]))

    assert came.kinds == {}
    assert came.matched_lines == 1
    (gap,) = nights.items("statement_gap")
    assert gap.status is ItemStatus.CLOSED
    for _ in range(4):  # past the pending days: nothing left open, nothing raised
        assert _night(nights, nights.statement([])).kinds == {}
