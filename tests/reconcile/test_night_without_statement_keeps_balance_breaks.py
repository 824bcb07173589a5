"""A night the bank sent no statement cannot compare balances: a balance break is neither
cleared nor confirmed that night, it waits, untouched, for the next night with a statement."""

from __future__ import annotations

from gateway.queue import service as queue
from gateway.queue.models import ItemStatus, NightState, QueueItem
from tests.recon_support import Nights


def _ledger_break(nights: Nights) -> QueueItem:
    (found,) = [i for i in nights.items("balance_break") if i.subject == f"ledger:{nights.sub_a}"]
    return found


def test_open_balance_break_is_not_cleared_by_a_night_without_statement(
    nights: Nights,
) -> None:
    first = nights.night(closing_delta={nights.sub_a: 500})
    assert first.kinds.get("balance_break", 0) >= 1
    raised = _ledger_break(nights)
    assert (raised.status, raised.night_state, raised.times_seen) == (
        ItemStatus.OPEN,
        NightState.NEW,
        1,
    )

    blind = nights.night(with_statement=False)
    assert blind.kinds == {"statement_gap": 1}
    assert raised.id in blind.queue.unchecked
    assert raised.id not in blind.queue.cleared
    kept = _ledger_break(nights)
    assert (kept.status, kept.resolution, kept.night_state) == (
        ItemStatus.OPEN,
        None,
        NightState.NEW,
    )
    assert (kept.times_seen, kept.last_seen) == (1, first.business_date)

    # the next statement still shows the 5 yuan: the same item persists, never reopened
    seen = nights.night()
    assert raised.id in seen.queue.persisting
    assert seen.queue.reopened == []
    again = _ledger_break(nights)
    assert (again.status, again.night_state, again.times_seen) == (
        ItemStatus.OPEN,
        NightState.PERSISTING,
        2,
    )


def test_bank_follow_up_is_not_confirmed_by_a_night_without_statement(nights: Nights) -> None:
    nights.night(closing_delta={nights.sub_a: 500})
    item = _ledger_break(nights)
    session = nights.settle.fresh()
    queue.resolve_bank_error(session, item.id, actor="alice", note="银行余额多出5元，已反映")
    session.commit()

    nights.night(with_statement=False)
    waiting = _ledger_break(nights)
    assert waiting.status is ItemStatus.WAITING_BANK

    # the bank corrects its balance: the next statement confirms the follow-up
    nights.night(closing_delta={nights.sub_a: -500})
    assert _ledger_break(nights).status is ItemStatus.CLOSED


def test_a_night_with_statement_still_clears_a_break_that_is_gone(nights: Nights) -> None:
    nights.night(closing_delta={nights.sub_a: 500})
    item = _ledger_break(nights)
    gone = nights.night(closing_delta={nights.sub_a: -500})
    assert item.id in gone.queue.cleared
    assert _ledger_break(nights).status is ItemStatus.CLOSED
