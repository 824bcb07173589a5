"""The bank returns a repayment after the association's books were closed for liquidation: the
loan is owed again, so closing again and returning the fiscal capital are refused, naming the
loan, until it is collected or written off (the capital would otherwise go back while 1,000
yuan is still with the borrower)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from gateway.errors import RuleViolation
from gateway.jobs.pipeline import run_date
from gateway.ledger.models import AccountCode, LedgerChannel, TransactionKind
from gateway.ledger.service import Posting, post
from gateway.liquidation import service as liquidation
from gateway.liquidation.models import CapitalLevel
from gateway.loans.models import LoanStatus
from gateway.payments.config import CollectionPolicy
from gateway.payments.models import RepaymentMethod
from tests.ingestion.test_result_file_money_a_loan_can_no_longer_take import (
    DUE,
    _loan,
    _two_collections_sent,
)
from tests.settle_support import Settle, settle_in


@pytest.fixture
def settle(tmp_path: Path) -> Iterator[Settle]:
    policy = CollectionPolicy(repayment_method=RepaymentMethod.LUMP_SUM, retry_after_days=[3])
    yield from settle_in(tmp_path, policy=policy)


def test_a_loan_reopened_by_a_return_holds_the_closing_and_the_capital_return(
    settle: Settle,
) -> None:
    loan_a, _ = _two_collections_sent(settle)
    session = settle.fresh()
    opened = liquidation.start(session, settle.world.a.id, on=DUE, reason="撤销", actor="县办")
    session.commit()
    settle.bank.answer(DUE)
    run_date(settle.nightly, DUE + timedelta(days=1))
    session = settle.fresh()
    liquidation.close_books(session, opened.id, on=DUE + timedelta(days=1), actor="县办")
    for level in CapitalLevel:
        liquidation.name_capital_account(
            session, opened.id, level, account_number=f"9{level.value[:3]}",
            account_name="财政专户", actor="县办",
        )  # fmt: skip
    session.commit()

    (collected,) = [i for i in settle.collections() if i.loan_id == loan_a.id]
    # the bank's statement shows the collection sent back to the borrower
    settle.bank.put_return(collected, DUE + timedelta(days=2), "R1")
    run_date(settle.nightly, DUE + timedelta(days=3), ("fetch", "statements"))
    owed = _loan(settle, loan_a.id)
    assert owed.status is LoanStatus.OVERDUE
    # income booked since (the bank's interest) would have let the closing run again
    post(
        settle.fresh(),
        association_id=settle.world.a.id,
        business_date=DUE + timedelta(days=3),
        description="存款利息",
        kind=TransactionKind.DEPOSIT_INTEREST,
        legs=[
            Posting.debit(AccountCode.BANK_SUB_ACCOUNT, 100),
            Posting.credit(AccountCode.DEPOSIT_INTEREST, 100),
        ],
        channel=LedgerChannel.TRANSFER,
    )
    settle.session.commit()

    session = settle.fresh()
    with pytest.raises(RuleViolation) as closing:
        liquidation.close_books(session, opened.id, on=DUE + timedelta(days=3), actor="县办")
    assert closing.value.code == "liquidation_blocked"
    assert f"借款 {owed.contract_no}" in closing.value.message_zh
    with pytest.raises(RuleViolation) as returning:
        liquidation.request_capital_returns(
            session, opened.id, on=DUE + timedelta(days=3), actor="县办"
        )
    assert returning.value.message_zh.startswith("尚不能退还财政资金：")
    assert f"借款 {owed.contract_no}" in returning.value.message_zh
