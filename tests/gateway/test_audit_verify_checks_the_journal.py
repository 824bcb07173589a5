"""``huzhu audit verify`` compares every journal transaction with the audit event that recorded
it: one posted alone (``ledger.post``) or with others (``ledger.post_many``, as a bank's result
file is booked). A transaction edited, moved to another date or association, deleted, or written
behind the audit log is named by table, id and field, with the stored and the audited value."""

from __future__ import annotations

import uuid
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import delete, insert, select, text, update
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from gateway.audit import crosscheck
from gateway.audit import service as audit
from gateway.cli import app
from gateway.ledger import service as ledger
from gateway.ledger.models import AccountCode, JournalLeg, JournalTransaction, TransactionKind
from gateway.testing import World

DAY = date(2024, 7, 3)
JOURNAL = ("journal_transactions", "journal_legs")


def _unguard(session: Session, *tables: str) -> None:
    """Play the attacker with database rights: switch off the tables' append-only triggers."""
    if session.get_bind().dialect.name == "postgresql":
        # the postings' deferred balance checks run now: a table with pending ones is not altered
        session.execute(text("SET CONSTRAINTS ALL IMMEDIATE"))
    for table in tables:
        if session.get_bind().dialect.name == "sqlite":
            session.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_update"))
            session.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_delete"))
        else:
            session.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER {table}_append_only"))
    session.commit()


def _repayment(session: Session, world: World, amount_fen: int = 100_000) -> uuid.UUID:
    """A repayment posted alone: Dr bank, Cr loans receivable and fee income."""
    posted = ledger.post(
        session,
        association_id=world.a.id,
        business_date=DAY,
        description="收回借款 test",
        kind=TransactionKind.REPAYMENT,
        legs=[
            ledger.Posting.debit(AccountCode.BANK_SUB_ACCOUNT, amount_fen + 600),
            ledger.Posting.credit(AccountCode.LOANS_RECEIVABLE, amount_fen),
            ledger.Posting.credit(AccountCode.FEE_INCOME, 600),
        ],
        external_ref="RPY-1",
    )
    session.commit()
    return posted.id


def _posted_together(session: Session, world: World) -> list[uuid.UUID]:
    """Three disbursements posted as one set (one audit event per association)."""
    requests = [
        ledger.PostingRequest(
            association_id=association.id,
            business_date=DAY,
            description=f"发放借款 {n}",
            kind=TransactionKind.DISBURSEMENT,
            legs=[
                ledger.Posting.debit(AccountCode.LOANS_RECEIVABLE, 200_000 + n),
                ledger.Posting.credit(AccountCode.BANK_SUB_ACCOUNT, 200_000 + n),
            ],
            external_ref=f"DSB-{n}",
        )
        for n, association in enumerate((world.a, world.a, world.b))
    ]
    ids = ledger.post_many(session, requests)
    session.commit()
    return ids


def _record_problems(
    report: audit.VerifyReport,
) -> list[tuple[str, str, str, str | None, str | None]]:
    return [(p.table, p.row_id, p.field, p.stored, p.expected) for p in report.record_problems]


def _only_journal_problems(report: audit.VerifyReport) -> None:
    assert report.problems == []


def test_an_untouched_journal_agrees_with_its_audit_events(world: World, session: Session) -> None:
    _repayment(session, world)
    _posted_together(session, world)
    report = audit.verify(session)
    assert report.ok, [str(p) for p in report.listed]
    assert report.transactions >= 4
    assert report.notes == []


def test_an_amount_edited_on_the_legs_and_the_header_together_is_named(
    world: World, session: Session
) -> None:
    txn = _repayment(session, world)
    _unguard(session, *JOURNAL)
    # 1,000 yuan more on both sides and the header: the books still balance
    session.execute(
        update(JournalLeg)
        .where(JournalLeg.transaction_id == txn, JournalLeg.debit_fen > 0)
        .values(debit_fen=JournalLeg.debit_fen + 100_000)
    )
    session.execute(
        update(JournalLeg)
        .where(JournalLeg.transaction_id == txn, JournalLeg.credit_fen == 100_000)
        .values(credit_fen=200_000)
    )
    session.execute(
        update(JournalTransaction)
        .where(JournalTransaction.id == txn)
        .values(total_fen=JournalTransaction.total_fen + 100_000)
    )
    session.commit()
    report = audit.verify(session)
    assert not report.ok
    _only_journal_problems(report)
    assert _record_problems(report) == [
        ("journal_transactions", str(txn), "total_fen", "200600", "100600"),
        (
            "journal_legs",
            f"of {txn}",
            "legs (fen)",
            "1002 Dr 200600, 1301 Cr 200000, 4001 Cr 600",
            "1002 Dr 100600, 1301 Cr 100000, 4001 Cr 600",
        ),
    ]
    event = report.record_problems[0]
    assert event.event is not None
    assert event.event.startswith(f"association:{world.a.id} seq ")


def test_an_amount_edited_in_a_set_posted_together_is_named(world: World, session: Session) -> None:
    first, second, _ = _posted_together(session, world)
    _unguard(session, *JOURNAL)
    for txn in (second,):
        session.execute(
            update(JournalLeg)
            .where(JournalLeg.transaction_id == txn)
            .values(
                debit_fen=JournalLeg.debit_fen * 10,
                credit_fen=JournalLeg.credit_fen * 10,
            )
        )
        session.execute(
            update(JournalTransaction)
            .where(JournalTransaction.id == txn)
            .values(total_fen=JournalTransaction.total_fen * 10)
        )
    session.commit()
    report = audit.verify(session)
    _only_journal_problems(report)
    assert _record_problems(report) == [
        ("journal_transactions", str(second), "total_fen", "2000010", "200001"),
        (
            "journal_legs",
            f"of {second}",
            "legs (fen)",
            "1002 Cr 2000010, 1301 Dr 2000010",
            "1002 Cr 200001, 1301 Dr 200001",
        ),
    ]
    assert str(first) not in str(report.record_problems)


