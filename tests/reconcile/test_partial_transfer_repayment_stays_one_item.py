"""A borrower's own transfer that does not equal the instalment it names is an amount
mismatch. Carried night after night, its line falls out of the date window of the instalment
expected each night and is then an unmatched bank line: the same money, so the same item, its
kind changed with that in its history, never closed as if someone had resolved it."""

from __future__ import annotations

from gateway.queue import service as queue
from gateway.queue.models import ItemStatus
from tests.recon_support import Nights


def test_a_partial_transfer_repayment_stays_one_open_item_as_its_kind_changes(
    nights: Nights,
) -> None:
    loan, card, first = nights.disbursed_loan()
    due = first.principal_fen + first.fee_fen
    partial = nights.line(
        nights.sub_a,
        due - 10_000,
        remittance=f"还款 借款 {loan.contract_no}",
        counterparty_account=card,
        counterparty_name="借款人",
    )
    raised_on = nights.day
    assert nights.night([partial]).kinds == {"amount_mismatch": 1}

    for _ in range(4):  # nobody acts on it
        nights.night()

    (item,) = nights.items()
    assert item.status is ItemStatus.OPEN
    assert item.resolution is None
    assert item.first_seen == raised_on
    assert item.kind == "unmatched_bank"
    assert item.actual_fen == due - 10_000
    history = queue.history(nights.settle.fresh(), item.id)
    assert [e.action for e in history if e.action in ("raised", "kind_changed", "cleared")] == [
        "raised",
        "kind_changed",
    ]
    (changed,) = [e for e in history if e.action == "kind_changed"]
    assert "amount_mismatch" in changed.note
    assert "unmatched_bank" in changed.note
