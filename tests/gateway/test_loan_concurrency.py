"""Two council approvals against one sub-account at the same moment can never commit more
than it holds: on PostgreSQL the association row is locked (SELECT ... FOR UPDATE) before the
decision; SQLite has one writer and refuses a write based on a stale read."""

from __future__ import annotations

import threading
import time
from datetime import date, timedelta

import pytest
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from gateway.errors import RuleViolation
from gateway.ledger.models import AccountCode
from gateway.ledger.service import balance
from gateway.loans import service as loans
from gateway.loans.rules import committed_fen
from gateway.testing import World, WorldFactory


def _race(
    session_factory: sessionmaker[Session], ids: list[int], on: date, hold_s: float
) -> dict[int, str]:
    """Approve each loan in its own thread and session at the same moment; each holds its
    decision open for ``hold_s`` before committing. Returns how each one ended."""
    start = threading.Barrier(len(ids))
    outcome: dict[int, str] = {}

    def approve(loan_id: int) -> None:
        try:
            with session_factory() as s:
                start.wait(timeout=10)
                try:
                    loans.council_approve(s, loan_id, on=on, actor=f"council-{loan_id}")
                    # Without serialisation the other approval would read the same free
                    # balance during this pause, and both would commit.
                    time.sleep(hold_s)
                    s.commit()
                except RuleViolation as refused:
                    outcome[loan_id] = refused.code
                    return
                except OperationalError as busy:  # SQLite: a write on a stale snapshot
                    outcome[loan_id] = f"refused by the database: {busy.orig}"
                    return
                outcome[loan_id] = "approved"
        except BaseException as exc:  # surfaced by the assertions
            outcome[loan_id] = f"error: {exc!r}"

    threads = [threading.Thread(target=approve, args=(i,)) for i in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return outcome


def _two_noticed_loans(world: World, session: Session) -> list[int]:
    ids = []
    for borrower in (world.members_a[0], world.members_a[3]):
        loan = world.apply(borrower, amount_fen=600_000)
        loans.start_notice(session, loan.id, on=world.today - timedelta(days=10))
        ids.append(loan.id)
    session.commit()
    return ids


@pytest.mark.postgres
@pytest.mark.parametrize("db_backend", ["postgres"], indirect=True)
def test_two_simultaneous_approvals_never_overcommit(
    make_world: WorldFactory, session: Session, session_factory: sessionmaker[Session]
) -> None:
    world = make_world(capital_fen=1_000_000)
    ids = _two_noticed_loans(world, session)
    outcome = _race(session_factory, ids, world.today, hold_s=0.5)
    assert sorted(outcome.values()) == ["approved", "insufficient_funds"], outcome
    with session_factory() as check:
        held = balance(check, world.a.id, AccountCode.BANK_SUB_ACCOUNT)
        assert committed_fen(check, world.a.id, None) == 600_000
        assert committed_fen(check, world.a.id, None) <= held


@pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
def test_sqlite_never_overcommits_either(
    make_world: WorldFactory, session: Session, session_factory: sessionmaker[Session]
) -> None:
    world = make_world(capital_fen=1_000_000)
    ids = _two_noticed_loans(world, session)
    outcome = _race(session_factory, ids, world.today, hold_s=0.3)
    assert list(outcome.values()).count("approved") == 1, outcome
    other = next(v for v in outcome.values() if v != "approved")
    assert other == "insufficient_funds" or other.startswith("refused by the database"), outcome
    with session_factory() as check:
        assert committed_fen(check, world.a.id, None) == 600_000


@pytest.mark.postgres
@pytest.mark.parametrize("db_backend", ["postgres"], indirect=True)
def test_approvals_in_different_associations_do_not_wait_for_each_other(
    make_world: WorldFactory, session: Session, session_factory: sessionmaker[Session]
) -> None:
    world = make_world(capital_fen=1_000_000)
    ids = []
    for association, borrower in ((world.a, world.members_a[0]), (world.b, world.members_b[0])):
        loan = world.apply(borrower, amount_fen=600_000, association=association)
        loans.start_notice(session, loan.id, on=world.today - timedelta(days=10))
        ids.append(loan.id)
    session.commit()

    holding = threading.Event()
    release = threading.Event()
    outcome: dict[str, str] = {}

    def approve_and_hold() -> None:
        with session_factory() as s:
            loans.council_approve(s, ids[0], on=world.today)
            holding.set()
            release.wait(timeout=30)  # keeps association a's row lock and its audit chain
            s.commit()
            outcome["a"] = "approved"

    def approve_other() -> None:
        with session_factory() as s:
            loans.council_approve(s, ids[1], on=world.today)
            s.commit()
            outcome["b"] = "approved"

    first = threading.Thread(target=approve_and_hold)
    first.start()
    assert holding.wait(timeout=30)
    second = threading.Thread(target=approve_other)
    second.start()
    second.join(timeout=20)
    finished_while_held = not second.is_alive()
    release.set()
    first.join(timeout=30)
    second.join(timeout=30)
    assert finished_while_held, "association b waited for association a's transaction"
    assert outcome == {"a": "approved", "b": "approved"}
