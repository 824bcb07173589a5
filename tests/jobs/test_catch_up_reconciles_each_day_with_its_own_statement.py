"""Nights missed and caught up: the first date caught up fetches every statement the bank wrote
since, under its own business date. Each day is still reconciled against the statement that
reports it, whichever night fetched it: no false "statement missing", and a credit nobody
instructed on a day caught up is raised on that day as an unmatched bank line."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from gateway.ingestion.models import InboundFile, StatementDay
from gateway.jobs.pipeline import run_date, run_through
from gateway.reconcile.models import ReconRun
from tests.recon_support import FIRST, Nights

STEPS = ("fetch", "statements", "reconcile")
TUE, WED, THU = (FIRST + timedelta(days=n) for n in (1, 2, 3))


@pytest.fixture
def nights(tmp_path: Path) -> Iterator[Nights]:
    built = Nights(tmp_path)
    yield built
    built.close()


def test_a_statement_fetched_by_an_earlier_night_caught_up_is_its_own_days_statement(
    nights: Nights,
) -> None:
    settle = nights.settle
    settle.today = FIRST
    run_date(settle.nightly, FIRST, STEPS)  # Monday night: Sunday reconciled, nothing more
    # the nightly does not run on Tuesday and Wednesday; the bank writes its statements
    for day in (FIRST, TUE, WED):
        nights.day = day
        credit = [nights.line(nights.sub_a, 123_456, remittance="转账")] if day == WED else []
        settle.bank.put_statement(nights.statement(credit), f"STMT_6200001_{day:%Y%m%d}.txt")
    settle.today = THU

    outcomes = run_through(settle.nightly, THU, catch_up_days=7, steps=STEPS)

    assert [o.error for o in outcomes if o.status not in ("ran", "skipped")] == []
    session = settle.fresh()
    # Tuesday's fetch took all three, stamped with Tuesday
    stamped = session.execute(select(InboundFile.name, InboundFile.business_date)).all()
    assert sorted(stamped) == [(f"STMT_6200001_{day:%Y%m%d}.txt", TUE) for day in (FIRST, TUE, WED)]
    assert sorted(session.scalars(select(StatementDay.statement_date))) == [FIRST, TUE, WED]
    runs = dict(session.execute(select(ReconRun.business_date, ReconRun.has_statement)).all())
    assert [runs[day] for day in (FIRST, TUE, WED)] == [True, True, True]
    # Wednesday's credit is Wednesday's unmatched line; no day is a statement gap
    assert [(i.kind, i.first_seen, i.actual_fen) for i in nights.items()] == [
        ("unmatched_bank", WED, 123_456)
    ]
