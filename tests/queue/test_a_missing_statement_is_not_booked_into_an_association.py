"""A statement gap (对账单缺失): the bank did not send a day's statement. Its figures are the
whole special account's balance at the last statement against the books, no association's
money, so nothing may be booked for it: an adjusting entry or a write-off is not offered, and
when asked it is refused with what to do (ask the bank for the statement; the item closes when
it comes), never with advice to reassign it first, and still refused once it has been
reassigned to one association. A manual match has nothing to match either. Followed up with
the bank, the item closes when the statement arrives; dismissed, the next night confirms it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from adapters.base import Adapter
from gateway.errors import RuleViolation
from gateway.ledger import service as ledger
from gateway.ledger.models import AccountCode
from gateway.queue import service as queue
from gateway.queue.models import ItemStatus, QueueItem, Resolution
from gateway.reconcile.service import reconcile_account
from tests.recon_support import Nights, store_statement


@pytest.fixture
def nights(tmp_path: Path) -> Iterator[Nights]:
    built = Nights(tmp_path)
    yield built
    built.close()


def _stored_statements(nights: Nights) -> Callable[[str], Adapter]:
    """Day 1 reconciled with its stored statement; returns the bank's adapter by code."""
    adapter = nights.settle.profile.adapter

    def adapter_for(code: str) -> Adapter:
        return adapter

    session = nights.settle.fresh()
    store_statement(session, adapter, nights.statement([]), nights.day + timedelta(days=1))
    reconcile_account(session, nights.special_id, nights.day, adapter_for=adapter_for)
    session.commit()
    nights.day += timedelta(days=1)
    return adapter_for


def _with_figures(nights: Nights, gap: QueueItem) -> QueueItem:
    """The gap with the figures a gap carries once a later statement comes: the special
    account's balance at the last statement against the books (21,000.00 apart)."""
    session = nights.settle.fresh()
    item = queue.get_item(session, gap.id)
    item.expected_fen, item.actual_fen = 278_851_600, 276_751_600
    session.commit()
    return item


def _books(nights: Nights) -> dict[tuple[int, AccountCode], int]:
    session = nights.settle.fresh()
    return {
        (a.id, code): ledger.balance(session, a.id, code)
        for a in (nights.world.a, nights.world.b)
        for code in (AccountCode.BANK_SUB_ACCOUNT, AccountCode.SUSPENSE, AccountCode.WRITE_OFF)
    }


def test_a_missing_statement_is_neither_offered_nor_booked_reassigned_or_not(
    nights: Nights,
) -> None:
    nights.night()
    missing = nights.day
    nights.night(with_statement=False)
    nights.night()
    gap = _with_figures(nights, nights.item("statement_gap"))
    assert gap.subject == f"missing:{missing.isoformat()}"
    gap_id = gap.id
    before = _books(nights)

    session = nights.settle.fresh()
    assert queue.refused_resolutions(session, gap) == {
        "manual_match",
        "adjusting_entry",
        "write_off",
    }
    for reassigned in (False, True):
        if reassigned:  # what the refusal used to advise: it changes nothing
            queue.reassign(
                session, gap.id, actor="alice", association_id=nights.world.a.id, note="试改归"
            )
            session.commit()
            gap = nights.item("statement_gap")
            assert queue.refused_resolutions(session, gap) >= {"adjusting_entry", "write_off"}
        for book in (
            lambda: queue.resolve_adjusting_entry(
                session, gap_id, actor="alice", reason="补记差额"
            ),
            lambda: queue.request_write_off(session, gap_id, actor="alice", note="补记差额"),
        ):
            with pytest.raises(RuleViolation) as refused:
                book()
            assert refused.value.code == "statement_gap_not_bookable"
            assert f"缺少 {missing.isoformat()} 的银行对账单" in refused.value.message_zh
            assert "请向银行索取该日对账单" in refused.value.message_zh
            assert "自动关闭" in refused.value.message_zh
            assert "改归" not in refused.value.message_zh
            assert "reassign" not in refused.value.message_en
            session.rollback()
    with pytest.raises(RuleViolation) as refused:
        queue.resolve_manual_match(session, gap.id, actor="alice", note="x")
    assert refused.value.code == "statement_not_matchable"
    session.rollback()
    assert _books(nights) == before
    assert nights.item("statement_gap").status is ItemStatus.OPEN


def test_a_missing_statement_asked_of_the_bank_closes_when_it_comes(nights: Nights) -> None:
    adapter_for = _stored_statements(nights)
    adapter = adapter_for("tbank")
    missing = nights.day
    late = nights.statement([])
    session = nights.settle.fresh()
    reconcile_account(session, nights.special_id, missing, adapter_for=adapter_for)
    session.commit()
    nights.day += timedelta(days=1)
    gap = nights.item("statement_gap")
    session = nights.settle.fresh()
    queue.resolve_bank_error(session, gap.id, actor="alice", note="已请银行补发该日对账单")
    session.commit()

    session = nights.settle.fresh()
    store_statement(session, adapter, late, nights.day + timedelta(days=1))
    store_statement(session, adapter, nights.statement([]), nights.day + timedelta(days=1))
    session.commit()
    after = reconcile_account(session, nights.special_id, nights.day, adapter_for=adapter_for)
    session.commit()
    assert after.kinds == {}
    closed = nights.item("statement_gap")
    assert (closed.status, closed.resolution) == (ItemStatus.CLOSED, Resolution.CLEARED)


def test_a_missing_statement_dismissed_is_confirmed_by_the_next_night(nights: Nights) -> None:
    nights.night()
    nights.night(with_statement=False)
    nights.night()
    gap = _with_figures(nights, nights.item("statement_gap"))
    before = _books(nights)
    session = nights.settle.fresh()
    queue.dismiss(session, gap.id, actor="alice", justification="银行确认当日无交易，不再补发")
    session.commit()
    after = nights.night()
    assert after.exceptions == ()
    assert after.queue.confirmed == [gap.id]
    closed = nights.item("statement_gap")
    assert (closed.status, closed.resolution) == (ItemStatus.CLOSED, Resolution.DISMISS)
    assert _books(nights) == before
