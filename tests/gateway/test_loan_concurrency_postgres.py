"""Two council approvals against one sub-account at the same moment can never commit more
than it holds: the association row is locked (SELECT ... FOR UPDATE) before the decision."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from gateway.errors import RuleViolation
from gateway.ledger.models import AccountCode
from gateway.ledger.service import balance
from gateway.loans import service as loans
from gateway.loans.rules import committed_fen
from gateway.testing import WorldFactory

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.parametrize("db_backend", ["postgres"], indirect=True),
]


def test_two_simultaneous_approvals_never_overcommit(
    make_world: WorldFactory, session: Session, session_factory: sessionmaker[Session]
) -> None:
    world = make_world(capital_fen=1_000_000)
    ids = []
    for borrower in (world.members_a[0], world.members_a[3]):
        loan = world.apply(borrower, amount_fen=600_000)
        loans.start_notice(session, loan.id, on=world.today - timedelta(days=10))
        ids.append(loan.id)
    session.commit()

    start = threading.Barrier(2)
    outcome: dict[int, str] = {}

    def approve(loan_id: int) -> None:
        try:
            with session_factory() as s:
                start.wait(timeout=10)
                try:
                    loans.council_approve(s, loan_id, on=world.today, actor=f"council-{loan_id}")
                except RuleViolation as refused:
                    outcome[loan_id] = refused.code
                    s.rollback()
                    return
                # Hold the decision open: without the row lock the other approval would
                # read the same free balance during this pause and both would commit.
                time.sleep(0.5)
                s.commit()
                outcome[loan_id] = "approved"
        except BaseException as exc:  # surfaced by the assertion below
            outcome[loan_id] = f"error: {exc!r}"

    threads = [threading.Thread(target=approve, args=(i,)) for i in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert sorted(outcome.values()) == ["approved", "insufficient_funds"], outcome
    with session_factory() as check:
        held = balance(check, world.a.id, AccountCode.BANK_SUB_ACCOUNT)
        assert committed_fen(check, world.a.id, None) == 600_000
        assert committed_fen(check, world.a.id, None) <= held


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

    start = threading.Barrier(2)
    outcome: dict[int, str] = {}

    def approve(loan_id: int) -> None:
        with session_factory() as s:
            start.wait(timeout=10)
            loans.council_approve(s, loan_id, on=world.today)
            time.sleep(0.3)
            s.commit()
            outcome[loan_id] = "approved"

    began = time.monotonic()
    threads = [threading.Thread(target=approve, args=(i,)) for i in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert list(outcome.values()) == ["approved", "approved"]
    assert time.monotonic() - began < 0.59  # the two 0.3 s pauses overlapped
