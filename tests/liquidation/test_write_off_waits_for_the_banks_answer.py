"""A loan is written off only once the bank has answered its collection: while a collection
is with the bank (waiting to be sent, in a batch, sent, not answered yet) nobody knows what
the loan still owes, so listing the loan for write-off, approving its write-off and closing
the association's books are refused with a message saying to wait for the bank's answer.
Once the bank has answered (here: the collection failed), they go ahead."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from adapters.records import Direction, ResultStatus
from gateway.errors import RuleViolation
from gateway.jobs.pipeline import run_date
from gateway.ledger.models import AccountCode
from gateway.ledger.service import balance
from gateway.liquidation import service as liquidation
from gateway.liquidation.models import WriteOffDecision
from gateway.loans.models import Loan, LoanStatus
from gateway.payments.config import CollectionPolicy
from gateway.payments.models import InstructionStatus, PaymentInstruction, RepaymentMethod
from tests.settle_support import DAY1, Settle, settle_in

DUE = date(2024, 8, 1)  # a Thursday, one month after DAY1


@pytest.fixture
def settle(tmp_path: Path) -> Iterator[Settle]:
    policy = CollectionPolicy(repayment_method=RepaymentMethod.LUMP_SUM, retry_after_days=[3])
    yield from settle_in(tmp_path, policy=policy)


def _collection_sent(settle: Settle) -> tuple[Loan, PaymentInstruction]:
    """A 1,000 yuan one-month loan paid out on DAY1; on its due date its collection is sent."""
    loan = settle.released_loan(100_000, term_months=1)
    run_date(settle.nightly, DAY1)
    settle.bank.answer(DAY1)
    run_date(settle.nightly, DAY1 + timedelta(days=1))
    run_date(settle.nightly, DUE)
    (collection,) = [i for i in settle.instructions() if i.direction is Direction.COLLECTION]
    assert collection.status is InstructionStatus.SENT
    return loan, collection


def test_listing_a_loan_for_write_off_waits_for_its_collection(settle: Settle) -> None:
    loan, collection = _collection_sent(settle)
    session = settle.fresh()
    opened = liquidation.start(session, settle.world.a.id, on=DUE, reason="撤销", actor="县办")
    with pytest.raises(RuleViolation) as refused:
        liquidation.list_for_write_off(
            session, opened.id, loan.id, on=DUE, reason="无法收回", actor="clerk"
        )
    assert refused.value.code == "collection_with_bank"
    assert collection.end_to_end_id in refused.value.message_zh
    assert "请待银行回盘后再报核销" in refused.value.message_zh
    assert "wait for the bank's answer" in refused.value.message_en


def test_approving_a_write_off_waits_for_the_collection_then_goes_ahead(settle: Settle) -> None:
    # listed while nothing was with the bank: the day before the collection was made
    loan = settle.released_loan(100_000, term_months=1)
    run_date(settle.nightly, DAY1)
    settle.bank.answer(DAY1)
    run_date(settle.nightly, DAY1 + timedelta(days=1))
    session = settle.fresh()
    opened = liquidation.start(session, settle.world.a.id, on=DUE, reason="撤销", actor="县办")
    review = liquidation.list_for_write_off(
        session, opened.id, loan.id, on=DUE, reason="无法收回", actor="clerk"
    )
    session.commit()
    run_date(settle.nightly, DUE)  # the loan's collection goes to the bank

    session = settle.fresh()
    with pytest.raises(RuleViolation) as refused:
        liquidation.decide_write_off(session, review.id, approve=True, on=DUE, actor="head")
    assert refused.value.code == "collection_with_bank"
    assert "请待银行回盘后再审批核销" in refused.value.message_zh
    with pytest.raises(RuleViolation) as blocked:
        liquidation.close_books(session, opened.id, on=DUE, actor="县办")
    assert f"借款 {loan.contract_no} 扣款在途，待银行回盘" in blocked.value.details["remaining"]
    session.rollback()
    row = settle.fresh().get(Loan, loan.id)
    assert row is not None
    assert row.status is LoanStatus.DISBURSED  # nothing written off
    assert balance(settle.session, settle.world.a.id, AccountCode.WRITE_OFF) == 0

    # the bank answers: the card was empty. Now the write-off can be decided.
    settle.bank.answer(DUE, lambda e2e, amount: (ResultStatus.REJECTED, 0, "AM04"))
    run_date(settle.nightly, DUE + timedelta(days=1))
    session = settle.fresh()
    decided = liquidation.decide_write_off(
        session, review.id, approve=True, on=DUE + timedelta(days=1), actor="head"
    )
    session.commit()
    assert decided.decision is WriteOffDecision.APPROVED
    session = settle.fresh()
    row = session.get(Loan, loan.id)
    assert row is not None
    assert row.status is LoanStatus.WRITTEN_OFF
    assert balance(session, settle.world.a.id, AccountCode.WRITE_OFF) == 100_000
    # and a written-off loan is not collected again on its retry day
    run_date(settle.nightly, DUE + timedelta(days=4))
    assert settle.fresh().scalars(
        select(PaymentInstruction.status).where(
            PaymentInstruction.direction == Direction.COLLECTION
        )
    ).all() == [InstructionStatus.FAILED]


def test_rejecting_a_write_off_is_not_held_up_by_a_collection(settle: Settle) -> None:
    loan = settle.released_loan(100_000, term_months=1)
    run_date(settle.nightly, DAY1)
    settle.bank.answer(DAY1)
    run_date(settle.nightly, DAY1 + timedelta(days=1))
    session = settle.fresh()
    opened = liquidation.start(session, settle.world.a.id, on=DUE, reason="撤销", actor="县办")
    review = liquidation.list_for_write_off(
        session, opened.id, loan.id, on=DUE, reason="无法收回", actor="clerk"
    )
    session.commit()
    run_date(settle.nightly, DUE)
    session = settle.fresh()
    decided = liquidation.decide_write_off(session, review.id, approve=False, on=DUE, actor="head")
    assert decided.decision is WriteOffDecision.REJECTED
