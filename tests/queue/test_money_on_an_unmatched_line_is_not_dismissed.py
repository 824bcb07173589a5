"""Dismissing an unmatched bank line or book entry would take it off the open items while its
money is still unaccounted for: the next night "confirmed" the dismissal and the same money
came back as a new, unlinked balance break. Such a dismissal is refused, saying what puts it
right (a manual match, an adjusting entry, a bank follow-up); once one does, the next night
finds nothing and confirms it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import delete

from adapters.records import Channel
from gateway.errors import RuleViolation
from gateway.ledger import service as ledger
from gateway.ledger.models import AccountCode
from gateway.queue import service as queue
from gateway.queue.models import ItemStatus, QueueItem, Resolution
from gateway.reconcile.models import OpenItem
from tests.recon_support import Nights

STRANGER = "6230000099998888"


@pytest.fixture
def nights(tmp_path: Path) -> Iterator[Nights]:
    built = Nights(tmp_path)
    yield built
    built.close()


def _unmatched_book_item(nights: Nights) -> QueueItem:
    """The books paid out a loan the bank never shows; a few days on it is an unmatched entry."""
    nights.paid_out_today(150_000)
    for _ in range(10):
        nights.night()
        if found := nights.items("unmatched_book"):
            (item,) = found
            return item
    raise AssertionError("the entry never became an unmatched book entry")


def test_an_unbooked_bank_line_is_not_dismissed_and_an_entry_for_it_is_confirmed(
    nights: Nights,
) -> None:
    nights.night([nights.line(nights.sub_b, 33_300, counterparty_account=STRANGER)])
    item = nights.item("unmatched_bank")

    session = nights.settle.fresh()
    with pytest.raises(RuleViolation) as refused:
        queue.dismiss(session, item.id, actor="alice", justification="银行测试入账")
    assert refused.value.code == "dismissal_leaves_money_unaccounted"
    assert "333.00" in refused.value.message_zh
    assert "人工匹配" in refused.value.message_zh
    assert "调整分录" in refused.value.message_zh
    assert "333.00" in refused.value.message_en
    assert "adjusting entry" in refused.value.message_en
    session.rollback()
    assert nights.item("unmatched_bank").status is ItemStatus.OPEN

    # the line is carried on: the next night raises it again, not a balance break
    again = nights.night()
    assert again.kinds == {"unmatched_bank": 1}
    assert item.id in again.queue.persisting

    # put right in the books, it is confirmed, and no balance break takes its place
    session = nights.settle.fresh()
    queue.resolve_adjusting_entry(session, item.id, actor="alice", reason="来源不明，暂记待处理")
    session.commit()
    b = nights.world.b.id
    assert ledger.balance(nights.settle.fresh(), b, AccountCode.SUSPENSE) == -33_300
    after = nights.night()
    assert after.exceptions == ()
    assert after.queue.confirmed == [item.id]


def test_an_unmatched_book_entry_is_not_dismissed(nights: Nights) -> None:
    item = _unmatched_book_item(nights)
    session = nights.settle.fresh()
    with pytest.raises(RuleViolation) as refused:
        queue.dismiss(session, item.id, actor="alice", justification="已放款")
    assert refused.value.code == "dismissal_leaves_money_unaccounted"
    assert "1,500.00" in refused.value.message_zh
    session.rollback()
    assert queue.get_item(session, item.id).resolution is not Resolution.DISMISS


def test_cash_paid_in_at_village_level_and_nobody_booked_is_not_dismissed(
    nights: Nights,
) -> None:
    """A cash deposit on a sub-account is village cash and, unbooked, money the books lack:
    dismissing the cash item would drop its line as dismissing an unmatched one would."""
    nights.night(
        [
            nights.line(
                nights.sub_b,
                80_000,
                channel=Channel.CASH,
                bank_transaction_code="CAMT/CNTR/CDPT",
                counterparty_name="现金存入",
            )
        ]
    )
    (item,) = nights.items("village_cash")
    session = nights.settle.fresh()
    with pytest.raises(RuleViolation) as refused:
        queue.dismiss(session, item.id, actor="alice", justification="已核实为会员存款")
    assert refused.value.code == "dismissal_leaves_money_unaccounted"
    assert "800.00" in refused.value.message_zh
    session.rollback()
    assert nights.item("village_cash").status is ItemStatus.OPEN


def test_an_entry_matched_since_no_longer_holds_its_item_back(nights: Nights) -> None:
    """Once the entry an unmatched-book item is about has been matched (by hand, on another
    item), no money of the item is open: it may be dismissed."""
    item = _unmatched_book_item(nights)
    session = nights.settle.fresh()
    (entry_id,) = queue.item_entry_ids(item)
    # matched by hand elsewhere: the entry is taken out of the open items
    session.execute(
        delete(OpenItem).where(OpenItem.item_type == "entry", OpenItem.item_id == entry_id)
    )
    assert queue.money_left_open(session, queue.get_item(session, item.id)) == 0
    queue.dismiss(session, item.id, actor="alice", justification="已在另一差错中人工匹配")
    session.commit()
    assert queue.get_item(nights.settle.fresh(), item.id).resolution is Resolution.DISMISS
