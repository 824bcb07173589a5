"""A 377.65 repayment comes in on association b's sub-account with nothing in b's books to
answer it; association a has a 377.65 donation in its books the bank has not shown. The two
are offered side by side for a manual match, each saying whose money it is; matched together
they would leave each village's books 377.65 off their own sub-account, so the match is
refused, naming both associations and what is theirs, and nothing is taken off the open
items. Matched with b's own entry once b books the repayment, the next night confirms it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from gateway.errors import RuleViolation
from gateway.ledger import service as ledger
from gateway.ledger.models import AccountCode
from gateway.queue import service as queue
from gateway.queue.models import ItemStatus, Resolution
from gateway.reconcile.models import ManualMatch, OpenItem
from gateway.reconcile.source import entry_id_of
from tests.recon_support import Nights

AMOUNT = 37_765


@pytest.fixture
def nights(tmp_path: Path) -> Iterator[Nights]:
    built = Nights(tmp_path)
    yield built
    built.close()


def _booked(nights: Nights, association_id: int, credit: AccountCode, text: str) -> str:
    """A 377.65 receipt into the association's sub-account, in its books; its entry id."""
    session = nights.settle.fresh()
    posted = ledger.post(
        session,
        association_id=association_id,
        business_date=nights.day,
        description=text,
        kind="adjustment",
        legs=[
            ledger.Posting.debit(AccountCode.BANK_SUB_ACCOUNT, AMOUNT),
            ledger.Posting.credit(credit, AMOUNT),
        ],
    )
    session.commit()
    return entry_id_of(posted.id)


def _open(nights: Nights) -> set[str]:
    return set(nights.settle.fresh().scalars(select(OpenItem.item_id)))


def test_a_line_of_one_association_is_not_matched_with_another_associations_entry(
    nights: Nights,
) -> None:
    world = nights.world
    repaid = nights.line(
        nights.sub_b, AMOUNT, counterparty_account="6230000099998888", remittance="还款 借款"
    )
    nights.night([repaid])
    item = nights.item("unmatched_bank")
    (line,) = queue.item_line_ids(item)
    donation = _booked(nights, world.a.id, AccountCode.DONATIONS, "收到捐赠资金 DON-1")
    nights.night()  # the donation is among the open entries now
    before = _open(nights)
    assert {line, donation} <= before

    session = nights.settle.fresh()
    shown = {c.item_id: c for c in queue.match_candidates(session, item)}
    assert shown[line].association == f"{world.b.code} {world.b.name}"
    assert shown[donation].association == f"{world.a.code} {world.a.name}"

    with pytest.raises(RuleViolation) as refused:
        queue.resolve_manual_match(
            session, item.id, actor="alice", line_ids=[line], entry_ids=[donation], note="金额一致"
        )
    assert refused.value.code == "match_across_associations"
    zh, en = refused.value.message_zh, refused.value.message_en
    assert f"{world.a.code} {world.a.name}：账务" in zh
    assert "+377.65 收到捐赠资金 DON-1" in zh
    assert f"{world.b.code} {world.b.name}：银行流水" in zh
    assert "+377.65 还款 借款" in zh
    assert "不得跨村" in zh
    assert world.a.code in en
    assert world.b.code in en
    for message in (zh, en):
        assert line not in message
        assert donation not in message
    session.rollback()
    assert _open(nights) == before
    assert session.scalar(select(func.count()).select_from(ManualMatch)) == 0
    assert queue.get_item(session, item.id).status is ItemStatus.OPEN

    # b books the repayment: the line is matched with b's own entry, and the night confirms it
    repayment = _booked(nights, world.b.id, AccountCode.SUSPENSE, "收到还款，待查借款")
    nights.night()  # b's entry is among the open entries now
    session = nights.settle.fresh()
    queue.resolve_manual_match(
        session, item.id, actor="alice", line_ids=[line], entry_ids=[repayment], note="b 的还款"
    )
    session.commit()
    after = nights.night()
    assert after.queue.confirmed == [item.id]
    assert "balance_break" not in after.kinds
    closed = nights.item("unmatched_bank")
    assert (closed.status, closed.resolution) == (ItemStatus.CLOSED, Resolution.MANUAL_MATCH)
    assert donation in _open(nights)  # a's donation still waits for its own bank line
