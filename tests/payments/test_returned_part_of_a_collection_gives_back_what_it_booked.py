"""A collection the bank sends back (退汇) gives back to the loan exactly the principal and
fee that collection booked: a 1,000 yuan one-month loan (6 yuan fee) collected in two parts,
600 yuan (6 fee + 594 principal) and then the other 406 yuan (all principal). Whichever part
comes back, the loan's outstanding principal is what 应收借款 shows, and once it is collected
again the fee has been charged once: 占用费收入 6.00, the loan settled and 应收借款 at zero."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from adapters.records import ResultStatus
from gateway.jobs.pipeline import run_date
from gateway.ledger.models import AccountCode
from gateway.ledger.service import balance
from gateway.loans.models import Loan, LoanStatus
from gateway.payments.config import CollectionPolicy
from gateway.payments.models import InstructionStatus, PaymentInstruction, RepaymentMethod
from tests.settle_support import DAY1, Settle, settle_in

DUE = date(2024, 8, 1)  # a Thursday, one month after DAY1
REST_DAY = DUE + timedelta(days=4)  # the partial collection's retry: the other 406 yuan
RETURNED_ON = REST_DAY + timedelta(days=1)


@pytest.fixture
def settle(tmp_path: Path) -> Iterator[Settle]:
    policy = CollectionPolicy(repayment_method=RepaymentMethod.LUMP_SUM, retry_after_days=[3, 7])
    yield from settle_in(tmp_path, policy=policy)


def _collected_in_two_parts(settle: Settle) -> Loan:
    """Paid out on DAY1; on its due date the bank collects 600 of the 1,006 yuan, four days
    later the retry collects the other 406."""
    loan = settle.released_loan(100_000, term_months=1)
    run_date(settle.nightly, DAY1)
    settle.bank.answer(DAY1)
    run_date(settle.nightly, DAY1 + timedelta(days=1))
    run_date(settle.nightly, DUE)
    settle.bank.answer(DUE, lambda e2e, amount: (ResultStatus.PARTIALLY_SETTLED, 60_000, "AM04"))
    run_date(settle.nightly, DUE + timedelta(days=1))
    run_date(settle.nightly, REST_DAY)
    settle.bank.answer(REST_DAY)
    run_date(settle.nightly, REST_DAY + timedelta(days=1))
    assert _status(settle, loan.id) is LoanStatus.REPAID
    return loan


def _status(settle: Settle, loan_id: int) -> LoanStatus:
    row = settle.fresh().get(Loan, loan_id)
    assert row is not None
    return row.status


def _loan_and_ledger(settle: Settle, loan_id: int) -> tuple[int, int, int, int]:
    """(loan outstanding principal, 应收借款, fee the loan says was paid, 占用费收入); the
    loan is its association's only one, so the association's accounts are the loan's."""
    session = settle.fresh()
    row = session.get(Loan, loan_id)
    assert row is not None
    association_id = settle.world.a.id
    return (
        row.outstanding_principal_fen,
        balance(session, association_id, AccountCode.LOANS_RECEIVABLE),
        row.fee_paid_fen,
        balance(session, association_id, AccountCode.FEE_INCOME),
    )


def _collect_the_retry(settle: Settle, retry_day: date) -> PaymentInstruction:
    run_date(settle.nightly, retry_day)
    retry = settle.collections()[-1]
    assert retry.status is InstructionStatus.SENT
    settle.bank.answer(retry_day)
    run_date(settle.nightly, retry_day + timedelta(days=1))
    return retry


def test_returned_second_part_gives_back_its_principal_and_the_fee_is_charged_once(
    settle: Settle,
) -> None:
    loan = _collected_in_two_parts(settle)
    second = settle.collections()[1]
    assert (second.settled_amount_fen, second.principal_fen, second.fee_fen) == (40_600, 40_600, 0)

    settle.bank.put_return(second, RETURNED_ON, "R2")
    run_date(settle.nightly, RETURNED_ON + timedelta(days=1))
    # 406 yuan of principal owed again, on the loan and in the ledger alike; the 6 yuan fee
    # the first part paid stays paid
    assert _loan_and_ledger(settle, loan.id) == (40_600, 40_600, 600, 600)
    assert _status(settle, loan.id) is LoanStatus.OVERDUE

    # the retry asks for the 406 yuan principal only, and settles the loan
    retry = _collect_the_retry(settle, RETURNED_ON + timedelta(days=7))
    assert (retry.amount_fen, retry.principal_fen, retry.fee_fen) == (40_600, 40_600, 0)
    assert _loan_and_ledger(settle, loan.id) == (0, 0, 600, 600)
    assert _status(settle, loan.id) is LoanStatus.REPAID


def test_returned_first_part_gives_back_its_fee_and_principal(settle: Settle) -> None:
    loan = _collected_in_two_parts(settle)
    first = settle.collections()[0]
    assert first.settled_amount_fen == 60_000

    settle.bank.put_return(first, RETURNED_ON, "R1")
    run_date(settle.nightly, RETURNED_ON + timedelta(days=1))
    # the first part had paid the 6 yuan fee and 594 yuan principal: both owed again
    assert _loan_and_ledger(settle, loan.id) == (59_400, 59_400, 0, 0)

    retry = _collect_the_retry(settle, RETURNED_ON + timedelta(days=7))
    assert (retry.amount_fen, retry.principal_fen, retry.fee_fen) == (60_000, 59_400, 600)
    assert _loan_and_ledger(settle, loan.id) == (0, 0, 600, 600)
    assert _status(settle, loan.id) is LoanStatus.REPAID
