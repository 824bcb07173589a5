"""Liquidation payouts travel as loan-less disbursements in the normal batches: the bank's
result file books a paid refund (Dr member deposits, Cr bank sub-account) and marks a refused
capital return to be paid again with the bank's reason; the workflow shows where each stands."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from adapters.records import ResultStatus
from gateway.capital.service import record_member_deposit
from gateway.jobs.pipeline import run_date
from gateway.ledger.models import AccountCode, JournalTransaction
from gateway.ledger.service import balance
from gateway.liquidation import service as liquidation
from gateway.liquidation.models import CapitalLevel, LiquidationPayout, PayoutKind, PayoutStatus
from gateway.payments.models import (
    FollowUpItem,
    FollowUpKind,
    InstructionStatus,
    PaymentInstruction,
    PaymentPurpose,
)
from tests.settle_support import DAY1, Settle, bank_profile, settle_in

DEPOSIT = 15_050


@pytest.fixture
def settle(tmp_path: Path) -> Iterator[Settle]:
    yield from settle_in(tmp_path)


def _requested(settle: Settle) -> tuple[int, list[LiquidationPayout], list[LiquidationPayout]]:
    session, world = settle.session, settle.world
    record_member_deposit(
        session, member_id=world.members_a[1].id, amount_fen=DEPOSIT, received_on=DAY1
    )
    opened = liquidation.start(session, world.a.id, on=DAY1, reason="撤销", actor="县办")
    liquidation.close_books(session, opened.id, on=DAY1, actor="县办")
    for n, level in enumerate(CapitalLevel, start=1):
        liquidation.name_capital_account(
            session, opened.id, level, account_number=f"910000{n}", account_name=f"{level} 专户",
            actor="县办",
        )  # fmt: skip
    refunds = liquidation.request_refunds(session, opened.id, on=DAY1, actor="县办")
    returns = liquidation.request_capital_returns(session, opened.id, on=DAY1, actor="县办")
    session.commit()
    return opened.id, refunds, returns


def test_a_paid_refund_is_booked_and_a_refused_return_is_to_be_paid_again(settle: Settle) -> None:
    liquidation_id, refunds, returns = _requested(settle)
    [refund] = refunds
    refused = next(p for p in returns if p.kind is PayoutKind.CAPITAL_RETURN)
    purposes = {i.end_to_end_id: (i.purpose, i.loan_id, i.status) for i in settle.instructions()}
    assert purposes[refund.end_to_end_id] == (
        PaymentPurpose.DEPOSIT_REFUND,
        None,
        InstructionStatus.PENDING,
    )
    assert purposes[refused.end_to_end_id][0] is PaymentPurpose.CAPITAL_RETURN

    run_date(settle.nightly, DAY1, ("batches",))
    settle.bank.answer(
        DAY1,
        lambda e2e, amount: (
            (ResultStatus.REJECTED, 0, "AC01")
            if e2e == refused.end_to_end_id
            else (ResultStatus.SETTLED, amount, None)
        ),
    )
    run_date(settle.nightly, DAY1 + timedelta(days=1), ("fetch", "results"))

    session = settle.fresh()
    a = settle.world.a.id
    payouts = {
        p.end_to_end_id: p
        for p in session.scalars(
            select(LiquidationPayout).where(LiquidationPayout.liquidation_id == liquidation_id)
        )
    }
    instructions = {i.end_to_end_id: i for i in session.scalars(select(PaymentInstruction))}
    paid = payouts[refund.end_to_end_id]
    assert paid.status is PayoutStatus.SETTLED
    assert paid.settled_on == DAY1
    assert instructions[refund.end_to_end_id].status is InstructionStatus.SETTLED
    assert instructions[refund.end_to_end_id].journal_transaction_id == paid.journal_transaction_id
    journal = session.get(JournalTransaction, paid.journal_transaction_id)
    assert journal is not None
    assert journal.external_ref == refund.end_to_end_id
    assert balance(session, a, AccountCode.MEMBER_DEPOSITS) == 0
    session.refresh(settle.world.members_a[1])
    assert settle.world.members_a[1].deposit_fen == 0

    failed = payouts[refused.end_to_end_id]
    assert failed.status is PayoutStatus.FAILED
    assert "AC01" in (failed.failure_reason or "")
    assert instructions[refused.end_to_end_id].status is InstructionStatus.FAILED
    # the refused level's capital is still on the books, the others' are gone
    assert balance(session, a, AccountCode.BANK_SUB_ACCOUNT) == refused.amount_fen
    items = session.scalars(
        select(FollowUpItem).where(FollowUpItem.kind == FollowUpKind.DISBURSEMENT_FAILED)
    ).all()
    assert [i.instruction_id for i in items] == [instructions[refused.end_to_end_id].id]
    assert "待重新支付" in items[0].message_zh

    steps = {s.step: s for s in liquidation.progress(session, liquidation_id)}
    assert steps[liquidation.Step.REFUND].done
    assert not steps[liquidation.Step.RETURN_CAPITAL].done
    [waiting] = steps[liquidation.Step.RETURN_CAPITAL].remaining
    assert "待重新支付" in waiting
    assert "AC01" in waiting

    # requested again: a second attempt, a new instruction, waiting for the next batch
    [again] = liquidation.request_capital_returns(
        session, liquidation_id, on=DAY1 + timedelta(days=1), actor="县办"
    )
    session.commit()
    assert (again.level, again.amount_fen, again.attempt) == (refused.level, refused.amount_fen, 2)
    carried = session.get(PaymentInstruction, again.instruction_id)
    assert carried is not None
    assert carried.status is InstructionStatus.PENDING
    assert carried.end_to_end_id == again.end_to_end_id != refused.end_to_end_id
    steps = {s.step: s for s in liquidation.progress(session, liquidation_id)}
    assert ["待组批" in line for line in steps[liquidation.Step.RETURN_CAPITAL].remaining] == [True]


def test_a_payout_above_the_banks_file_limit_is_to_be_paid_again(settle: Settle) -> None:
    settle.profile = bank_profile(limits={"max_amount_fen_per_file": 100_000})
    liquidation_id, refunds, returns = _requested(settle)
    over = [p for p in returns if p.amount_fen > 100_000]
    assert over
    run_date(settle.nightly, DAY1, ("batches",))
    session = settle.fresh()
    for payout in over:
        session.refresh(payout)
        assert payout.status is PayoutStatus.FAILED
        assert "上限" in (payout.failure_reason or "")
        carried = session.get(PaymentInstruction, payout.instruction_id)
        assert carried is not None
        assert carried.status is InstructionStatus.FAILED
    # the refund under the limit went out in the batch
    [batch] = settle.bank.batches().values()
    assert [i.end_to_end_id for i in batch.instructions] == [
        p.end_to_end_id for p in [*refunds, *returns] if p.amount_fen <= 100_000
    ]
    steps = {s.step: s for s in liquidation.progress(session, liquidation_id)}
    remaining = steps[liquidation.Step.RETURN_CAPITAL].remaining
    assert sum("待重新支付" in line for line in remaining) == len(over)
