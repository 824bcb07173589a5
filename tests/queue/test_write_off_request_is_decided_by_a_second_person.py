"""A write-off request in the mismatch queue is decided by someone other than the requester:
approved, the difference is booked against 呆坏账核销 and the next run confirms it; rejected
with a reason, the item is open again with the rejection in its history."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from gateway.audit.models import AuditEvent
from gateway.errors import Conflict, RuleViolation, ValidationFailed
from gateway.ledger import service as ledger
from gateway.ledger.models import AccountCode, JournalTransaction
from gateway.queue import service as queue
from gateway.queue.models import ItemStatus, NightState, QueueItem, Resolution
from tests.recon_support import Nights

THIEF = "6230000011112222"


@pytest.fixture
def nights(tmp_path: Path) -> Iterator[Nights]:
    built = Nights(tmp_path)
    yield built
    built.close()


def _unauthorised_withdrawal(nights: Nights) -> QueueItem:
    """300 yuan left sub-account 1 to a stranger: the bank will not return it."""
    taken = nights.line(
        nights.sub_a, 30_000, credit=False, counterparty_account=THIEF, remittance="转账"
    )
    nights.night([taken])
    return nights.item("unmatched_bank")


def _audited(nights: Nights, item_id: int) -> list[tuple[str, str]]:
    rows = nights.settle.fresh().scalars(
        select(AuditEvent)
        .where(AuditEvent.object_type == "queue_item", AuditEvent.object_id == str(item_id))
        .order_by(AuditEvent.id)
    )
    return [(a.action, a.actor) for a in rows]


def _actions(nights: Nights, item_id: int) -> list[str]:
    return [e.action for e in queue.history(nights.settle.fresh(), item_id)]


def test_the_requester_cannot_decide_and_another_person_books_the_write_off(
    nights: Nights,
) -> None:
    item = _unauthorised_withdrawal(nights)
    a = nights.world.a.id
    session = nights.settle.fresh()
    bank_before = ledger.balance(session, a, AccountCode.BANK_SUB_ACCOUNT)
    queue.request_write_off(session, item.id, actor="alice", note="冒名转出，公安已立案，无法追回")
    session.commit()
    assert nights.item("unmatched_bank").status is ItemStatus.WRITE_OFF_REVIEW

    session = nights.settle.fresh()
    for decide in (
        lambda: queue.approve_write_off(session, item.id, actor="alice", on=nights.day),
        lambda: queue.reject_write_off(session, item.id, actor="alice", note="撤回"),
        lambda: queue.review(session, item.id, actor="alice", approve=True, note="", on=nights.day),
    ):
        with pytest.raises(RuleViolation) as refused:
            decide()
        assert refused.value.code == "second_person_required"
        session.rollback()
    assert nights.item("unmatched_bank").status is ItemStatus.WRITE_OFF_REVIEW
    assert ledger.balance(session, a, AccountCode.WRITE_OFF) == 0

    queue.approve_write_off(session, item.id, actor="bob", on=nights.day)
    session.commit()
    item = nights.item("unmatched_bank")
    assert (item.status, item.resolution, item.resolved_by, item.approved_by) == (
        ItemStatus.RESOLVED,
        Resolution.WRITE_OFF,
        "alice",
        "bob",
    )
    session = nights.settle.fresh()
    posted = session.get(JournalTransaction, item.journal_transaction_id)
    assert posted is not None
    assert (posted.kind, posted.total_fen, posted.created_by, posted.association_id) == (
        "write_off",
        30_000,
        "bob",
        a,
    )
    assert ledger.balance(session, a, AccountCode.WRITE_OFF) == 30_000
    assert ledger.balance(session, a, AccountCode.BANK_SUB_ACCOUNT) == bank_before - 30_000
    assert _audited(nights, item.id) == [
        ("queue.write_off_requested", "alice"),
        ("queue.write_off_approved", "bob"),
    ]
    booked = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "queue.write_off_approved")
    ).one()
    assert booked.payload["amount_fen"] == -30_000
    assert booked.payload["journal_transaction_id"] == str(posted.id)

    # decided once: a second approval is refused
    with pytest.raises(Conflict):
        queue.approve_write_off(session, item.id, actor="carol", on=nights.day)
    session.rollback()

    # the next night the books agree with the bank: the run confirms the write-off
    after = nights.night()
    assert after.exceptions == ()
    item = nights.item("unmatched_bank")
    assert (item.status, item.resolution, item.night_state) == (
        ItemStatus.CLOSED,
        Resolution.WRITE_OFF,
        NightState.GONE,
    )
    assert _actions(nights, item.id) == [
        "raised",
        "write_off_requested",
        "write_off_approved",
        "confirmed",
    ]


def test_a_rejected_request_is_open_again_with_the_reason_in_its_history(
    nights: Nights,
) -> None:
    item = _unauthorised_withdrawal(nights)
    session = nights.settle.fresh()
    queue.request_write_off(session, item.id, actor="alice", note="款项无法追回")
    session.commit()

    session = nights.settle.fresh()
    with pytest.raises(ValidationFailed):
        queue.reject_write_off(session, item.id, actor="bob", note="  ")
    session.rollback()
    queue.review(
        session,
        item.id,
        actor="bob",
        approve=False,
        note="银行尚未答复是否可追回，先向银行反映",
        on=nights.day,
    )
    session.commit()
    item = nights.item("unmatched_bank")
    assert (item.status, item.resolution, item.approved_by, item.journal_transaction_id) == (
        ItemStatus.OPEN,
        None,
        None,
        None,
    )
    history = queue.history(nights.settle.fresh(), item.id)
    assert [e.action for e in history] == ["raised", "write_off_requested", "write_off_rejected"]
    rejected = history[-1]
    assert (rejected.actor, rejected.note) == ("bob", "银行尚未答复是否可追回，先向银行反映")
    assert json.loads(rejected.data_json)["requested_by"] == "alice"
    assert _audited(nights, item.id) == [
        ("queue.write_off_requested", "alice"),
        ("queue.write_off_rejected", "bob"),
    ]
    assert ledger.balance(nights.settle.fresh(), nights.world.a.id, AccountCode.WRITE_OFF) == 0

    # nothing was booked: the next run still finds it, and it is worked like any open item
    nights.night()
    item = nights.item("unmatched_bank")
    assert (item.status, item.night_state) == (ItemStatus.OPEN, NightState.PERSISTING)
    session = nights.settle.fresh()
    queue.resolve_bank_error(session, item.id, actor="alice", note="已向银行提出追索")
    session.commit()
    assert nights.item("unmatched_bank").status is ItemStatus.WAITING_BANK


def test_a_difference_that_changed_since_the_request_is_not_booked(nights: Nights) -> None:
    # the bank's closing for sub-account 1 is 80 fen below what its lines explain
    nights.night(closing_delta={nights.sub_a: -80})
    breaks = {i.subject: i for i in nights.items("balance_break")}
    ledger_break = breaks[f"ledger:{nights.sub_a}"]
    session = nights.settle.fresh()
    queue.request_write_off(session, ledger_break.id, actor="alice", note="差额无法查明")
    session.commit()
    # the next night another 20 fen are missing: the request no longer says what is wrong
    nights.night(closing_delta={nights.sub_a: -20})
    session = nights.settle.fresh()
    with pytest.raises(Conflict) as refused:
        queue.approve_write_off(session, ledger_break.id, actor="bob", on=nights.day)
    assert refused.value.code == "write_off_amount_changed"
    session.rollback()
    assert ledger.balance(session, nights.world.a.id, AccountCode.WRITE_OFF) == 0
    # rejected and asked again for the whole 100 fen, it is booked and confirmed
    queue.reject_write_off(session, ledger_break.id, actor="bob", note="金额已变，请重新申请")
    session.commit()
    session = nights.settle.fresh()
    queue.request_write_off(session, ledger_break.id, actor="alice", note="差额无法查明")
    session.commit()
    session = nights.settle.fresh()
    queue.approve_write_off(session, ledger_break.id, actor="bob", on=nights.day)
    session.commit()
    assert ledger.balance(session, nights.world.a.id, AccountCode.WRITE_OFF) == 100
    assert nights.night().exceptions == ()
    closed = nights.settle.fresh().get(QueueItem, ledger_break.id)
    assert closed is not None
    assert (closed.status, closed.resolution) == (ItemStatus.CLOSED, Resolution.WRITE_OFF)


def test_an_item_without_a_difference_cannot_be_written_off(nights: Nights) -> None:
    nights.night()
    nights.night(with_statement=False)  # the bank sent nothing: a gap, no amount
    gap = nights.item("statement_gap")
    session = nights.settle.fresh()
    with pytest.raises(RuleViolation) as refused:
        queue.request_write_off(session, gap.id, actor="alice", note="银行漏发对账单")
    assert refused.value.code == "statement_gap_not_bookable"
    session.rollback()
    assert nights.item("statement_gap").status is ItemStatus.OPEN
