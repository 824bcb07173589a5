"""The database keeps the audit chain heads moving forward only and the stored daily statements
as they were stored (migration 0018): a head moved back or deleted, and a run's statement,
figures or link changed or the run deleted, are refused; appending events and a run filling in
its counts still work."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from gateway.audit import service as audit
from gateway.audit.models import AuditChainHead
from gateway.reconcile.models import ReconRun
from gateway.testing import World


def _head(session: Session, chain: str) -> tuple[int, str]:
    row = session.execute(
        select(AuditChainHead.last_seq, AuditChainHead.last_hash).where(
            AuditChainHead.chain == chain
        )
    ).one()
    return int(row[0]), str(row[1])


def test_a_chain_head_cannot_be_moved_back(world: World, session: Session) -> None:
    chain = audit.association_chain(world.a.id)
    before = _head(session, chain)
    with pytest.raises(DBAPIError, match="only move forward"), session.begin_nested():
        session.execute(
            update(AuditChainHead)
            .where(AuditChainHead.chain == chain)
            .values(last_seq=AuditChainHead.last_seq - 1, last_hash="0" * 64)
        )
    with pytest.raises(DBAPIError, match="only move forward"), session.begin_nested():
        session.execute(
            update(AuditChainHead).where(AuditChainHead.chain == chain).values(last_hash="1" * 64)
        )
    assert _head(session, chain) == before


def test_a_chain_head_cannot_be_deleted(world: World, session: Session) -> None:
    chain = audit.association_chain(world.a.id)
    with pytest.raises(DBAPIError, match="never deleted"), session.begin_nested():
        session.execute(delete(AuditChainHead).where(AuditChainHead.chain == chain))
    assert _head(session, chain)[0] > 0


def test_appending_still_moves_the_heads_forward(world: World, session: Session) -> None:
    chain = audit.association_chain(world.a.id)
    seq, _ = _head(session, chain)
    audit.record(session, actor="t", action="t.one", object_type="t", object_id=1, chain=chain)
    audit.record_many(session, [audit.AuditEntry(chain, "t", "t.many", "t", n) for n in range(3)])
    session.commit()
    assert _head(session, chain)[0] == seq + 4
    assert audit.verify(session).ok


def _run(session: Session, world: World) -> ReconRun:
    run = ReconRun(
        special_account_id=world.a.special_account_id,
        business_date=date(2024, 7, 1),
        has_statement=False,
        previous_hash="",
        statement_hash="0" * 64,
        statement_json="{}",
    )
    session.add(run)
    session.flush()
    return run


@pytest.mark.parametrize(
    "change",
    [
        {"statement_json": '{"x":1}'},
        {"statement_hash": "1" * 64},
        {"previous_hash": "deadbeef"},
        {"closing_fen": 1},
        {"business_date": date(2024, 7, 2)},
    ],
    ids=lambda change: next(iter(change)),
)
def test_a_stored_daily_statement_cannot_be_changed(
    world: World, session: Session, change: dict[str, object]
) -> None:
    run_id = _run(session, world).id
    with pytest.raises(DBAPIError, match="never changes"), session.begin_nested():
        session.execute(update(ReconRun).where(ReconRun.id == run_id).values(**change))


def test_a_stored_daily_statement_cannot_be_deleted(world: World, session: Session) -> None:
    run_id = _run(session, world).id
    with pytest.raises(DBAPIError, match="never"), session.begin_nested():
        session.execute(delete(ReconRun).where(ReconRun.id == run_id))


def test_a_run_still_fills_in_its_counts_after_its_postings(world: World, session: Session) -> None:
    run = _run(session, world)
    run.matched_count = 3
    run.exception_count = 1
    run.auto_posted_count = 1
    run.open_line_count = 2
    run.open_entry_count = 2
    session.flush()
    session.expire(run)
    assert (run.matched_count, run.open_entry_count) == (3, 2)
