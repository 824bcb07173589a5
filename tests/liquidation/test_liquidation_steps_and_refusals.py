"""The liquidation's steps one at a time: resuming, refusals that lose nothing, a surplus
returned with the county's capital, a loss too big to refund deposits, exact allocation."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from gateway.capital.models import CapitalSource
from gateway.capital.service import record_contribution, record_member_deposit
from gateway.errors import Conflict, RuleViolation, ValidationFailed
from gateway.ingestion.models import InboundFile, InboundKind, InboundStatus, StatementLine
from gateway.ledger.models import AccountCode, TransactionKind
from gateway.ledger.service import Posting, balance, post
from gateway.liquidation import service as liquidation
from gateway.liquidation.models import CapitalLevel, LiquidationPayout, PayoutKind, PayoutStatus
from gateway.loans import service as loans
from gateway.loans.models import LoanStatus
from gateway.org.models import AssociationStatus
from gateway.reports.figures import evaluate
from gateway.testing import World

ON = date(2024, 7, 10)


@given(
    total=st.integers(min_value=0, max_value=10**12),
    weights=st.lists(st.integers(min_value=0, max_value=10**10), min_size=1, max_size=6).filter(
        lambda ws: sum(ws) > 0
    ),
)
@settings(max_examples=150, deadline=None)
def test_allocation_is_exact_and_never_off_by_more_than_a_fen(
    total: int, weights: list[int]
) -> None:
    shares = liquidation.allocate(total, weights)
    assert sum(shares) == total
    whole = sum(weights)
    for share, weight in zip(shares, weights, strict=True):
        assert abs(share * whole - total * weight) < whole  # within one fen of exact
        assert share >= 0


def _statement(world: World, lines: list[tuple[str, int, bool, int]], on: date) -> None:
    """Statement lines as ingestion stores them: (end-to-end id, amount, credit, balance)."""
    session = world.session
    file = InboundFile(
        bank_code="tbank",
        name=f"STMT_{on:%Y%m%d}_{len(lines)}.txt",
        remote_path="out/x",
        kind=InboundKind.STATEMENT,
        sha256=f"{on:%Y%m%d}{len(lines):056d}",
        size=1,
        content=b"-",
        status=InboundStatus.APPLIED,
        business_date=on,
    )
    session.add(file)
    session.flush()
    for n, (e2e, amount, credit, after) in enumerate(lines):
        session.add(
            StatementLine(
                inbound_file_id=file.id,
                bank_code=file.bank_code,
                account="6200001",
                sub_account=world.a.sub_account_number,
                dedupe_key=f"txn:{file.name}:{n}",
                booking_date=on,
                amount_fen=amount,
                credit=credit,
                channel="transfer",
                end_to_end_id=e2e,
                balance_after_fen=after,
            )
        )
    session.flush()


def test_start_freezes_cancels_waiting_loans_and_resumes(small_world: World) -> None:
    world, session = small_world, small_world.session
    waiting = world.approve(world.apply(world.members_a[0], amount_fen=100_000))
    first = liquidation.start(session, world.a.id, on=ON, reason="撤销", actor="县办")
    again = liquidation.start(session, world.a.id, on=ON, reason="撤销", actor="县办")
    assert again.id == first.id
    assert waiting.status is LoanStatus.CANCELLED
    assert world.a.status is AssociationStatus.LIQUIDATING
    with pytest.raises(ValidationFailed, match="reason"):
        liquidation.start(session, world.b.id, on=ON, reason=" ", actor="县办")


def test_a_surplus_goes_back_with_the_countys_capital(small_world: World) -> None:
    world, session = small_world, small_world.session
    a = world.a.id
    record_contribution(
        session, association_id=a, source=CapitalSource.COUNTY, amount_fen=200_000, received_on=ON
    )
    record_member_deposit(
        session, member_id=world.members_a[2].id, amount_fen=12_345, received_on=ON
    )
    loan = world.approve(world.apply(world.members_a[0], amount_fen=100_000))
    world.release(loan)
    loans.mark_disbursed(session, loan.id, business_date=ON)
    loans.record_repayment(session, loan.id, principal_fen=100_000, fee_fen=7_200, business_date=ON)
    opened = liquidation.start(session, a, on=ON, reason="合并到邻村", actor="县办")
    liquidation.close_books(session, opened.id, on=ON, actor="县办")
    assert balance(session, a, AccountCode.OTHER_CAPITAL) == 7_200
    for level in CapitalLevel:
        liquidation.name_capital_account(
            session, opened.id, level, account_number=f"9{level.value[:3]}",
            account_name=f"{level.value} 专户", actor="县办",
        )  # fmt: skip
    refunds = liquidation.request_refunds(session, opened.id, on=ON, actor="县办")
    returns = liquidation.request_capital_returns(session, opened.id, on=ON, actor="县办")
    assert [(r.member_id, r.amount_fen) for r in refunds] == [(world.members_a[2].id, 12_345)]
    assert {(p.kind, p.level, p.amount_fen) for p in returns} == {
        (PayoutKind.CAPITAL_RETURN, CapitalLevel.CENTRAL_PROVINCIAL, 1_000_000),
        (PayoutKind.CAPITAL_RETURN, CapitalLevel.COUNTY, 200_000),
        (PayoutKind.SURPLUS_RETURN, CapitalLevel.COUNTY, 7_200),
    }
    # asking again creates nothing new: the step resumes where it was
    assert liquidation.request_refunds(session, opened.id, on=ON, actor="县办") == []
    assert liquidation.request_capital_returns(session, opened.id, on=ON, actor="县办") == []
    # the county cannot redirect a level already being paid
    with pytest.raises(Conflict):
        liquidation.name_capital_account(
            session, opened.id, CapitalLevel.COUNTY, account_number="x", account_name="y",
            actor="县办",
        )  # fmt: skip


def test_a_statement_amount_that_differs_settles_nothing(small_world: World) -> None:
    world, session = small_world, small_world.session
    record_member_deposit(
        session, member_id=world.members_a[1].id, amount_fen=5_000, received_on=ON
    )
    opened = liquidation.start(session, world.a.id, on=ON, reason="撤销", actor="县办")
    liquidation.close_books(session, opened.id, on=ON, actor="县办")
    [refund] = liquidation.request_refunds(session, opened.id, on=ON, actor="县办")
    session.commit()
    _statement(world, [(refund.end_to_end_id, 4_999, False, 0)], ON + timedelta(days=1))
    with pytest.raises(Conflict, match="payout_unexplained"):
        liquidation.confirm_from_statement(session, opened.id, actor="县办")
    session.rollback()
    assert session.get(LiquidationPayout, refund.id).status is PayoutStatus.REQUESTED  # type: ignore[union-attr]
    assert balance(session, world.a.id, AccountCode.MEMBER_DEPOSITS) == 5_000
    with pytest.raises(RuleViolation, match="liquidation_blocked") as refused:
        liquidation.close(session, opened.id, on=ON, actor="县办")
    remaining = refused.value.details["remaining"]
    assert any(refund.end_to_end_id in item for item in remaining)
    assert any("未收到子账户的银行对账单" in item or "对账单显示" in item for item in remaining)


def test_a_loss_beyond_fiscal_capital_stops_before_any_payout(small_world: World) -> None:
    world, session = small_world, small_world.session
    record_member_deposit(
        session, member_id=world.members_a[3].id, amount_fen=500_000, received_on=ON
    )
    loan = world.approve(world.apply(world.members_a[0], amount_fen=1_000_000))
    world.release(loan)
    loans.mark_disbursed(session, loan.id, business_date=ON)
    loans.mark_overdue(session, loan.id)
    session.commit()
    opened = liquidation.start(session, world.a.id, on=ON, reason="撤销", actor="县办")
    review = liquidation.list_for_write_off(
        session, opened.id, loan.id, on=ON, reason="无力偿还", actor="会计"
    )
    liquidation.decide_write_off(session, review.id, approve=True, on=ON, actor="县办")
    later = evaluate(session, world.a.id, as_of=date(2026, 1, 1))
    assert (later.due_principal_fen, later.recovered_principal_fen) == (1_000_000, 0)
    assert later.overdue.count == 0  # written off: nothing left to collect
    # fiscal capital 1,000,000 covers the 1,000,000 loss exactly: deposits still refundable
    liquidation.close_books(session, opened.id, on=ON, actor="县办")
    plan = liquidation.capital_plan(session, world.a.id)
    assert plan.by_level == dict.fromkeys(CapitalLevel, 0)
    assert sum(plan.loss_by_account.values()) == 1_000_000
    assert liquidation.request_capital_returns(session, opened.id, on=ON, actor="县办") == []
    [refund] = liquidation.request_refunds(session, opened.id, on=ON, actor="县办")
    assert refund.amount_fen == 500_000
    session.rollback()

    # one fen more of loss and the deposits could not be refunded in full: refused
    post(
        session,
        association_id=world.a.id,
        business_date=ON,
        description="其他支出",
        kind=TransactionKind.EXPENSE,
        legs=[
            Posting.debit(AccountCode.EXPENSE_OTHER, 1),
            Posting.credit(AccountCode.BANK_SUB_ACCOUNT, 1),
        ],
    )
    opened = liquidation.start(session, world.a.id, on=ON, reason="撤销", actor="县办")
    review = liquidation.list_for_write_off(
        session, opened.id, loan.id, on=ON, reason="无力偿还", actor="会计"
    )
    liquidation.decide_write_off(session, review.id, approve=True, on=ON, actor="县办")
    liquidation.close_books(session, opened.id, on=ON, actor="县办")
    with pytest.raises(RuleViolation, match="insolvent"):
        liquidation.request_capital_returns(session, opened.id, on=ON, actor="县办")
    with pytest.raises(RuleViolation, match="insolvent"):
        liquidation.request_refunds(session, opened.id, on=ON, actor="县办")
    assert session.scalars(select(LiquidationPayout)).all() == []
