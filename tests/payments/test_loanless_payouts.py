"""Payments that are not loans: a member's deposit refunded to their card and capital returned
to an account the county names travel in the normal batches, out of the association's own
sub-account; the database refuses a loan payment without its loan."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from adapters.records import Direction
from gateway.errors import Conflict
from gateway.jobs.pipeline import run_date
from gateway.members.service import card_number
from gateway.payments.models import (
    InstructionStatus,
    PaymentInstruction,
    PaymentPurpose,
)
from gateway.payments.service import create_payout
from tests.settle_support import CIPHER, DAY1, Settle, settle_on_database


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def settle(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settle]:
    yield from settle_on_database(request, tmp_path)


def test_refund_and_capital_return_are_rendered_into_one_disbursement_file(
    settle: Settle,
) -> None:
    session, world = settle.session, settle.world
    member = world.members_a[1]
    refund = create_payout(
        session,
        purpose=PaymentPurpose.DEPOSIT_REFUND,
        association_id=world.a.id,
        amount_fen=15_050,
        end_to_end_id="HZLTESTR01",
        business_date=DAY1,
        cause="退还互助金",
        member_id=member.id,
    )
    capital = create_payout(
        session,
        purpose=PaymentPurpose.CAPITAL_RETURN,
        association_id=world.a.id,
        amount_fen=1_000_000,
        end_to_end_id="HZLTESTC01",
        business_date=DAY1,
        cause="退还市级财政资金",
        payee_account=" 9200001 ",
        payee_name="市财政局专户",
    )
    session.commit()
    assert refund.loan_id is None
    assert capital.member_id is None
    assert capital.payee_account == "9200001"

    run_date(settle.nightly, DAY1, ("batches",))
    batches = list(settle.bank.batches().values())
    assert len(batches) == 1
    (batch,) = batches
    assert batch.direction is Direction.DISBURSEMENT
    lines = {i.end_to_end_id: i for i in batch.instructions}
    assert set(lines) == {"HZLTESTR01", "HZLTESTC01"}
    card = card_number(settle.fresh(), CIPHER, member.id)
    assert (lines["HZLTESTR01"].creditor_account, lines["HZLTESTR01"].amount_fen) == (
        card,
        15_050,
    )
    assert lines["HZLTESTR01"].creditor_name == member.name
    assert (lines["HZLTESTC01"].creditor_account, lines["HZLTESTC01"].creditor_name) == (
        "9200001",
        "市财政局专户",
    )
    for line in lines.values():
        assert line.debtor_account == world.a.sub_account_number
        assert "撤销清算" in line.remittance
    statuses = {i.end_to_end_id: i.status for i in settle.instructions()}
    assert statuses == {"HZLTESTR01": InstructionStatus.SENT, "HZLTESTC01": InstructionStatus.SENT}
    # the batch is delivered once: the next day's run sends nothing more
    run_date(settle.nightly, DAY1 + timedelta(days=1), ("batches",))
    assert len(settle.bank.batches()) == 1


def test_a_refund_goes_only_to_a_member_of_the_same_association(settle: Settle) -> None:
    world = settle.world
    with pytest.raises(Conflict, match="same association"):
        create_payout(
            settle.session,
            purpose=PaymentPurpose.DEPOSIT_REFUND,
            association_id=world.a.id,
            amount_fen=10_000,
            end_to_end_id="HZLTESTR02",
            business_date=DAY1,
            cause="退还互助金",
            member_id=world.members_b[0].id,
        )
    assert settle.session.scalars(select(PaymentInstruction)).all() == []


@pytest.mark.parametrize(
    ("purpose", "amount_fen", "account", "message"),
    [
        (PaymentPurpose.CAPITAL_RETURN, 10_000, "  ", "payee's account"),
        (PaymentPurpose.CAPITAL_RETURN, 0, "9200001", "positive"),
        (PaymentPurpose.LOAN, 10_000, "9200001", "releasing"),
    ],
)
def test_a_payout_without_payee_amount_or_proper_purpose_is_refused(
    settle: Settle, purpose: PaymentPurpose, amount_fen: int, account: str, message: str
) -> None:
    with pytest.raises(Conflict, match=message):
        create_payout(
            settle.session,
            purpose=purpose,
            association_id=settle.world.a.id,
            amount_fen=amount_fen,
            end_to_end_id="HZLTESTC02",
            business_date=DAY1,
            cause="退还财政资金",
            payee_account=account,
            payee_name="县财政局",
        )


def test_the_database_refuses_a_loan_payment_without_its_loan(settle: Settle) -> None:
    world = settle.world
    settle.session.add(
        PaymentInstruction(
            end_to_end_id="HZDNOLOAN01",
            direction=Direction.DISBURSEMENT,
            status=InstructionStatus.PENDING,
            purpose=PaymentPurpose.LOAN,
            association_id=world.a.id,
            special_account_id=world.a.special_account_id,
            loan_id=None,
            member_id=world.members_a[0].id,
            attempt=1,
            amount_fen=10_000,
            principal_fen=10_000,
            fee_fen=0,
            requested_date=DAY1,
            settled_amount_fen=0,
        )
    )
    with pytest.raises(IntegrityError, match="loan_has_loan"):
        settle.session.flush()
    settle.session.rollback()


def test_the_database_refuses_a_payout_with_no_one_to_pay(settle: Settle) -> None:
    world = settle.world
    settle.session.add(
        PaymentInstruction(
            end_to_end_id="HZLNOPAYEE1",
            direction=Direction.DISBURSEMENT,
            status=InstructionStatus.PENDING,
            purpose=PaymentPurpose.CAPITAL_RETURN,
            association_id=world.a.id,
            special_account_id=world.a.special_account_id,
            loan_id=None,
            member_id=None,
            attempt=1,
            amount_fen=10_000,
            principal_fen=10_000,
            fee_fen=0,
            requested_date=DAY1,
            settled_amount_fen=0,
        )
    )
    with pytest.raises(IntegrityError, match="has_payee"):
        settle.session.flush()
    settle.session.rollback()
