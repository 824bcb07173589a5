"""The bank prints a 500.00 credit twice under one transaction id: the copy is a duplicate
item (naming the original as its evidence), the original an unmatched line of its own.
Dismissing the duplicate first ("the bank printed it twice") takes nothing off the open items:
the copy was never kept open, and the original is its own item's money. It stays open, to be
booked on its own item, and the next night confirms both without a balance break."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from gateway.ledger import service as ledger
from gateway.ledger.models import AccountCode
from gateway.queue import service as queue
from gateway.queue.models import ItemStatus
from gateway.reconcile.models import OpenItem
from tests.recon_support import Nights

STRANGER = "6230000099998888"


@pytest.fixture
def nights(tmp_path: Path) -> Iterator[Nights]:
    built = Nights(tmp_path)
    yield built
    built.close()


def test_the_original_stays_open_and_is_booked_on_its_own_item(nights: Nights) -> None:
    one, two = (
        nights.line(nights.sub_b, 50_000, counterparty_account=STRANGER, bank_transaction_id="D1")
        for _ in range(2)
    )
    nights.night([one, two], closing_delta={nights.sub_b: -50_000})  # printed twice, booked once
    duplicate, original = nights.item("duplicate"), nights.item("unmatched_bank")
    (line,) = queue.item_line_ids(original)
    session = nights.settle.fresh()
    queue.dismiss(session, duplicate.id, actor="alice", justification="银行确认为重复打印")
    session.commit()
    still_open = session.scalars(select(OpenItem.item_id).where(OpenItem.item_type == "line"))
    assert list(still_open) == [line]

    queue.resolve_adjusting_entry(session, original.id, actor="alice", reason="不明入账，暂记")
    session.commit()
    assert ledger.balance(session, nights.world.b.id, AccountCode.SUSPENSE) == -50_000
    after = nights.night()
    assert after.exceptions == ()
    assert sorted(after.queue.confirmed) == sorted([duplicate.id, original.id])
    for kind in ("duplicate", "unmatched_bank"):
        assert nights.item(kind).status is ItemStatus.CLOSED
