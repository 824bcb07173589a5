"""Catching up missed nights, or re-running a past date by hand, fetches what the bank wrote
since that date: an answer the bank booked on a later day, up to today, is applied. A
booking after today is still impossible and still quarantines the file whole."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from adapters.records import ResultStatus
from gateway.ingestion.models import InboundFile, InboundStatus
from gateway.jobs.pipeline import run_date, run_through, today_in
from gateway.ledger.models import AccountCode
from gateway.ledger.service import balance
from gateway.loans.models import Loan, LoanStatus
from gateway.payments.models import FollowUpItem, FollowUpKind, InstructionStatus
from tests.settle_support import DAY1, Settle, settle_in

TUE = DAY1 + timedelta(days=1)
WED = DAY1 + timedelta(days=2)
THU = DAY1 + timedelta(days=3)


@pytest.fixture
def settle(tmp_path: Path) -> Iterator[Settle]:
    yield from settle_in(tmp_path)


def _follow_up_kinds(settle: Settle) -> list[FollowUpKind]:
    return [i.kind for i in settle.fresh().scalars(select(FollowUpItem))]


@pytest.mark.parametrize(
    "clock_on_thursday",
    [True, False],
    ids=["the-scheduler-clock-says-thursday", "run-through-thursday-with-the-clock-behind"],
)
def test_thursday_catching_up_two_missed_nights_books_the_loan_the_bank_paid_on_wednesday(
    settle: Settle, clock_on_thursday: bool
) -> None:
    loan = settle.released_loan(400_000)
    run_date(settle.nightly, DAY1)  # Monday: the disbursement goes out
    # the scheduler is down Tuesday and Wednesday; the bank pays on Wednesday
    settle.bank.answer(WED)
    if clock_on_thursday:
        settle.today = THU
    # else a rehearsal's clock still on the county's Friday before: Thursday, the date run
    # through, is the latest the bank can have booked for the dates caught up before it

    outcomes = run_through(settle.nightly, THU, catch_up_days=7)

    assert [o.error for o in outcomes if o.status != "ran"] == []
    assert sorted({o.business_date for o in outcomes}) == [TUE, WED, THU]
    (instruction,) = settle.instructions()
    assert instruction.status is InstructionStatus.SETTLED
    assert instruction.settled_on == WED
    booked = settle.fresh().get(Loan, loan.id)
    assert booked is not None
    assert booked.status is LoanStatus.DISBURSED
    assert booked.disbursed_on == WED
    assert balance(settle.fresh(), settle.world.a.id, AccountCode.LOANS_RECEIVABLE) == 400_000
    (file,) = settle.fresh().scalars(select(InboundFile)).all()
    assert file.status is InboundStatus.APPLIED
    # nothing for the office: no quarantined file, no "the bank never answered"
    assert _follow_up_kinds(settle) == []


def test_a_past_date_re_run_by_hand_applies_an_answer_booked_after_it(settle: Settle) -> None:
    settle.released_loan(400_000)
    settle.today = DAY1
    run_date(settle.nightly, DAY1)
    settle.bank.answer(WED)
    settle.today = THU  # on Thursday the office runs Tuesday's steps by hand

    outcomes = run_date(settle.nightly, TUE, ("fetch", "results"))

    assert [o.status for o in outcomes] == ["ran", "ran"]
    assert outcomes[-1].summary["applied"] == 1
    (instruction,) = settle.instructions()
    assert instruction.status is InstructionStatus.SETTLED
    assert _follow_up_kinds(settle) == []


def test_a_past_date_run_on_the_real_clock_applies_what_the_bank_booked_since(
    settle: Settle,
) -> None:
    settle.released_loan(400_000)
    run_date(settle.nightly, DAY1)
    settle.bank.answer(WED)
    nightly = settle.make_nightly()
    nightly.clock = None  # as ``huzhu nightly --date``: today in Asia/Shanghai, years later

    assert nightly.today() == today_in("Asia/Shanghai")
    outcomes = run_date(nightly, TUE, ("fetch", "results"))

    assert outcomes[-1].summary["applied"] == 1
    (instruction,) = settle.instructions()
    assert instruction.status is InstructionStatus.SETTLED


def test_a_date_caught_up_still_refuses_an_answer_booked_after_today(settle: Settle) -> None:
    settle.released_loan(400_000)
    settle.today = DAY1
    run_date(settle.nightly, DAY1)
    batch = next(iter(settle.bank.batches().values()))
    friday = THU + timedelta(days=1)
    settle.bank.answer_one(batch, ResultStatus.SETTLED, 400_000, WED, booked_on=friday)
    settle.today = THU

    run_through(settle.nightly, THU, catch_up_days=7)

    (instruction,) = settle.instructions()
    assert instruction.status is InstructionStatus.SENT  # neither settled nor failed
    (file,) = settle.fresh().scalars(select(InboundFile)).all()
    assert file.status is InboundStatus.QUARANTINED
    assert f"booked on {friday}" in (file.reason or "")
    assert f"after today ({THU})" in (file.reason or "")
    assert FollowUpKind.FILE_QUARANTINED in _follow_up_kinds(settle)
