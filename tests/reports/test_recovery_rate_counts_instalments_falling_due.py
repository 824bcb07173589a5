"""2.6 到期回收率 counts instalments, not only final maturities: with monthly instalments (the
default repayment method) every instalment falls due on its own date, so instalments left
unpaid lower the rate, and the grade, before the loan itself matures. An instalment is
recovered by the repayments booked against it (the bank's collection, the reconciler's
booking of the borrower's own transfer), from the day they are booked until a reversal
takes them back."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from adapters.records import ResultStatus
from gateway.jobs.pipeline import run_date
from gateway.loans.models import Loan
from gateway.migrations import upgrade
from gateway.payments.config import CollectionPolicy
from gateway.payments.models import InstructionStatus, RepaymentMethod
from gateway.reconcile.models import AutoPosting
from gateway.reconcile.service import undo_auto_posting
from gateway.reports.figures import EvaluationFigures, evaluate
from gateway.reports.scoring import load_grading_config, suggest_grade
from tests.recon_support import Nights
from tests.settle_support import DAY1, Settle, migrated_sqlite

REPO = Path(__file__).resolve().parents[2]
SCORING = load_grading_config(REPO / "config" / "grading.toml").evaluation
FIRST_DUE = date(2024, 8, 1)  # instalments of a loan paid out on DAY1 (2024-07-01)
SECOND_DUE = date(2024, 9, 1)
MATURITY = date(2024, 10, 1)
REFUSE = lambda e2e, amount: (ResultStatus.REJECTED, 0, "AM04")  # noqa: E731


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A copy of the migrated SQLite template, or a fresh migrated PostgreSQL database."""
    if request.param == "sqlite":
        return migrated_sqlite(tmp_path)
    url: str = request.getfixturevalue("postgres_database")
    upgrade(url)
    return url


@pytest.fixture
def settle(database_url: str) -> Iterator[Settle]:
    policy = CollectionPolicy(
        repayment_method=RepaymentMethod.EQUAL_INSTALMENTS, retry_after_days=[3]
    )
    built = Settle(database_url, policy=policy)
    yield built
    built.close()


def _paid_out(settle: Settle) -> Loan:
    """3,000 yuan over three months, paid onto the card on DAY1: 1,000 yuan of principal
    falls due on each of 2024-08-01, 2024-09-01 and 2024-10-01."""
    loan = settle.released_loan(300_000, term_months=3)
    run_date(settle.nightly, DAY1)
    settle.bank.answer(DAY1)
    run_date(settle.nightly, DAY1 + timedelta(days=1))
    return loan


def _figures(settle: Settle, as_of: date) -> EvaluationFigures:
    return evaluate(settle.fresh(), settle.world.a.id, since=DAY1, as_of=as_of)


def test_monthly_instalments_unpaid_when_due_lower_the_rate_and_grade_before_maturity(
    settle: Settle,
) -> None:
    loan = _paid_out(settle)
    figures = _figures(settle, SECOND_DUE + timedelta(days=29))
    (facts,) = figures.loans
    assert facts.loan_id == loan.id
    assert facts.due_on == MATURITY  # the loan itself has not matured
    assert figures.overdue.count == 1  # 2.3.1 already counts it overdue
    assert (figures.due_principal_fen, figures.recovered_principal_fen) == (200_000, 0)
    assert figures.recovery_rate.percent() == "0.00"
    recovery = [
        r.message_zh
        for r in suggest_grade(figures, SCORING).reasons
        if r.metric == "recovery_rate_percent"
    ]
    assert recovery == ["到期回收率 0%，低于 95%：扣 10 分", "到期回收率 0%，低于 85%：扣 15 分"]


def test_an_instalment_is_recovered_from_the_day_its_collection_is_booked_until_returned(
    settle: Settle,
) -> None:
    _paid_out(settle)
    # instalment 1 is refused on its due date and collected on the retry, three days on
    run_date(settle.nightly, FIRST_DUE)
    settle.bank.answer(FIRST_DUE, REFUSE)
    run_date(settle.nightly, FIRST_DUE + timedelta(days=1))
    retry_day = FIRST_DUE + timedelta(days=4)
    run_date(settle.nightly, retry_day)
    settle.bank.answer(retry_day)
    run_date(settle.nightly, retry_day + timedelta(days=1))
    retry = settle.collections()[-1]
    assert (retry.attempt, retry.status, retry.settled_on) == (
        2,
        InstructionStatus.SETTLED,
        retry_day,
    )

    before = _figures(settle, retry_day - timedelta(days=1))
    assert (before.due_principal_fen, before.recovered_principal_fen) == (100_000, 0)
    collected = _figures(settle, retry_day)
    assert (collected.due_principal_fen, collected.recovered_principal_fen) == (100_000, 100_000)
    assert collected.recovery_rate.percent() == "100.00"

    # the bank sends the collection back: from then on the instalment is unpaid again
    returned_on = retry_day + timedelta(days=3)
    settle.bank.put_return(retry, returned_on, "R1")
    run_date(settle.nightly, returned_on + timedelta(days=1))
    assert settle.collections()[-1].status is InstructionStatus.RETURNED
    assert _figures(settle, retry_day).recovered_principal_fen == 100_000
    after = _figures(settle, FIRST_DUE + timedelta(days=30))
    assert (after.due_principal_fen, after.recovered_principal_fen) == (100_000, 0)


def test_a_transfer_the_reconciler_books_repays_its_instalment_until_undone(
    tmp_path: Path, database_url: str
) -> None:
    nights = Nights(tmp_path, database_url)
    try:
        # 2,400 yuan over twelve months: 200 yuan of principal due monthly from 2024-08-01
        loan, card, first = nights.disbursed_loan()
        transfer = nights.line(
            nights.sub_a,
            first.principal_fen + first.fee_fen,
            counterparty_account=card,
            remittance=f"还款 {loan.contract_no}",
        )
        assert nights.night([transfer]).auto_postings == 1
        session = nights.settle.fresh()
        as_of = SECOND_DUE - timedelta(days=1)  # instalment 1 has fallen due, 2 has not
        figures = evaluate(session, nights.world.a.id, since=DAY1, as_of=as_of)
        assert (figures.due_principal_fen, figures.recovered_principal_fen) == (20_000, 20_000)

        (booked,) = session.scalars(select(AutoPosting)).all()
        undo_auto_posting(session, booked.id, actor="县办", reason="代缴保证金")
        session.commit()
        undone = evaluate(nights.settle.fresh(), nights.world.a.id, since=DAY1, as_of=as_of)
        assert (undone.due_principal_fen, undone.recovered_principal_fen) == (20_000, 0)
    finally:
        nights.close()
