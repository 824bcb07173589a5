"""A large adjusting entry waits for a second person; if the item's difference changes
meanwhile (the bank takes part of the money back), the approver is refused instead of
booking the figure proposed, which would put the books wrong the other way."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.errors import Conflict
from gateway.ledger import service as ledger
from gateway.ledger.models import AccountCode
from gateway.queue import service as queue
from gateway.queue.models import ItemStatus, QueueItem
from tests.recon_support import Nights


@pytest.fixture
def nights(tmp_path: Path) -> Iterator[Nights]:
    built = Nights(tmp_path)
    yield built
    built.close()


def _ledger_break(nights: Nights) -> QueueItem:
    (found,) = [i for i in nights.items("balance_break") if i.subject.startswith("ledger:")]
    return found


def test_an_adjustment_is_not_approved_once_the_difference_has_changed(nights: Nights) -> None:
    a = nights.world.a.id
    # night 1: the bank shows 2,000 yuan more on sub-account 1 than the books, no line says why
    nights.night(closing_delta={nights.sub_a: 200_000})
    item = _ledger_break(nights)
    session = nights.settle.fresh()
    queue.resolve_adjusting_entry(session, item.id, actor="alice", reason="不明入账，暂记待处理")
    session.commit()
    assert _ledger_break(nights).status is ItemStatus.AWAITING_APPROVAL  # above 1,000 yuan

    # night 2: the bank takes 1,500 yuan back; the item now shows 500 yuan
    nights.night(closing_delta={nights.sub_a: -150_000})
    shown = _ledger_break(nights)
    assert (shown.actual_fen or 0) - (shown.expected_fen or 0) == 50_000

    session = nights.settle.fresh()
    with pytest.raises(Conflict) as refused:
        queue.approve_adjustment(session, item.id, actor="bob", note="已核对")
    assert refused.value.code == "adjustment_amount_changed"
    for message in (refused.value.message_zh, refused.value.message_en):
        assert "2,000.00" in message  # proposed
        assert "500.00" in message  # shown now
    session.rollback()
    # the same refusal through the review the console and the command line use
    with pytest.raises(Conflict):
        queue.review(session, item.id, actor="bob", approve=True, note="已核对")
    session.rollback()

    # nothing was booked; the proposal still waits, for bob to turn down
    assert ledger.balance(session, a, AccountCode.SUSPENSE) == 0
    assert _ledger_break(nights).status is ItemStatus.AWAITING_APPROVAL
    queue.reject_adjustment(session, item.id, actor="bob", note="金额已变，请按现差额重新提出")
    session.commit()

    # alice proposes the 500 yuan the item shows (within the limit, booked at once)
    session = nights.settle.fresh()
    queue.resolve_adjusting_entry(session, item.id, actor="alice", reason="不明入账 500 元")
    session.commit()
    assert ledger.balance(nights.settle.fresh(), a, AccountCode.SUSPENSE) == -50_000

    # the books agree with the bank: the next night finds nothing and confirms the entry
    after = nights.night()
    assert after.exceptions == ()
    assert item.id in after.queue.confirmed
