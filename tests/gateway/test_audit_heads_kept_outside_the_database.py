"""The chain heads kept outside the database anchor the audit log: ``huzhu audit heads`` prints
them, and ``huzhu audit verify --against FILE`` reports a chain that has since lost its newest
events or been rewritten, even by someone who could drop the database's guards and set the
head row back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import delete, insert, select, text, update
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from gateway.audit import service as audit
from gateway.audit.models import AuditChainHead, AuditEvent
from gateway.cli import app
from gateway.db import utcnow
from gateway.testing import World


def _unguard(session: Session) -> None:
    """Play the attacker with database rights: switch off the guards of the audit log and of
    its chain heads."""
    if session.get_bind().dialect.name == "sqlite":
        for name in (
            "audit_events_no_update",
            "audit_events_no_delete",
            "audit_chain_heads_forward_only",
            "audit_chain_heads_no_delete",
        ):
            session.execute(text(f"DROP TRIGGER IF EXISTS {name}"))
    else:
        session.execute(text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only"))
        session.execute(text("ALTER TABLE audit_chain_heads DISABLE TRIGGER USER"))
    session.commit()


def _last(session: Session, chain: str) -> AuditEvent:
    found = session.scalars(
        select(AuditEvent).where(AuditEvent.chain == chain).order_by(AuditEvent.seq.desc())
    ).first()
    assert found is not None
    return found


def _drop_newest_and_rewind(session: Session, chain: str) -> int:
    """Delete the chain's newest event and set its head back to the one before; the deleted
    event's number."""
    newest = _last(session, chain)
    seq, prev_hash = newest.seq, newest.prev_hash
    session.execute(delete(AuditEvent).where(AuditEvent.id == newest.id))
    session.execute(
        update(AuditChainHead)
        .where(AuditChainHead.chain == chain)
        .values(last_seq=seq - 1, last_hash=prev_hash)
    )
    session.commit()
    return seq


def test_a_dropped_tail_with_its_head_set_back_is_found_against_the_kept_heads(
    world: World, session: Session
) -> None:
    kept = audit.chain_heads(session)
    chain = audit.association_chain(world.a.id)
    _unguard(session)
    seq = _drop_newest_and_rewind(session, chain)
    # the database alone no longer tells: its head row agrees with the shortened log
    assert audit.verify(session).ok
    report = audit.verify(session, kept=kept)
    assert [(p.chain, p.seq) for p in report.problems] == [(chain, seq)]
    assert f"it had reached event {seq}, the log now ends at {seq - 1}" in str(report.problems[0])
    assert "链比保存的链头导出短" in str(report.problems[0])


def test_a_rewritten_tail_is_found_against_the_kept_heads(world: World, session: Session) -> None:
    """The newest event replaced by another, hashed and linked properly, the head set to it."""
    kept = audit.chain_heads(session)
    chain = audit.association_chain(world.b.id)
    _unguard(session)
    newest = _last(session, chain)
    seq, prev_hash = newest.seq, newest.prev_hash
    session.execute(delete(AuditEvent).where(AuditEvent.id == newest.id))
    at = utcnow()
    digest = audit.event_hash(
        chain=chain,
        prev_hash=prev_hash,
        seq=seq,
        at=at,
        actor="mallory",
        action="member.register",
        object_type="member",
        object_id="999",
        payload={},
    )
    forged = {
        "chain": chain,
        "seq": seq,
        "at": at,
        "actor": "mallory",
        "action": "member.register",
        "object_type": "member",
        "object_id": "999",
        "payload": {},
    }
    session.execute(insert(AuditEvent).values(**forged, prev_hash=prev_hash, hash=digest))
    session.execute(
        update(AuditChainHead).where(AuditChainHead.chain == chain).values(last_hash=digest)
    )
    session.commit()
    assert audit.verify(session).ok
    report = audit.verify(session, kept=kept)
    assert [(p.chain, p.seq) for p in report.problems] == [(chain, seq)]
    assert "the chain was rewritten" in str(report.problems[0])


def test_a_chain_grown_since_its_head_was_kept_verifies(world: World, session: Session) -> None:
    kept = audit.chain_heads(session)
    chain = audit.association_chain(world.a.id)
    audit.record(session, actor="t", action="t.later", object_type="t", object_id=1, chain=chain)
    audit.record(session, actor="t", action="t.new", object_type="t", object_id=2, chain="new")
    session.commit()
    report = audit.verify(session, kept=kept)
    assert report.ok, report.listed
    assert report.kept == len(kept)


def test_the_heads_command_prints_what_verify_against_reads(
    world: World, session: Session, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUZHU_DATABASE_URL", db_url)
    monkeypatch.setenv("HUZHU_FIELD_KEY_FILE", str(tmp_path / "k"))
    runner = CliRunner()
    printed = runner.invoke(app, ["audit", "heads"], env={"COLUMNS": "40"})
    assert printed.exit_code == 0, printed.output
    document = json.loads(printed.stdout)
    assert {(h["chain"], h["seq"], h["hash"]) for h in document["heads"]} == {
        (h.chain, h.seq, h.hash) for h in audit.chain_heads(session)
    }
    kept = tmp_path / "heads.json"
    kept.write_text(printed.stdout, encoding="utf-8")

    ok = runner.invoke(app, ["audit", "verify", "--against", str(kept)], env={"COLUMNS": "300"})
    assert ok.exit_code == 0, ok.output
    assert f"{len(document['heads'])} kept chain heads" in ok.output

    chain = audit.county_chain(world.county.id)
    _unguard(session)
    seq = _drop_newest_and_rewind(session, chain)
    assert runner.invoke(app, ["audit", "verify"]).exit_code == 0
    broken = runner.invoke(app, ["audit", "verify", "--against", str(kept)], env={"COLUMNS": "300"})
    assert broken.exit_code == 1
    assert f"audit event {chain} seq {seq}: 链比保存的链头导出短" in broken.output
    assert "BROKEN" in broken.output


def test_a_file_that_is_no_export_of_heads_is_refused(
    world: World, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUZHU_DATABASE_URL", db_url)
    monkeypatch.setenv("HUZHU_FIELD_KEY_FILE", str(tmp_path / "k"))
    runner = CliRunner()
    wrong = tmp_path / "wrong.json"
    wrong.write_text('{"chains": []}', encoding="utf-8")
    refused = runner.invoke(app, ["audit", "verify", "--against", str(wrong)])
    assert refused.exit_code == 1
    assert "不是 huzhu audit heads 导出的链头文件" in refused.output
    missing = runner.invoke(app, ["audit", "verify", "--against", str(tmp_path / "none.json")])
    assert missing.exit_code == 1
    assert "无法读取链头文件" in missing.output
