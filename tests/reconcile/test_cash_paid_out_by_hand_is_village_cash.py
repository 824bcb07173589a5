"""A loan a county in its transitional cash mode lets an association pay out in cash never
reaches the bank, so no statement line will ever show it. The night it is booked, the reconciler
still flags it as village cash (the books recorded cash), once, against the association; the
queue item stays open for a person on the nights after, and nothing is owed by the bank."""

from __future__ import annotations

from sqlalchemy import select

from gateway.ledger.models import JournalTransaction, LedgerChannel, TransactionKind
from gateway.loans import service as loans
from gateway.payments import service as payments
from gateway.queue.models import ItemStatus, NightState
from gateway.reconcile.source import ENTRY_PREFIX
from gateway.settings import CashMode
from reconciliation.findings import ExceptionKind
from tests.recon_support import ON_EACH_DATABASE, Nights

pytestmark = ON_EACH_DATABASE


def test_a_loan_paid_out_in_cash_is_village_cash_on_its_night(nights: Nights) -> None:
    world = nights.world
    world.county.cash_mode = CashMode.TRANSITIONAL
    cash_loan = world.apply(world.members_a[0], amount_fen=200_000, channel=LedgerChannel.CASH)
    world.approve(cash_loan)
    loans.release_for_payment(
        nights.session, cash_loan.id, on=nights.day, on_released=payments.on_loan_released
    )
    nights.session.commit()
    payout = (
        nights.settle.fresh()
        .scalars(
            select(JournalTransaction).where(
                JournalTransaction.kind == str(TransactionKind.DISBURSEMENT)
            )
        )
        .one()
    )
    assert payout.channel is LedgerChannel.CASH

    first = nights.night()
    (cash,) = first.exceptions
    assert cash.kind is ExceptionKind.VILLAGE_CASH
    assert cash.entry_ids == (f"{ENTRY_PREFIX}{payout.id.hex}",)
    assert (cash.sub_account, cash.expected_fen) == (nights.sub_a, -200_000)
    assert "库存现金" in cash.detail
    item = nights.item("village_cash")
    assert (item.association_id, item.status) == (world.a.id, ItemStatus.OPEN)

    # the next night does not raise it again, and does not clear it either: a person decides
    assert nights.night().exceptions == ()
    (still,) = nights.items("village_cash")
    assert (still.id, still.status, still.night_state) == (
        item.id,
        ItemStatus.OPEN,
        NightState.GONE,
    )
    assert nights.items("unmatched_book") == []
