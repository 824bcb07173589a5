"""The audit log: hash-chained (one chain per association plus a global one), written with the
change it records, append-only, and ``huzhu audit verify`` names any edited or deleted row."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from gateway.audit import service as audit
from gateway.audit.models import AuditEvent
from gateway.cli import app
from gateway.errors import RuleViolation
from gateway.testing import World


def _unguard(session: Session) -> None:
    """Play the attacker with database rights: switch off the append-only triggers."""
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("DROP TRIGGER audit_events_no_update"))
        session.execute(text("DROP TRIGGER audit_events_no_delete"))
    else:
        session.execute(text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only"))
    session.commit()


def _event(session: Session, chain: str, seq: int) -> AuditEvent:
    found = session.scalar(
        select(AuditEvent).where(AuditEvent.chain == chain, AuditEvent.seq == seq)
    )
    assert found is not None
    return found


def test_a_fresh_chain_verifies(world: World, session: Session) -> None:
    report = audit.verify(session)
    assert report.ok, report.problems
    assert report.checked == session.scalar(select(func.count()).select_from(AuditEvent))
    assert report.checked > 10
    # the global chain (the bank, in no county), the county's and one per association
    assert report.chains == 4


def test_association_events_are_chained_per_association(world: World, session: Session) -> None:
    chain = audit.association_chain(world.a.id)
    seqs = session.scalars(
        select(AuditEvent.seq).where(AuditEvent.chain == chain).order_by(AuditEvent.seq)
    ).all()
    assert list(seqs) == list(range(1, len(seqs) + 1))
    assert _event(session, chain, 1).action == "association.create"


def test_an_edited_row_is_named(world: World, session: Session) -> None:
    chain = audit.association_chain(world.a.id)
    target = _event(session, chain, 3).id
    _unguard(session)
    session.execute(text("UPDATE audit_events SET actor = 'mallory' WHERE id = :i"), {"i": target})
    session.commit()
    report = audit.verify(session)
    assert [(p.chain, p.seq, p.reason_en) for p in report.problems] == [
        (chain, 3, "the event was altered: its hash does not match its content")
    ]


def test_an_edited_payload_is_named(world: World, session: Session) -> None:
    chain = audit.association_chain(world.b.id)
    event = _event(session, chain, 5)
    _unguard(session)
    forged = {**event.payload, "amount_fen": 1}
    session.execute(update(AuditEvent).where(AuditEvent.id == event.id).values(payload=forged))
    session.commit()
    assert [(p.chain, p.seq) for p in audit.verify(session).problems] == [(chain, 5)]


def test_a_deleted_row_is_named(world: World, session: Session) -> None:
    chain = audit.association_chain(world.a.id)
    target = _event(session, chain, 4).id
    _unguard(session)
    session.execute(text("DELETE FROM audit_events WHERE id = :i"), {"i": target})
    session.commit()
    problems = audit.verify(session).problems
    assert (problems[0].chain, problems[0].seq) == (chain, 4)
    assert problems[0].reason_en == "events 4..4 are missing (deleted)"
    assert any(p.seq == 5 and "chain is broken" in p.reason_en for p in problems)


def test_a_deleted_tail_is_noticed(world: World, session: Session) -> None:
    chain = audit.county_chain(world.county.id)
    last = session.scalar(select(func.max(AuditEvent.seq)).where(AuditEvent.chain == chain))
    _unguard(session)
    session.execute(
        text("DELETE FROM audit_events WHERE chain = :c AND seq = :s"), {"c": chain, "s": last}
    )
    session.commit()
    problems = audit.verify(session).problems
    assert len(problems) == 1
    assert problems[0].chain == chain
    assert f"names event {last}" in problems[0].reason_en


def test_rows_cannot_be_changed_in_place(world: World, session: Session) -> None:
    with pytest.raises(DBAPIError, match="append-only"):
        session.execute(text("DELETE FROM audit_events WHERE seq = 1"))
    session.rollback()


def test_a_refused_change_leaves_no_event(world: World, session: Session) -> None:
    before = session.scalar(select(func.count()).select_from(AuditEvent))
    with pytest.raises(RuleViolation):
        world.apply(world.members_a[0], amount_fen=99_000_000)
    session.rollback()
    assert session.scalar(select(func.count()).select_from(AuditEvent)) == before
    assert audit.verify(session).ok


def test_verify_command_exits_nonzero_naming_the_row(
    world: World, session: Session, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUZHU_DATABASE_URL", db_url)
    monkeypatch.setenv("HUZHU_FIELD_KEY_FILE", str(tmp_path / "k"))
    runner = CliRunner()
    ok = runner.invoke(app, ["audit", "verify"])
    assert ok.exit_code == 0, ok.output
    assert "intact" in ok.output
    chain = audit.association_chain(world.b.id)
    target = _event(session, chain, 7).id
    _unguard(session)
    session.execute(text("UPDATE audit_events SET action = 'x' WHERE id = :i"), {"i": target})
    session.commit()
    broken = runner.invoke(app, ["audit", "verify"])
    assert broken.exit_code == 1
    assert f"{chain} seq 7" in broken.output
    assert "BROKEN" in broken.output


@pytest.mark.postgres
@pytest.mark.parametrize("db_backend", ["postgres"], indirect=True)
def test_concurrent_appends_never_fork_a_chain(
    world: World, session_factory: sessionmaker[Session]
) -> None:
    errors: list[BaseException] = []
    start = threading.Barrier(3)

    def append(worker: int) -> None:
        try:
            start.wait(timeout=10)
            for n in range(15):
                with session_factory() as s, s.begin():
                    audit.record(s, actor=f"w{worker}", action="test", object_type="t", object_id=n)
        except BaseException as exc:  # reported to the main thread below
            errors.append(exc)

    threads = [threading.Thread(target=append, args=(w,)) for w in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    with session_factory() as s:
        report = audit.verify(s)
        assert report.ok, report.problems
        assert s.scalar(select(func.count()).where(AuditEvent.action == "test")) == 45


@pytest.mark.postgres
@pytest.mark.parametrize("db_backend", ["postgres"], indirect=True)
def test_a_new_chain_is_started_once_by_concurrent_first_appends(
    world: World, session_factory: sessionmaker[Session]
) -> None:
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def first_append(worker: int) -> None:
        try:
            with session_factory() as s, s.begin():
                start.wait(timeout=10)
                audit.record(
                    s, actor=f"w{worker}", action="t", object_type="t", object_id=1, chain="new"
                )
                time.sleep(0.2)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=first_append, args=(w,)) for w in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    with session_factory() as s:
        assert audit.verify(s).ok
        seqs = s.scalars(select(AuditEvent.seq).where(AuditEvent.chain == "new")).all()
        assert sorted(seqs) == [1, 2]


def test_many_events_go_to_the_same_chains_as_one_at_a_time(world: World, session: Session) -> None:
    """A global-chain event with a county lands on that county's chain whether it is recorded
    alone or with others; one with no county stays on the global chain."""
    county = audit.county_chain(world.county.id)
    before = {
        chain: session.scalar(select(func.count()).where(AuditEvent.chain == chain)) or 0
        for chain in (county, audit.GLOBAL_CHAIN)
    }
    written = audit.record_many(
        session,
        [
            audit.AuditEntry(
                audit.GLOBAL_CHAIN, "test", "test.by_id", "thing", 1, {}, world.county.id
            ),
            audit.AuditEntry(
                audit.GLOBAL_CHAIN, "test", "test.by_object", "county", world.county.id
            ),
            audit.AuditEntry(audit.GLOBAL_CHAIN, "test", "test.nowhere", "thing", 2),
        ],
    )
    session.commit()
    assert written == 3
    events = {
        e.action: e.chain
        for e in session.scalars(select(AuditEvent).where(AuditEvent.actor == "test"))
    }
    assert events == {
        "test.by_id": county,
        "test.by_object": county,
        "test.nowhere": audit.GLOBAL_CHAIN,
    }
    after = {
        chain: session.scalar(select(func.count()).where(AuditEvent.chain == chain))
        for chain in (county, audit.GLOBAL_CHAIN)
    }
    assert after[county] == before[county] + 2
    assert after[audit.GLOBAL_CHAIN] == before[audit.GLOBAL_CHAIN] + 1
    report = audit.verify(session)
    assert report.ok, report.problems
