"""Two runs of the results step at once (a date caught up beside another, or a step taken
over after its lease ran out) both list the same received result file: the one that gets
it second waits for the first to finish with it and then finds it applied, so it applies
nothing a second time (PostgreSQL, where the two really run side by side)."""

from __future__ import annotations

import threading
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from gateway.ingestion.models import InboundFile, InboundKind, InboundStatus
from gateway.jobs.pipeline import StepOutcome, run_date
from gateway.ledger.models import AccountCode, JournalTransaction
from gateway.ledger.service import balance
from gateway.migrations import upgrade
from tests.settle_support import DAY1, Settle

DUE = date(2024, 8, 1)


@pytest.mark.postgres
def test_a_result_file_listed_by_two_runs_is_applied_once(postgres_database: str) -> None:
    upgrade(postgres_database)
    settle = Settle(postgres_database)
    try:
        settle.released_loan(100_000, term_months=1)
        run_date(settle.nightly, DAY1)
        settle.bank.answer(DAY1)
        run_date(settle.nightly, DAY1 + timedelta(days=1))
        run_date(settle.nightly, DUE)  # the instalment's collection goes out
        settle.bank.answer(DUE)
        run_date(settle.nightly, DUE + timedelta(days=1), ("fetch",))
        (file_id,) = settle.fresh().scalars(
            select(InboundFile.id).where(
                InboundFile.kind == InboundKind.RESULT, InboundFile.status == InboundStatus.RECEIVED
            )
        )
        settle.session.rollback()

        # run A holds the file while it applies it; run B lists it meanwhile
        run_a = settle.factory()
        held = run_a.get(InboundFile, file_id, with_for_update=True)
        assert held is not None
        outcomes: list[StepOutcome] = []
        run_b = threading.Thread(
            target=lambda: outcomes.extend(
                run_date(settle.nightly, DUE + timedelta(days=2), ("results",))
            )
        )
        run_b.start()
        run_b.join(timeout=3)
        assert run_b.is_alive(), "run B waits for the file while run A holds it"
        held.status = InboundStatus.APPLIED  # run A is done with it
        run_a.commit()
        run_a.close()
        run_b.join(timeout=60)
        assert not run_b.is_alive()
        (b,) = outcomes
        assert b.status == "ran"
        assert b.summary["applied"] == 0  # found applied: not applied a second time
        session = settle.fresh()
        repayments = session.scalar(
            select(func.count())
            .select_from(JournalTransaction)
            .where(JournalTransaction.description.contains("还款"))
        )
        assert repayments == 0
        assert balance(session, settle.world.a.id, AccountCode.LOANS_RECEIVABLE) == 100_000
    finally:
        settle.close()
