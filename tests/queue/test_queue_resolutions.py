"""The mismatch queue from night to night: each resolution, second-person approval, audit
entries, and the next run confirming a resolution or reopening it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from gateway import db
from gateway.audit.models import AuditEvent
from gateway.auth.models import Role
from gateway.errors import Conflict, RuleViolation, ValidationFailed
from gateway.ledger import service as ledger
from gateway.ledger.models import AccountCode, JournalTransaction
from gateway.queue import service as queue
from gateway.queue.models import ItemStatus, NightState, QueueEvent, Resolution
from gateway.reconcile.models import ManualMatch, OpenItem
from gateway.reconcile.source import entry_id_of
from tests.recon_support import Nights

STRANGER = "6230000099998888"


@pytest.fixture
def nights(tmp_path: Path) -> Iterator[Nights]:
    built = Nights(tmp_path)
    yield built
    built.close()


def _actions(nights: Nights, item_id: int) -> list[str]:
    return [e.action for e in queue.history(nights.settle.fresh(), item_id)]


def test_items_carry_over_new_then_persisting_then_cleared(nights: Nights) -> None:
    nights.night([nights.line(nights.sub_b, 33_300, counterparty_account=STRANGER)])
    item = nights.item("unmatched_bank")
    assert (item.status, item.night_state, item.times_seen) == (
        ItemStatus.OPEN,
        NightState.NEW,
        1,
    )
    second = nights.night()
    item = nights.item("unmatched_bank")
    assert (item.night_state, item.times_seen, item.last_seen) == (
        NightState.PERSISTING,
        2,
        second.business_date,
    )
    # the money was a member's deposit after all: the books record it, a person matches it
    session = nights.settle.fresh()
    deposit = ledger.post(
        session,
        association_id=nights.world.b.id,
        business_date=nights.day,
        description="会员入会互助金",
        kind="member_deposit",
        legs=[
            ledger.Posting.debit(AccountCode.BANK_SUB_ACCOUNT, 33_300),
            ledger.Posting.credit(AccountCode.MEMBER_DEPOSITS, 33_300),
        ],
    )
    session.commit()
    third = nights.night()
    assert third.kinds == {"unmatched_bank": 1}  # the new entry is pending, not an exception
    session = nights.settle.fresh()
    with pytest.raises(RuleViolation):  # sums must agree to the fen
        queue.resolve_manual_match(
            session, item.id, actor="alice", line_ids=["STMT20240701:1"], entry_ids=[]
        )
    session.rollback()
    queue.resolve_manual_match(
        session,
        item.id,
        actor="alice",
        line_ids=["STMT20240701:1"],
        entry_ids=[entry_id_of(deposit.id)],
        note="会员交纳互助金",
    )
    session.commit()
    assert nights.item("unmatched_bank").status is ItemStatus.RESOLVED
    assert session.scalars(select(ManualMatch)).one().actor == "alice"
    fourth = nights.night()
    assert fourth.exceptions == ()
    item = nights.item("unmatched_bank")
    assert (item.status, item.resolution) == (ItemStatus.CLOSED, Resolution.MANUAL_MATCH)
    assert _actions(nights, item.id) == ["raised", "resolved", "confirmed"]
    assert nights.settle.fresh().scalars(select(OpenItem)).all() == []


def test_a_night_of_more_items_than_one_insert_holds_files_each_once(
    nights: Nights, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db, "INSERT_CHUNK", 2)
    strangers = [
        nights.line(nights.sub_b, 10_000 + n, counterparty_account=f"62300000777700{n:02d}")
        for n in range(5)
    ]
    outcome = nights.night(strangers)
    assert outcome.kinds == {"unmatched_bank": 5}
    items = nights.items("unmatched_bank")
    assert sorted(item.actual_fen or 0 for item in items) == [
        10_000,
        10_001,
        10_002,
        10_003,
        10_004,
    ]
    assert all(_actions(nights, item.id) == ["raised"] for item in items)
    assert sorted(outcome.queue.new) == [item.id for item in items]
    # the unmatched lines are kept open for the next night, each once
    kept = nights.settle.fresh().scalars(select(OpenItem.item_id)).all()
    assert sorted(kept) == sorted(json.loads(item.line_ids_json)[0] for item in items)


def test_adjusting_entry_above_the_limit_needs_a_second_person(nights: Nights) -> None:
    cash = nights.line(
        nights.sub_a,
        12_000,
        credit=False,
        bank_transaction_code="CAMT/CNTR/CWDL",
        remittance="现金支取",
    )
    nights.night([cash])
    item = nights.item("village_cash")
    session = nights.settle.fresh()
    with pytest.raises(ValidationFailed):
        queue.resolve_adjusting_entry(session, item.id, actor="alice", reason=" ", on=nights.day)
    config = queue.QueueConfig(approval_above_fen=10_000)
    queue.resolve_adjusting_entry(
        session,
        item.id,
        actor="alice",
        reason="会计柜面取现，现金已收回入库",
        counter_account=AccountCode.CASH_ON_HAND,
        on=nights.day,
        config=config,
    )
    session.commit()
    assert nights.item("village_cash").status is ItemStatus.AWAITING_APPROVAL
    session = nights.settle.fresh()
    with pytest.raises(RuleViolation) as refused:
        queue.approve_adjustment(session, item.id, actor="alice")
    assert refused.value.code == "second_person_required"
    session.rollback()
    queue.approve_adjustment(session, item.id, actor="bob")
    session.commit()
    item = nights.item("village_cash")
    assert (item.status, item.resolved_by, item.approved_by) == (
        ItemStatus.RESOLVED,
        "alice",
        "bob",
    )
    posted = session.get(JournalTransaction, item.journal_transaction_id)
    assert posted is not None
    assert (posted.kind, posted.total_fen, posted.created_by) == ("adjustment", 12_000, "bob")
    assert ledger.balance(session, nights.world.a.id, AccountCode.CASH_ON_HAND) == 12_000
    # the next night the books agree with the bank and the resolution is confirmed
    after = nights.night()
    assert after.exceptions == ()
    assert nights.item("village_cash").status is ItemStatus.CLOSED
    assert _actions(nights, item.id) == [
        "raised",
        "adjustment_proposed",
        "adjustment_approved",
        "confirmed",
    ]


def test_small_adjustment_is_posted_at_once(nights: Nights) -> None:
    fee = nights.line(nights.sub_b, 250, credit=False, remittance="短信服务费")
    nights.night([fee])
    item = nights.item("unmatched_bank")
    session = nights.settle.fresh()
    queue.resolve_adjusting_entry(
        session,
        item.id,
        actor="alice",
        reason="银行短信服务费",
        counter_account=AccountCode.EXPENSE_OTHER,
        on=nights.day,
    )
    session.commit()
    item = nights.item("unmatched_bank")
    assert (item.status, item.approved_by) == (ItemStatus.RESOLVED, None)
    assert ledger.balance(session, nights.world.b.id, AccountCode.EXPENSE_OTHER) == 250
    assert nights.night().exceptions == ()
    assert nights.item("unmatched_bank").status is ItemStatus.CLOSED


def test_bank_error_waits_for_the_bank_and_closes_when_it_corrects(nights: Nights) -> None:
    wrong = nights.line(nights.sub_a, 80_000, counterparty_account=STRANGER, remittance="转账")
    nights.night([wrong])
    item = nights.item("unmatched_bank")
    session = nights.settle.fresh()
    with pytest.raises(ValidationFailed):
        queue.resolve_bank_error(session, item.id, actor="alice", note="")
    queue.resolve_bank_error(session, item.id, actor="alice", note="已致电银行，误入账待冲正")
    session.commit()
    # still on the bank's side the next night: it waits, it is not reopened
    nights.night()
    item = nights.item("unmatched_bank")
    assert (item.status, item.night_state) == (ItemStatus.WAITING_BANK, NightState.PERSISTING)
    # the bank reverses its error
    reversal = nights.line(
        nights.sub_a,
        80_000,
        credit=False,
        counterparty_account=STRANGER,
        reversal=True,
        remittance="冲正",
    )
    assert nights.night([reversal]).exceptions == ()
    item = nights.item("unmatched_bank")
    assert (item.status, item.resolution) == (ItemStatus.CLOSED, Resolution.BANK_ERROR)


def test_write_off_request_waits_for_review(nights: Nights) -> None:
    session = nights.settle.fresh()
    ledger.post(
        session,
        association_id=nights.world.a.id,
        business_date=nights.day,
        description="退还会员互助金",
        kind="refund",
        legs=[
            ledger.Posting.debit(AccountCode.MEMBER_DEPOSITS, 5_000),
            ledger.Posting.credit(AccountCode.BANK_SUB_ACCOUNT, 5_000),
        ],
    )
    session.commit()
    first = nights.night()
    assert first.exceptions == ()  # pending: the bank has two days to show it
    nights.night()
    third = nights.night()
    assert third.kinds == {"unmatched_book": 1}
    item = nights.item("unmatched_book")
    session = nights.settle.fresh()
    queue.request_write_off(session, item.id, actor="alice", note="会员已离世，款项无法退回")
    session.commit()
    nights.night()
    item = nights.item("unmatched_book")
    assert (item.status, item.night_state) == (ItemStatus.WRITE_OFF_REVIEW, NightState.PERSISTING)
    assert _actions(nights, item.id) == ["raised", "write_off_requested"]


def test_reassignment_to_the_right_association(nights: Nights) -> None:
    moved = nights.line(
        nights.sub_a, 40_000, credit=False, counterparty_account=nights.sub_b, remittance="划转"
    )
    nights.night([moved])
    item = nights.item("cross_association")
    assert item.association_id == nights.world.a.id
    session = nights.settle.fresh()
    with pytest.raises(Conflict):  # not while it is still someone else's to approve
        queue.approve_adjustment(session, item.id, actor="bob")
    queue.reassign(
        session,
        item.id,
        actor="alice",
        association_id=nights.world.b.id,
        note="二村借用一村子账户，应由二村处理",
    )
    session.commit()
    item = nights.item("cross_association")
    # handed over, open, to the association that has to put it right
    assert (item.association_id, item.status) == (nights.world.b.id, ItemStatus.OPEN)
    audit = session.scalars(select(AuditEvent).where(AuditEvent.action == "queue.reassigned")).one()
    assert audit.chain == f"association:{nights.world.b.id}"
    assert audit.payload["to_association"] == nights.world.b.id

    # the money is still where it should not be: the item stays with the second association,
    # seen again, not "reopened" as if the hand-over had failed
    again = nights.night()
    assert item.id in again.queue.persisting
    assert again.queue.reopened == []
    kept = nights.item("cross_association")
    assert (kept.association_id, kept.status, kept.night_state) == (
        nights.world.b.id,
        ItemStatus.OPEN,
        NightState.PERSISTING,
    )


def test_dismissal_needs_a_justification_and_is_reopened_when_seen_again(
    nights: Nights,
) -> None:
    # the bank's closing for sub-account 1 is 100 fen above what its lines explain
    nights.night(closing_delta={nights.sub_a: 100})
    breaks = {i.subject: i for i in nights.items("balance_break")}
    assert set(breaks) == {f"ledger:{nights.sub_a}", f"statement:{nights.sub_a}"}
    ledger_break = breaks[f"ledger:{nights.sub_a}"]
    session = nights.settle.fresh()
    with pytest.raises(ValidationFailed):
        queue.dismiss(session, ledger_break.id, actor="alice", justification="  ")
    queue.dismiss(session, ledger_break.id, actor="alice", justification="银行系统显示误差")
    session.commit()
    # the next night the difference is still there: the dismissal is reopened
    nights.night()
    reopened = nights.settle.fresh().get(type(ledger_break), ledger_break.id)
    assert reopened is not None
    assert (reopened.status, reopened.night_state) == (ItemStatus.OPEN, NightState.REOPENED)
    statement_break = nights.settle.fresh().get(
        type(ledger_break), breaks[f"statement:{nights.sub_a}"].id
    )
    assert statement_break is not None
    assert (statement_break.status, statement_break.resolution) == (
        ItemStatus.CLOSED,
        Resolution.CLEARED,
    )
    # an adjusting entry for the unexplained 100 fen settles it
    session = nights.settle.fresh()
    queue.resolve_adjusting_entry(
        session, reopened.id, actor="alice", reason="银行结息差额", on=nights.day
    )
    session.commit()
    assert nights.night().exceptions == ()
    assert nights.settle.fresh().get(type(ledger_break), ledger_break.id).status is (  # type: ignore[union-attr]
        ItemStatus.CLOSED
    )
    assert _actions(nights, ledger_break.id) == [
        "raised",
        "dismissed",
        "reopened",
        "resolved",
        "confirmed",
    ]


def test_assignment_and_every_action_is_audited(nights: Nights) -> None:
    nights.night([nights.line(nights.sub_b, 9_900, counterparty_account=STRANGER)])
    item = nights.item("unmatched_bank")
    carol = nights.staff("carol", Role.COUNTY_REVIEWER)
    session = nights.settle.fresh()
    with pytest.raises(ValidationFailed):
        queue.assign(session, item.id, assignee=carol, actor="alice", priority=12)
    session.rollback()
    queue.assign(session, item.id, assignee=carol, actor="alice", priority=7)
    session.commit()
    assert [i.id for i in queue.list_items(session, assignee=carol)] == [item.id]
    assert nights.item("unmatched_bank").priority == 7
    events = session.scalars(select(QueueEvent).where(QueueEvent.item_id == item.id)).all()
    audited = session.scalars(
        select(AuditEvent).where(
            AuditEvent.object_type == "queue_item", AuditEvent.object_id == str(item.id)
        )
    ).all()
    assert [e.action for e in events] == ["raised", "assigned"]
    assert [(a.action, a.actor) for a in audited] == [("queue.assigned", "alice")]
    # the run that raised it says so in its own audit event
    synced = session.scalars(select(AuditEvent).where(AuditEvent.action == "queue.synced")).one()
    assert synced.payload["raised"] == [item.id]
