"""A dissolved association wound up end to end through the bank's files: loans paid out and
collected through the payment pipeline (one collection refused and written off after review),
every member refunded exactly their deposit, fiscal capital returned by level (bearing the
loss pro rata), a returned refund paid again, and the sub-account closed at zero once the
bank's statement shows it. Nothing is left unexplained."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from settle_support import CIPHER, DAY1, Settle, settle_in, statement
from sqlalchemy import select

from adapters.money import format_yuan
from adapters.records import CreditDebit, ResultStatus, StatementEntry
from gateway.audit.models import AuditEvent
from gateway.audit.service import association_chain, verify
from gateway.capital.models import CapitalSource
from gateway.capital.service import record_contribution, record_member_deposit
from gateway.errors import RuleViolation
from gateway.jobs.pipeline import run_date
from gateway.ledger.models import AccountCode
from gateway.ledger.service import balance, trial_balance
from gateway.liquidation import service as liquidation
from gateway.liquidation.models import CapitalLevel, LiquidationPayout, PayoutKind, PayoutStatus
from gateway.loans.models import Loan, LoanStatus
from gateway.members.models import MemberStatus
from gateway.members.service import card_number
from gateway.org.models import Association, AssociationStatus
from gateway.payments.config import CollectionPolicy
from gateway.payments.models import RepaymentMethod

DUE = date(2024, 8, 1)
DEPOSITS = [10_000, 20_000, 0, 15_050, 30_000, 5_000]
SUB = "6200001-1"


@pytest.fixture
def settle(tmp_path: Path) -> Iterator[Settle]:
    policy = CollectionPolicy(repayment_method=RepaymentMethod.LUMP_SUM, retry_after_days=[])
    yield from settle_in(tmp_path, policy=policy)


def _fund(settle: Settle) -> None:
    session, world = settle.session, settle.world
    a = world.a.id
    for source, amount in (
        (CapitalSource.PROVINCIAL, 1_000_000),
        (CapitalSource.MUNICIPAL, 500_000),
        (CapitalSource.COUNTY, 300_000),
        (CapitalSource.DONATION, 20_000),
    ):
        record_contribution(
            session,
            association_id=a,
            source=source,
            amount_fen=amount,
            received_on=date(2024, 3, 1),
        )
    for member, deposit in zip(world.members_a, DEPOSITS, strict=True):
        if deposit:
            record_member_deposit(
                session, member_id=member.id, amount_fen=deposit, received_on=date(2024, 3, 2)
            )
    session.commit()


def _payout_entry(payout: LiquidationPayout, on: date, after: int) -> StatementEntry:
    return StatementEntry(
        booking_date=on,
        amount_fen=payout.amount_fen,
        credit_debit=CreditDebit.DEBIT,
        bank_transaction_id=f"P{payout.end_to_end_id}",
        sub_account=SUB,
        counterparty_name=payout.payee_name,
        remittance="撤销清算付款",
        end_to_end_id=payout.end_to_end_id,
        balance_after_fen=after,
    )


def test_a_dissolved_association_is_wound_up_to_zero(settle: Settle) -> None:
    _fund(settle)
    good = settle.released_loan(500_000, term_months=1)
    bad = settle.released_loan(300_000, term_months=1)
    run_date(settle.nightly, DAY1)
    settle.bank.answer(DAY1)
    run_date(settle.nightly, DAY1 + timedelta(days=1))

    # 1. freeze: no new loan once the association is being liquidated
    session = settle.fresh()
    a = settle.world.a
    opened = liquidation.start(
        session, a.id, on=date(2024, 7, 5), reason="运转不畅，县里决定撤销", actor="县办张"
    )
    session.commit()
    assert a.status is AssociationStatus.LIQUIDATING
    with pytest.raises(RuleViolation, match="association_not_active"):
        settle.world.apply(settle.world.members_a[5], amount_fen=100_000)
    session.rollback()

    # 2. collect through the normal path: one collection settles, one is refused
    run_date(settle.nightly, DUE)
    settle.bank.answer(
        DUE,
        lambda e2e, amount: (
            (ResultStatus.SETTLED, amount, None)
            if amount == 503_000
            else (ResultStatus.REJECTED, 0, "AM04")
        ),
    )
    run_date(settle.nightly, DUE + timedelta(days=1))
    session = settle.fresh()
    statuses = {row.id: row.status for row in session.execute(select(Loan.id, Loan.status))}
    assert statuses[good.id] is LoanStatus.REPAID
    assert statuses[bad.id] is LoanStatus.OVERDUE
    steps = {s.step: s for s in liquidation.progress(session, opened.id)}
    assert not steps[liquidation.Step.COLLECT].done
    assert steps[liquidation.Step.COLLECT].remaining == (f"借款 {bad.contract_no} 尚欠 3000.00 元",)
    with pytest.raises(RuleViolation, match="liquidation_blocked"):
        liquidation.close_books(session, opened.id, on=DUE, actor="县办张")
    session.rollback()

    # 3. the unrecoverable loan goes to write-off review; a second person decides
    review = liquidation.list_for_write_off(
        session, opened.id, bad.id, on=DUE, reason="借款人外出失联", actor="会计李"
    )
    with pytest.raises(RuleViolation, match="second_person_required"):
        liquidation.decide_write_off(session, review.id, approve=True, on=DUE, actor="会计李")
    liquidation.decide_write_off(session, review.id, approve=True, on=DUE, actor="县办张")
    session.commit()
    assert session.scalar(select(Loan.status).where(Loan.id == bad.id)) is LoanStatus.WRITTEN_OFF

    # 4. close the books: fee 3,000 in, 300,000 written off: a loss of 297,000 fen
    liquidation.close_books(session, opened.id, on=DUE + timedelta(days=2), actor="县办张")
    session.commit()
    assert balance(session, a.id, AccountCode.OTHER_CAPITAL) == 3_000 - 300_000
    bank_before = balance(session, a.id, AccountCode.BANK_SUB_ACCOUNT)

    # 5. refunds and capital returns
    with pytest.raises(RuleViolation, match="capital_account_missing"):
        liquidation.request_capital_returns(session, opened.id, on=DUE, actor="县办张")
    session.rollback()
    for level, number in (
        (CapitalLevel.CENTRAL_PROVINCIAL, "9100001"),
        (CapitalLevel.MUNICIPAL, "9200001"),
        (CapitalLevel.COUNTY, "9300001"),
    ):
        liquidation.name_capital_account(
            session, opened.id, level, account_number=number, account_name=f"{level} 财政专户",
            actor="县办张",
        )  # fmt: skip
    refunds = liquidation.request_refunds(session, opened.id, on=DUE, actor="县办张")
    returns = liquidation.request_capital_returns(session, opened.id, on=DUE, actor="县办张")
    session.commit()
    members = {m.id: m for m in settle.world.members_a}
    assert sorted((members[r.member_id or 0].member_no, r.amount_fen) for r in refunds) == sorted(
        (m.member_no, d) for m, d in zip(settle.world.members_a, DEPOSITS, strict=True) if d
    )
    # fiscal capital 10,000,000 + 1,000,000 + 500,000 + 300,000 bears the loss of 297,000
    # less the 20,000 donation, pro rata, to the fen
    fiscal = 10_000_000 + 1_000_000 + 500_000 + 300_000
    loss = 297_000 - 20_000
    by_level = {p.level: p.amount_fen for p in returns}
    assert set(by_level) == set(CapitalLevel)
    assert sum(by_level.values()) == fiscal - loss
    # 277,000 over 10,000,000 / 1,000,000 / 500,000 / 300,000 by largest remainder:
    # 234,746 / 23,475 / 11,737 / 7,042
    assert by_level == {
        CapitalLevel.CENTRAL_PROVINCIAL: 11_000_000 - 234_746 - 23_475,
        CapitalLevel.MUNICIPAL: 500_000 - 11_737,
        CapitalLevel.COUNTY: 300_000 - 7_042,
    }
    assert sum(p.amount_fen for p in [*refunds, *returns]) == bank_before
    orders = liquidation.payout_orders(session, CIPHER, opened.id)
    first = next(o for o in orders if o.end_to_end_id == refunds[0].end_to_end_id)
    assert first.payee_account == card_number(session, CIPHER, refunds[0].member_id or 0)
    assert first.debtor_account == SUB

    # 6. the bank pays all but returns one refund; its statement comes back and is ingested
    day = DUE + timedelta(days=5)
    running = bank_before
    entries = []
    for payout in [*refunds, *returns]:
        running -= payout.amount_fen
        entries.append(_payout_entry(payout, day, running))
    bounced = refunds[1]
    running += bounced.amount_fen
    entries.append(
        StatementEntry(
            booking_date=day,
            amount_fen=bounced.amount_fen,
            credit_debit=CreditDebit.CREDIT,
            bank_transaction_id=f"R{bounced.end_to_end_id}",
            sub_account=SUB,
            remittance="退汇 account closed",
            end_to_end_id=bounced.end_to_end_id,
            return_reason_code="AC04",
            balance_after_fen=running,
        )
    )
    settle.bank.put_statement(
        statement(day, entries, opening_fen=bank_before), f"STMT_6200001_{day:%Y%m%d}.txt"
    )
    run_date(settle.nightly, day + timedelta(days=1), ("fetch", "statements"))
    session = settle.fresh()
    matched = liquidation.confirm_from_statement(session, opened.id, actor="县办张")
    session.commit()
    assert matched.failed == [bounced.end_to_end_id]
    assert len(matched.settled) == len(refunds) + len(returns) - 1
    with pytest.raises(RuleViolation, match="liquidation_blocked"):
        liquidation.close(session, opened.id, on=day, actor="县办张")
    session.rollback()
    steps = {s.step: s for s in liquidation.progress(session, opened.id)}
    bounced_member = members[bounced.member_id or 0]
    assert steps[liquidation.Step.REFUND].remaining == (
        f"会员 {bounced_member.name} 应退 {format_yuan(bounced.amount_fen)} 元",
    )

    # the refund is requested again (a new attempt) and paid on the next statement
    again = liquidation.request_refunds(session, opened.id, on=day, actor="县办张")
    session.commit()
    assert [(p.member_id, p.amount_fen, p.attempt) for p in again] == [
        (bounced.member_id, bounced.amount_fen, 2)
    ]
    later = day + timedelta(days=3)
    settle.bank.put_statement(
        statement(later, [_payout_entry(again[0], later, 0)], opening_fen=running),
        f"STMT_6200001_{later:%Y%m%d}.txt",
    )
    run_date(settle.nightly, later + timedelta(days=1), ("fetch", "statements"))
    session = settle.fresh()
    liquidation.confirm_from_statement(session, opened.id, actor="县办张")

    # 7. everything is zero on the books and at the bank: close
    closed = liquidation.close(session, opened.id, on=later + timedelta(days=1), actor="县办张")
    session.commit()
    assert closed.closed_on == later + timedelta(days=1)
    status = session.scalar(select(Association.status).where(Association.id == a.id))
    assert status is AssociationStatus.CLOSED
    assert all(row.balance_fen == 0 for row in trial_balance(session, a.id).rows)
    for member, deposit in zip(settle.world.members_a, DEPOSITS, strict=True):
        session.refresh(member)
        assert member.deposit_fen == 0
        if deposit:
            assert member.status is MemberStatus.WITHDRAWN
    payouts = session.scalars(
        select(LiquidationPayout).where(LiquidationPayout.liquidation_id == opened.id)
    ).all()
    refunded: dict[int, int] = {}
    for p in payouts:
        if p.kind is PayoutKind.DEPOSIT_REFUND and p.status is PayoutStatus.SETTLED:
            refunded[p.member_id or 0] = refunded.get(p.member_id or 0, 0) + p.amount_fen
    assert refunded == {m.id: d for m, d in zip(settle.world.members_a, DEPOSITS, strict=True) if d}
    assert all(step.done for step in liquidation.progress(session, opened.id))
    actions = [
        e.action
        for e in session.scalars(
            select(AuditEvent)
            .where(AuditEvent.chain == association_chain(a.id))
            .order_by(AuditEvent.seq)
        )
        if e.action.startswith("liquidation.")
    ]
    for expected in (
        "liquidation.start",
        "liquidation.write_off_listed",
        "liquidation.write_off_decided",
        "liquidation.close_books",
        "liquidation.refunds_requested",
        "liquidation.capital_requested",
        "liquidation.payout_settled",
        "liquidation.payout_failed",
        "liquidation.close",
    ):
        assert expected in actions
    assert verify(session).ok
