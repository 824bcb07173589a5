"""A refusal tells the treasurer the state a loan, an association or a queue item is in by its
Chinese name, never by the identifier the database stores."""

from __future__ import annotations

from datetime import date

import pytest

from gateway.errors import HuzhuError
from gateway.liquidation import service as liquidation
from gateway.loans import service as loans
from gateway.testing import World


def test_a_loan_already_paid_out_cannot_be_rejected_and_says_so_in_chinese(world: World) -> None:
    loan = world.apply(world.members_a[0], amount_fen=100_000)
    world.approve(loan)
    world.release(loan)
    loans.mark_disbursed(world.session, loan.id, business_date=world.today)

    with pytest.raises(HuzhuError) as refused:
        loans.reject(world.session, loan.id, reason="材料不全")

    assert refused.value.message_zh == f"借款 {loan.contract_no} 当前状态为已放款，不能办理此操作"
    assert "disbursed" in refused.value.message_en


def test_an_association_being_liquidated_refuses_loans_naming_its_state(world: World) -> None:
    liquidation.start(world.session, world.a.id, on=date(2024, 6, 1), reason="撤销", actor="县办")

    with pytest.raises(HuzhuError) as refused:
        world.apply(world.members_a[1])

    assert "当前状态为撤销清算中，不能办理借款" in refused.value.message_zh
    assert "liquidating" not in refused.value.message_zh
