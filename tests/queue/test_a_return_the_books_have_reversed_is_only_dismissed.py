"""A disbursement the bank returned after settling it is a returned-after-settlement item. Once
the books have reversed the disbursement, the return line and the reversal match each other
and the disbursement matched long ago: none of the item's lines and entries is open, so there
is nothing left to match or to book. Neither a manual match, an adjusting entry nor a
write-off is offered, each is refused when asked in words staff understand (never a list of
internal ids), and a request made before is refused when approved in the same words. The item
is dismissed with a justification, and the next night confirms it.

While the books have not reversed it, the money to book is the returned amount, once: the
disbursement the return answers matched long ago and is not the item's money any more."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from gateway.errors import HuzhuError, RuleViolation
from gateway.ledger import service as ledger
from gateway.ledger.models import AccountCode, JournalTransaction
from gateway.queue import service as queue
from gateway.queue.models import ItemStatus, QueueItem, Resolution
from gateway.reconcile.source import entry_id_of
from tests.recon_support import Nights

AMOUNT = 240_000


@pytest.fixture
def nights(tmp_path: Path) -> Iterator[Nights]:
    built = Nights(tmp_path)
    yield built
    built.close()


def _returned(nights: Nights, *, reversed_in_the_books: bool) -> QueueItem:
    """A loan paid out and reconciled; the next day the bank returns the payment (and the
    books have reversed the disbursement, if asked): the night's returned item."""
    loan, card, _ = nights.disbursed_loan()
    e2e = f"DSB-{loan.contract_no}"
    if reversed_in_the_books:
        session = nights.settle.fresh()
        paid = session.scalars(
            select(JournalTransaction).where(JournalTransaction.external_ref == e2e)
        ).one()
        ledger.reverse(session, paid.id, business_date=nights.day, reason="退汇 returned AC04")
        session.commit()
    back = nights.line(
        nights.sub_a,
        AMOUNT,
        end_to_end_id=e2e,
        counterparty_account=card,
        bank_transaction_code="PMNT/ICDT/RRTN",
        return_reason_code="AC04",
        remittance="退汇",
    )
    assert nights.night([back]).kinds == {"returned_after_settlement": 1}
    return nights.item("returned_after_settlement")


def _in_words(refusal: HuzhuError) -> None:
    for message in (refusal.message_zh, refusal.message_en):
        assert "STMT" not in message
        assert "j:" not in message


def test_a_reversed_return_is_not_offered_for_booking_or_matching(nights: Nights) -> None:
    item = _returned(nights, reversed_in_the_books=True)
    session = nights.settle.fresh()
    assert queue.refused_resolutions(session, item) == {
        "manual_match",
        "adjusting_entry",
        "write_off",
    }
    for attempt in (
        lambda: queue.resolve_adjusting_entry(session, item.id, actor="alice", reason="退汇"),
        lambda: queue.request_write_off(session, item.id, actor="alice", note="退汇"),
    ):
        with pytest.raises(RuleViolation) as refused:
            attempt()
        assert refused.value.code == "nothing_to_book"
        assert "都已对上（已匹配或已冲销）" in refused.value.message_zh
        assert "驳回" in refused.value.message_zh
        _in_words(refused.value)
        session.rollback()
    with pytest.raises(RuleViolation) as refused:
        queue.resolve_manual_match(session, item.id, actor="alice", note="退汇")
    assert refused.value.code == "nothing_left_to_match"
    _in_words(refused.value)
    session.rollback()
    assert queue.get_item(session, item.id).status is ItemStatus.OPEN


