"""A run that no longer sees a problem confirms what was done about it. An event, though, is
seen only when it happens (a bank line printed twice, a missing day): not seeing it again says
nothing about whether the bank corrected it, and a write-off request is for its reviewer to
decide whatever the run sees. Those wait for a person."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from gateway.errors import Conflict
from gateway.ledger import service as ledger
from gateway.ledger.models import JournalTransaction
from gateway.queue import service as queue
from gateway.queue.models import ItemStatus, NightState, QueueItem, Resolution
from tests.recon_support import Nights

STRANGER = "6230000099998888"


@pytest.fixture
def nights(tmp_path: Path) -> Iterator[Nights]:
    built = Nights(tmp_path)
    yield built
    built.close()


def _printed_twice(nights: Nights) -> QueueItem:
    """The bank shows one transfer twice, under one transaction id."""
    first, copy = (
        nights.line(nights.sub_b, 33_300, counterparty_account=STRANGER, bank_transaction_id="TX1")
        for _ in range(2)
    )
    nights.night([first, copy])
    return nights.item("duplicate")


def test_a_bank_follow_up_on_a_copied_line_waits_until_a_person_closes_it(
    nights: Nights,
) -> None:
    item = _printed_twice(nights)
    session = nights.settle.fresh()
    queue.resolve_bank_error(session, item.id, actor="alice", note="请银行冲正重复入账")
    session.commit()

    nights.night()  # the copy is not shown again: that is not the bank's correction
    waiting = nights.item("duplicate")
    assert (waiting.status, waiting.night_state) == (ItemStatus.WAITING_BANK, NightState.GONE)

    session = nights.settle.fresh()
    queue.dismiss(session, item.id, actor="alice", justification="银行已冲正，见次日对账单")
    session.commit()
    nights.night()
    closed = nights.item("duplicate")
    assert (closed.status, closed.resolution) == (ItemStatus.CLOSED, Resolution.DISMISS)


def test_a_write_off_request_about_an_event_waits_for_its_reviewer(nights: Nights) -> None:
    """A loan paid out comes back from the bank (a return: an event); a write-off of the money
    returned is requested. The books reverse the disbursement and the run stops seeing the
    return: the request still waits for its reviewer."""
    loan, card, _ = nights.disbursed_loan()
    e2e = f"DSB-{loan.contract_no}"
    back = nights.line(
        nights.sub_a,
        240_000,
        end_to_end_id=e2e,
        counterparty_account=card,
        bank_transaction_code="PMNT/ICDT/RRTN",
        return_reason_code="AC04",
    )
    nights.night([back])
    item = nights.item("returned_after_settlement")
    session = nights.settle.fresh()
    queue.request_write_off(session, item.id, actor="alice", note="退汇款，申请核销")
    paid = session.scalars(
        select(JournalTransaction).where(JournalTransaction.external_ref == e2e)
    ).one()
    ledger.reverse(session, paid.id, business_date=nights.day, reason="退汇 returned AC04")
    session.commit()

    nights.night()
    nights.night()
    pending = nights.item("returned_after_settlement")
    assert (pending.status, pending.resolution) == (
        ItemStatus.WRITE_OFF_REVIEW,
        Resolution.WRITE_OFF,
    )
    assert pending.night_state is NightState.GONE
    assert "confirmed" not in [e.action for e in queue.history(nights.settle.fresh(), item.id)]


def test_a_write_off_request_lapses_when_the_bank_takes_the_line_back(nights: Nights) -> None:
    came = nights.line(nights.sub_b, 12_300, counterparty_account=STRANGER, end_to_end_id="X1")
    nights.night([came])
    item = nights.item("unmatched_bank")
    session = nights.settle.fresh()
    queue.request_write_off(session, item.id, actor="alice", note="来源不明，申请核销")
    session.commit()

    back = nights.line(
        nights.sub_b,
        12_300,
        credit=False,
        counterparty_account=STRANGER,
        end_to_end_id="X1",
        reversal=True,
    )
    nights.night([back])  # the bank reverses it: the line and its reversal cancel out
    closed = nights.item("unmatched_bank")
    assert (closed.status, closed.resolution) == (ItemStatus.CLOSED, Resolution.CLEARED)
    (last,) = queue.history(nights.settle.fresh(), item.id)[-1:]
    assert (last.action, "待审批的处理失效" in last.note) == ("cleared", True)


def test_a_large_adjusting_entry_awaiting_approval_lapses_when_the_problem_goes(
    nights: Nights,
) -> None:
    came = nights.line(nights.sub_b, 250_000, counterparty_account=STRANGER, end_to_end_id="X2")
    nights.night([came])
    item = nights.item("unmatched_bank")
    session = nights.settle.fresh()
    queue.resolve_adjusting_entry(
        session,
        item.id,
        actor="alice",
        reason="暂记其他应付款",
        on=nights.day,
        config=queue.QueueConfig(approval_above_fen=100_000),
    )
    session.commit()
    assert nights.item("unmatched_bank").status is ItemStatus.AWAITING_APPROVAL

    back = nights.line(
        nights.sub_b,
        250_000,
        credit=False,
        counterparty_account=STRANGER,
        end_to_end_id="X2",
        reversal=True,
    )
    nights.night([back])
    closed = nights.item("unmatched_bank")
    assert (closed.status, closed.resolution) == (ItemStatus.CLOSED, Resolution.CLEARED)
    assert closed.journal_transaction_id is None  # nothing was booked
    session = nights.settle.fresh()
    with pytest.raises(Conflict):  # and nobody can approve it any more
        queue.approve_adjustment(session, item.id, actor="bob")
