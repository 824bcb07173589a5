"""``huzhu audit verify`` checks the stored daily reconciliation statements: each one hashes to
its ``statement_hash``, its figures are the statement's, it agrees with the ``reconcile.run``
event that recorded it, and it links to the previous stored day of its special account. An edited
statement, an overwritten link and a deleted day are named by run, field and both values; an
empty link stored before the chain covered an account's first nights without a statement, which
its audit event recorded empty too, is a note and not a problem."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from gateway.audit import service as audit
from gateway.cli import app
from gateway.org.models import SpecialAccount
from gateway.reconcile.models import ReconRun
from reconciliation.statement import DailyStatement, StatementLine
from tests.recon_support import ACCOUNT, ON_EACH_DATABASE, Nights

pytestmark = ON_EACH_DATABASE


@dataclass(frozen=True)
class Day:
    """A stored run as it was before the test tampered with it."""

    id: int
    closing_fen: int | None
    statement_hash: str
    statement_json: str


def _four_nights(nights: Nights) -> list[Day]:
    nights.night()
    nights.night()
    nights.night(with_statement=False)
    nights.night()
    runs = nights.settle.fresh().scalars(select(ReconRun).order_by(ReconRun.business_date))
    return [Day(r.id, r.closing_fen, r.statement_hash, r.statement_json) for r in runs]


def _unguard(session: Session) -> None:
    """Play the attacker with database rights: switch off the guards of ``recon_runs``."""
    if session.get_bind().dialect.name == "sqlite":
        for name in ("recon_runs_no_delete", "recon_runs_sealed"):
            session.execute(text(f"DROP TRIGGER IF EXISTS {name}"))
    else:
        session.execute(text("ALTER TABLE recon_runs DISABLE TRIGGER USER"))
    session.commit()


def _problems(report: audit.VerifyReport) -> list[tuple[str, str, str, str | None, str | None]]:
    assert report.problems == []
    return [(p.table, p.row_id, p.field, p.stored, p.expected) for p in report.record_problems]


def test_stored_statements_verify(nights: Nights) -> None:
    runs = _four_nights(nights)
    report = audit.verify(nights.settle.fresh())
    assert report.ok, [str(p) for p in report.listed]
    assert report.statements == len(runs) == 4
    assert report.notes == []


def test_a_statement_edited_with_its_hash_left_is_named(nights: Nights) -> None:
    second = _four_nights(nights)[1]
    session = nights.settle.fresh()
    _unguard(session)
    assert second.closing_fen is not None
    closing = second.closing_fen
    edited = second.statement_json.replace(
        f'"closing_fen":{closing}', f'"closing_fen":{closing + 100_000}', 1
    )
    assert edited != second.statement_json
    session.execute(
        update(ReconRun)
        .where(ReconRun.id == second.id)
        .values(closing_fen=closing + 100_000, statement_json=edited)
    )
    session.commit()
    report = audit.verify(nights.settle.fresh())
    assert _problems(report) == [
        (
            "recon_runs",
            str(second.id),
            "statement_json",
            second.statement_hash,
            hashlib.sha256(edited.encode()).hexdigest(),
        )
    ]
    assert "内容被改动" in str(report.record_problems[0])


def test_a_figure_edited_beside_its_statement_is_named(nights: Nights) -> None:
    """The next night opens from the stored closing: edited alone, it no longer is the
    statement's."""
    second = _four_nights(nights)[1]
    session = nights.settle.fresh()
    _unguard(session)
    closing = second.closing_fen
    assert closing is not None
    session.execute(
        update(ReconRun).where(ReconRun.id == second.id).values(closing_fen=closing + 100_000)
    )
    session.commit()
    assert _problems(audit.verify(nights.settle.fresh())) == [
        ("recon_runs", str(second.id), "closing_fen", str(closing + 100_000), str(closing))
    ]


def test_a_statement_rewritten_and_hashed_again_is_named(nights: Nights) -> None:
    """An attacker who hashes the edited statement again: its audit event and the next day's
    link still hold the old hash."""
    _first, second, third, _ = _four_nights(nights)
    session = nights.settle.fresh()
    _unguard(session)
    assert second.closing_fen is not None
    closing = second.closing_fen
    edited = second.statement_json.replace(
        f'"closing_fen":{closing}', f'"closing_fen":{closing + 100_000}', 1
    )
    digest = hashlib.sha256(edited.encode()).hexdigest()
    session.execute(
        update(ReconRun)
        .where(ReconRun.id == second.id)
        .values(closing_fen=closing + 100_000, statement_json=edited, statement_hash=digest)
    )
    session.commit()
    problems = _problems(audit.verify(nights.settle.fresh()))
    assert problems == [
        ("recon_runs", str(second.id), "statement_hash", digest, second.statement_hash),
        ("recon_runs", str(third.id), "previous_hash", second.statement_hash, digest),
    ]