@pytest.mark.parametrize("status", [ItemStatus.AWAITING_APPROVAL, ItemStatus.WRITE_OFF_REVIEW])
def test_a_request_made_before_is_refused_in_words_when_approved(
    nights: Nights, status: ItemStatus
) -> None:
    """An adjusting entry or write-off proposed on the whole returned amount (as was accepted
    before) is refused when the second person approves it, telling them to return it."""
    item = _returned(nights, reversed_in_the_books=True)
    session = nights.settle.fresh()
    item = queue.get_item(session, item.id)
    item.status = status
    item.resolution = (
        Resolution.WRITE_OFF
        if status is ItemStatus.WRITE_OFF_REVIEW
        else Resolution.ADJUSTING_ENTRY
    )
    item.resolved_by = "alice"
    item.proposal_json = json.dumps(
        {
            "amount_fen": AMOUNT,
            "counter_account": AccountCode.SUSPENSE.value,
            "reason": "退汇",
            "on": item.last_seen.isoformat(),
            "proposed_by": "alice",
            "requested_by": "alice",
        }
    )
    session.commit()
    with pytest.raises(RuleViolation) as refused:
        queue.review(session, item.id, actor="bob", approve=True, note="已核")
    assert refused.value.code in {"nothing_to_adjust", "nothing_to_write_off"}
    assert "请退回" in refused.value.message_zh
    _in_words(refused.value)
    session.rollback()
    assert ledger.balance(session, nights.world.a.id, AccountCode.SUSPENSE) == 0
    assert ledger.balance(session, nights.world.a.id, AccountCode.WRITE_OFF) == 0


def test_a_reversed_return_is_dismissed_and_the_next_night_confirms_it(nights: Nights) -> None:
    item = _returned(nights, reversed_in_the_books=True)
    session = nights.settle.fresh()
    queue.dismiss(session, item.id, actor="alice", justification="退汇已冲销，借款回到已审批")
    session.commit()
    after = nights.night()
    assert after.exceptions == ()
    assert after.queue.confirmed == [item.id]
    closed = nights.item("returned_after_settlement")
    assert (closed.status, closed.resolution) == (ItemStatus.CLOSED, Resolution.DISMISS)


def test_a_return_not_yet_reversed_books_the_returned_money_once(nights: Nights) -> None:
    item = _returned(nights, reversed_in_the_books=False)
    session = nights.settle.fresh()
    assert "adjusting_entry" not in queue.refused_resolutions(session, item)
    queue.resolve_adjusting_entry(
        session,
        item.id,
        actor="alice",
        reason="退汇款暂记，待重新放款",
        config=queue.QueueConfig(approval_above_fen=10_000_000),
    )
    session.commit()
    a = nights.world.a.id
    assert ledger.balance(session, a, AccountCode.SUSPENSE) == -AMOUNT
    assert ledger.balance(session, a, AccountCode.BANK_SUB_ACCOUNT) == nights.bank[nights.sub_a]
    after = nights.night()
    assert after.exceptions == ()
    assert after.queue.confirmed == [item.id]
    assert nights.item("returned_after_settlement").status is ItemStatus.CLOSED


def test_a_pick_matched_since_is_refused_naming_it_in_words(nights: Nights) -> None:
    """Two people answer two unknown deposits of 333.00 with the one member deposit the books
    hold: the second match is refused, naming the entry taken by its day, amount and
    description, not by its id."""
    nights.night(
        [
            nights.line(nights.sub_b, 33_300, counterparty_account="6230000099998888"),
            nights.line(nights.sub_b, 33_300, counterparty_account="6230000099997777"),
        ]
    )
    first, second = nights.items("unmatched_bank")
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
    nights.night()  # the deposit is one of the open entries now
    entry = entry_id_of(deposit.id)
    queue.resolve_manual_match(
        session, first.id, actor="alice", entry_ids=[entry], line_ids=queue.item_line_ids(first)
    )
    session.commit()
    with pytest.raises(HuzhuError) as refused:
        queue.resolve_manual_match(
            session, second.id, actor="bob", entry_ids=[entry], line_ids=queue.item_line_ids(second)
        )
    assert refused.value.code == "not_open"
    assert "账务" in refused.value.message_zh
    assert "+333.00 会员入会互助金" in refused.value.message_zh
    _in_words(refused.value)
