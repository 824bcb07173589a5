"""What the second person writes when approving (which receipt they checked, say) is kept in
the item's history and in the audit log, for a write-off and for a large adjusting entry."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from gateway.audit.models import AuditEvent
from gateway.ledger.models import AccountCode
from gateway.queue import service as queue
from tests.recon_support import Nights

CHECKED = "已核对银行回单第88号"


@pytest.fixture
def nights(tmp_path: Path) -> Iterator[Nights]:
    built = Nights(tmp_path)
    yield built
    built.close()


def _approval(nights: Nights, item_id: int, action: str) -> tuple[str, dict[str, object]]:
    """The approval's note in the item's history and its audit event's payload."""
    session = nights.settle.fresh()
    (event,) = [e for e in queue.history(session, item_id) if e.action == action]
    audited = session.scalars(
        select(AuditEvent).where(
            AuditEvent.object_type == "queue_item",
            AuditEvent.object_id == str(item_id),
            AuditEvent.action == f"queue.{action}",
        )
    ).one()
    return event.note, audited.payload


def test_the_approvers_note_on_a_write_off_is_kept(nights: Nights) -> None:
    taken = nights.line(nights.sub_a, 30_000, credit=False, counterparty_account="6230000011112222")
    nights.night([taken])
    item = nights.item("unmatched_bank")
    session = nights.settle.fresh()
    queue.request_write_off(session, item.id, actor="alice", note="冒名转出，无法追回")
    session.commit()
    session = nights.settle.fresh()
    queue.review(session, item.id, actor="bob", approve=True, note=f"  {CHECKED} ", on=nights.day)
    session.commit()

    note, payload = _approval(nights, item.id, "write_off_approved")
    assert note == CHECKED
    assert payload["review_note"] == CHECKED
    assert payload["reason"] == "冒名转出，无法追回"  # the request's grounds stay beside it


def test_the_approvers_note_on_a_large_adjusting_entry_is_kept(nights: Nights) -> None:
    cash = nights.line(nights.sub_a, 12_000, credit=False, bank_transaction_code="CAMT/CNTR/CWDL")
    nights.night([cash])
    item = nights.item("village_cash")
    session = nights.settle.fresh()
    queue.resolve_adjusting_entry(
        session,
        item.id,
        actor="alice",
        reason="会计柜面取现，现金已收回入库",
        counter_account=AccountCode.CASH_ON_HAND,
        on=nights.day,
        config=queue.QueueConfig(approval_above_fen=10_000),
    )
    session.commit()
    session = nights.settle.fresh()
    queue.review(session, item.id, actor="bob", approve=True, note=CHECKED)
    session.commit()

    note, payload = _approval(nights, item.id, "adjustment_approved")
    assert (note, payload["review_note"]) == (CHECKED, CHECKED)


def test_an_approval_without_a_note_shows_the_requests_grounds(nights: Nights) -> None:
    taken = nights.line(nights.sub_a, 30_000, credit=False, counterparty_account="6230000011112222")
    nights.night([taken])
    item = nights.item("unmatched_bank")
    session = nights.settle.fresh()
    queue.request_write_off(session, item.id, actor="alice", note="冒名转出，无法追回")
    session.commit()
    session = nights.settle.fresh()
    queue.approve_write_off(session, item.id, actor="bob", on=nights.day)
    session.commit()

    note, payload = _approval(nights, item.id, "write_off_approved")
    assert note == "冒名转出，无法追回"
    assert "review_note" not in payload