@pytest.mark.parametrize("alone", [True, False], ids=["posted alone", "posted with others"])
def test_a_deleted_transaction_is_named(world: World, session: Session, alone: bool) -> None:
    txn = _repayment(session, world) if alone else _posted_together(session, world)[2]
    _unguard(session, *JOURNAL)
    session.execute(delete(JournalLeg).where(JournalLeg.transaction_id == txn))
    session.execute(delete(JournalTransaction).where(JournalTransaction.id == txn))
    session.commit()
    report = audit.verify(session)
    _only_journal_problems(report)
    (problem,) = report.record_problems
    assert (problem.table, problem.row_id, problem.field) == ("journal_transactions", str(txn), "")
    assert "deleted" in problem.reason_en
    assert problem.stored is None
    assert problem.expected is not None
    assert "total_fen" in problem.expected
    assert str(txn) in str(problem)
    assert "被删除" in str(problem)


def test_a_transaction_moved_to_another_business_date_is_named(
    world: World, session: Session
) -> None:
    txn = _repayment(session, world)
    _unguard(session, *JOURNAL)
    session.execute(
        update(JournalTransaction)
        .where(JournalTransaction.id == txn)
        .values(business_date=date(2024, 12, 31))
    )
    session.commit()
    report = audit.verify(session)
    _only_journal_problems(report)
    assert _record_problems(report) == [
        ("journal_transactions", str(txn), "business_date", "2024-12-31", "2024-07-03")
    ]


def test_a_transaction_moved_to_another_association_is_named(
    world: World, session: Session
) -> None:
    txn = _posted_together(session, world)[0]
    _unguard(session, *JOURNAL)
    session.execute(
        update(JournalTransaction)
        .where(JournalTransaction.id == txn)
        .values(association_id=world.b.id)
    )
    session.commit()
    problems = _record_problems(audit.verify(session))
    assert (
        "journal_transactions",
        str(txn),
        "association_id",
        str(world.b.id),
        str(world.a.id),
    ) in (problems)
    # its legs still name association a's accounts
    legs = session.scalars(
        select(JournalLeg.id).where(JournalLeg.transaction_id == txn).order_by(JournalLeg.id)
    )
    assert [p[:3] for p in problems if p[0] == "journal_legs"] == [
        ("journal_legs", str(leg), "account_id") for leg in legs
    ]


def test_a_transaction_written_behind_the_audit_log_is_named(
    world: World, session: Session
) -> None:
    """Legs and header inserted directly, balanced: the triggers let it in, no event records it."""
    accounts = ledger.open_chart(session, world.a.id)
    forged = uuid.uuid4()
    session.execute(
        insert(JournalLeg),
        [
            {
                "transaction_id": forged,
                "account_id": accounts[AccountCode.SUSPENSE].id,
                "debit_fen": 500_000,
                "credit_fen": 0,
            },
            {
                "transaction_id": forged,
                "account_id": accounts[AccountCode.BANK_SUB_ACCOUNT].id,
                "debit_fen": 0,
                "credit_fen": 500_000,
            },
        ],
    )
    session.execute(
        insert(JournalTransaction).values(
            id=forged,
            association_id=world.a.id,
            business_date=DAY,
            description="x",
            kind="adjustment",
            channel="internal",
            cash_flagged=False,
            total_fen=500_000,
        )
    )
    session.commit()
    report = audit.verify(session)
    _only_journal_problems(report)
    (problem,) = report.record_problems
    assert (problem.table, problem.row_id) == ("journal_transactions", str(forged))
    assert "no audit event" in problem.reason_en
    assert problem.stored == f"association {world.a.id} 2024-07-03 adjustment total_fen 500000"


def test_problems_beyond_the_listed_ones_are_counted(
    world: World, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = _posted_together(session, world)
    _unguard(session, *JOURNAL)
    session.execute(
        update(JournalTransaction)
        .where(JournalTransaction.id.in_(ids))
        .values(business_date=date(2025, 1, 1))
    )
    session.commit()
    monkeypatch.setattr(crosscheck, "LISTED_LIMIT", 2)
    report = audit.verify(session)
    assert len(report.record_problems) == 2
    assert report.unlisted == 1
    assert not report.ok


def test_verify_command_names_the_edited_transaction_and_exits_nonzero(
    world: World, session: Session, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUZHU_DATABASE_URL", db_url)
    monkeypatch.setenv("HUZHU_FIELD_KEY_FILE", str(tmp_path / "k"))
    txn = _repayment(session, world)
    runner = CliRunner()
    ok = runner.invoke(app, ["audit", "verify"], env={"COLUMNS": "300"})
    assert ok.exit_code == 0, ok.output
    assert "intact" in ok.output
    assert "journal transactions" in ok.output
    _unguard(session, *JOURNAL)
    session.execute(
        update(JournalTransaction)
        .where(JournalTransaction.id == txn)
        .values(business_date=date(2024, 12, 31))
    )
    session.commit()
    broken = runner.invoke(app, ["audit", "verify"], env={"COLUMNS": "300"})
    assert broken.exit_code == 1
    assert f"journal_transactions {txn} business_date" in broken.output
    assert "记账日期与审计记录不符" in broken.output
    assert "stored 2024-12-31" in broken.output
    assert "audited 2024-07-03" in broken.output
    assert "BROKEN" in broken.output
