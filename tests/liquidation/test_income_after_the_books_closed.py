"""The bank pays its quarterly deposit interest (结息) after an association's books were closed
for liquidation: the office carries it to capital by closing again, once no capital payout is
with the bank, and it goes back with the county's share, so every account still ends at zero."""

from __future__ import annotations

from datetime import date

import pytest

from gateway.capital.models import CapitalSource
from gateway.capital.service import record_contribution, record_member_deposit
from gateway.errors import RuleViolation
from gateway.ledger.models import AccountCode, TransactionKind
from gateway.ledger.service import Posting, post, trial_balance
from gateway.liquidation import service as liquidation
from gateway.liquidation.models import CapitalLevel, LiquidationPayout, PayoutKind
from gateway.testing import World

ON = date(2024, 6, 1)
INTEREST_DAY = date(2024, 6, 21)


def _settle(world: World, payouts: list[LiquidationPayout], on: date) -> None:
    for payout in payouts:
        liquidation.settle_payout(world.session, payout, booked_on=on, actor="bank")


def _close_books_step(world: World, liquidation_id: int) -> tuple[bool, tuple[str, ...]]:
    (step,) = [
        s
        for s in liquidation.progress(world.session, liquidation_id)
        if s.step is liquidation.Step.CLOSE_BOOKS
    ]
    return step.done, step.remaining


def test_interest_paid_after_closing_is_carried_and_returned_with_the_countys_share(
    small_world: World,
) -> None:
    world, session = small_world, small_world.session
    a = world.a.id
    record_contribution(
        session, association_id=a, source=CapitalSource.COUNTY, amount_fen=200_000, received_on=ON
    )
    record_member_deposit(
        session, member_id=world.members_a[1].id, amount_fen=5_000, received_on=ON
    )
    opened = liquidation.start(session, a, on=ON, reason="合并到邻村", actor="县办")
    liquidation.close_books(session, opened.id, on=ON, actor="县办")
    for level in CapitalLevel:
        liquidation.name_capital_account(
            session, opened.id, level, account_number=f"9{level.value[:3]}",
            account_name=f"{level.value} 专户", actor="县办",
        )  # fmt: skip
    refunds = liquidation.request_refunds(session, opened.id, on=ON, actor="县办")
    returns = liquidation.request_capital_returns(session, opened.id, on=ON, actor="县办")

    post(
        session,
        association_id=a,
        business_date=INTEREST_DAY,
        description="存款利息",
        kind=TransactionKind.DEPOSIT_INTEREST,
        legs=[
            Posting.debit(AccountCode.BANK_SUB_ACCOUNT, 1_234),
            Posting.credit(AccountCode.DEPOSIT_INTEREST, 1_234),
        ],
    )
    done, remaining = _close_books_step(world, opened.id)
    assert not done
    assert remaining == ("结转后又记 存款利息收入 12.34 元，须再次结转",)
    # while the capital returns are with the bank, their amounts must not move
    with pytest.raises(RuleViolation) as waiting:
        liquidation.close_books(session, opened.id, on=INTEREST_DAY, actor="县办")
    assert waiting.value.code == "payouts_in_flight"

    _settle(world, [*refunds, *returns], ON)
    liquidation.close_books(session, opened.id, on=INTEREST_DAY, actor="县办")
    assert _close_books_step(world, opened.id) == (True, ())
    interest_back = liquidation.request_capital_returns(
        session, opened.id, on=INTEREST_DAY, actor="县办"
    )
    assert [(p.kind, p.level, p.amount_fen) for p in interest_back] == [
        (PayoutKind.SURPLUS_RETURN, CapitalLevel.COUNTY, 1_234)
    ]
    _settle(world, interest_back, INTEREST_DAY)

    left = {row.code: row.balance_fen for row in trial_balance(session, a).rows if row.balance_fen}
    assert left == {}