def test_an_overwritten_link_is_named(nights: Nights) -> None:
    _first, second, third, _ = _four_nights(nights)
    session = nights.settle.fresh()
    _unguard(session)
    session.execute(
        update(ReconRun).where(ReconRun.id == third.id).values(previous_hash="deadbeef")
    )
    session.commit()
    report = audit.verify(nights.settle.fresh())
    assert [(p[1], p[2], p[3], p[4]) for p in _problems(report)] == [
        # the statement itself, its audit event and the day before all say otherwise
        (str(third.id), "previous_hash", "deadbeef", second.statement_hash),
        (str(third.id), "previous_hash", "deadbeef", second.statement_hash),
        (str(third.id), "previous_hash", "deadbeef", second.statement_hash),
    ]
    assert "对账链断裂" in str(report.record_problems[2])
    assert "chain of daily statements is broken" in str(report.record_problems[2])


def test_a_deleted_day_is_named(nights: Nights) -> None:
    _first, _second, third, fourth = _four_nights(nights)
    session = nights.settle.fresh()
    _unguard(session)
    session.execute(delete(ReconRun).where(ReconRun.id == third.id))
    session.commit()
    report = audit.verify(nights.settle.fresh())
    assert [(p[1], p[2]) for p in _problems(report)] == [
        (str(fourth.id), "previous_hash"),  # links to the deleted day, not to the one before
        (str(third.id), ""),  # its audit event records it
    ]
    assert "deleted" in report.record_problems[1].reason_en
    assert report.statements == 3


def test_the_first_stored_day_linking_to_a_deleted_one_is_named(nights: Nights) -> None:
    first, second, *_ = _four_nights(nights)
    session = nights.settle.fresh()
    _unguard(session)
    session.execute(delete(ReconRun).where(ReconRun.id == first.id))
    session.commit()
    problems = _problems(audit.verify(nights.settle.fresh()))
    assert [(p[1], p[2], p[3], p[4]) for p in problems] == [
        (str(second.id), "previous_hash", first.statement_hash, ""),
        (str(first.id), "", None, problems[1][4]),
    ]


def _old_day(session: Session, nights: Nights, *, audited_link: str) -> ReconRun:
    """A day without a statement stored as the version before the chain covered an account's
    first nights without a statement stored it: an empty link though the day before is stored;
    its audit event records ``audited_link``."""
    special = session.get(SpecialAccount, nights.special_id)
    assert special is not None
    statement = DailyStatement(
        special_account=ACCOUNT,
        business_date=nights.day.isoformat(),
        previous_hash="",
        lines=(StatementLine("*", None, None, None, 0, 0, 0, 0, 0, 0, {}),),
        exception_fingerprints=(),
    )
    run = ReconRun(
        special_account_id=special.id,
        business_date=nights.day,
        has_statement=False,
        previous_hash="",
        statement_hash=statement.digest,
        statement_json=statement.canonical_bytes().decode("utf-8"),
    )
    session.add(run)
    session.flush()
    audit.record(
        session,
        actor="reconciler",
        action="reconcile.run",
        object_type="recon_run",
        object_id=run.id,
        payload={
            "special_account": ACCOUNT,
            "business_date": nights.day.isoformat(),
            "statement_hash": run.statement_hash,
            "previous_hash": audited_link,
        },
    )
    session.commit()
    nights.day += timedelta(days=1)
    return run


def test_an_old_empty_link_its_audit_event_recorded_is_a_note(nights: Nights) -> None:
    nights.night(with_statement=False)
    session = nights.settle.fresh()
    old = _old_day(session, nights, audited_link="")
    nights.night()
    report = audit.verify(nights.settle.fresh())
    assert report.ok, [str(p) for p in report.listed]
    (note,) = report.notes
    assert (note.table, note.row_id, note.field) == ("recon_runs", str(old.id), "previous_hash")
    assert "not tampering" in str(note)


def test_an_empty_link_its_audit_event_did_not_record_is_named(nights: Nights) -> None:
    first = nights.night(with_statement=False)
    session = nights.settle.fresh()
    first_run = session.get(ReconRun, first.run_id)
    assert first_run is not None
    old = _old_day(session, nights, audited_link=first_run.statement_hash)
    problems = _problems(audit.verify(nights.settle.fresh()))
    assert [(p[1], p[2], p[3], p[4]) for p in problems] == [
        (str(old.id), "previous_hash", "", first_run.statement_hash),
        (str(old.id), "previous_hash", "", first_run.statement_hash),
    ]


def test_verify_command_names_the_broken_link(
    nights: Nights, huzhu_env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUZHU_FIELD_KEY_FILE", str(tmp_path / "k"))
    third = _four_nights(nights)[2]
    runner = CliRunner()
    ok = runner.invoke(app, ["audit", "verify"], env={"COLUMNS": "300"})
    assert ok.exit_code == 0, ok.output
    assert "4 daily statements" in ok.output
    session = nights.settle.fresh()
    _unguard(session)
    session.execute(update(ReconRun).where(ReconRun.id == third.id).values(previous_hash="ab"))
    session.commit()
    broken = runner.invoke(app, ["audit", "verify"], env={"COLUMNS": "300"})
    assert broken.exit_code == 1
    assert f"recon_runs {third.id} previous_hash" in broken.output
    assert "stored ab" in broken.output
    assert "BROKEN" in broken.output
