"""A day the bank sent no statement for, on which it paid a loan out.

The next statement opens lower by exactly the payment: the missing day is a statement gap and
nothing else; the books' entry is taken as shown by the missing statement (no "not shown by the
bank" item after the pending days, no balance break night after night). When the bank's balance
moved by anything the books do not hold, the balance check still breaks.
"""

from __future__ import annotations

from sqlalchemy import select

from adapters.records import Channel
from gateway.audit.models import AuditEvent
from gateway.reconcile.models import OpenItem
from tests.recon_support import ON_EACH_DATABASE, Nights

pytestmark = ON_EACH_DATABASE


def _open_entries(nights: Nights) -> list[str]:
    return list(
        nights.settle.fresh().scalars(select(OpenItem.item_id).where(OpenItem.item_type == "entry"))
    )


def test_a_payment_on_a_day_without_statement_is_the_gap_alone(nights: Nights) -> None:
    nights.night()
    missing = nights.day
    paid = nights.paid_out_today(240_000)
    nights.statement([paid])  # the bank paid it out ...
    assert nights.night(with_statement=False).kinds == {"statement_gap": 1}  # ... and sent nothing
    assert len(_open_entries(nights)) == 1  # waiting for the bank to show it

    after = nights.night()  # opens 2,400 yuan lower on sub-account 1
    assert after.kinds == {"statement_gap": 1}
    assert _open_entries(nights) == []
    for _ in range(5):  # past the pending days: nothing comes back
        assert nights.night().kinds == {}
    (gap,) = nights.items()
    assert (gap.kind, gap.subject) == ("statement_gap", f"missing:{missing.isoformat()}")

    # the run that took the entry as shown by the missing statement says so in the audit log
    payloads = [
        e.payload
        for e in nights.settle.fresh().scalars(
            select(AuditEvent).where(AuditEvent.action == "reconcile.run")
        )
    ]
    shown = [p["shown_by_missing_statement"] for p in payloads if "shown_by_missing_statement" in p]
    assert len(shown) == 1
    assert len(shown[0]) == 1


def test_money_the_books_do_not_hold_on_a_missing_day_still_breaks_the_balance(
    nights: Nights,
) -> None:
    nights.night()
    paid = nights.paid_out_today(240_000)
    cash = nights.line(nights.sub_a, 500, credit=False, channel=Channel.CASH)
    nights.statement([paid, cash])  # 2,405 yuan left the sub-account that day
    nights.night(with_statement=False)

    after = nights.night()
    assert after.kinds == {"statement_gap": 1, "balance_break": 1}
    (brk,) = nights.items("balance_break")
    assert brk.subject == f"ledger:{nights.sub_a}"
    assert len(_open_entries(nights)) == 1  # the payment is not taken as shown


def test_a_payment_the_bank_books_after_the_missing_day_is_matched_as_usual(
    nights: Nights,
) -> None:
    nights.night()
    paid = nights.paid_out_today(240_000)
    nights.statement([])  # the bank moved nothing that day
    nights.night(with_statement=False)

    booked_late = nights.line(
        nights.sub_a,
        paid.amount_fen,
        credit=False,
        end_to_end_id=paid.end_to_end_id,
        counterparty_account=paid.counterparty_account,
    )
    after = nights.night([booked_late])  # it books the payment the day after
    assert after.kinds == {"statement_gap": 1}
    assert after.matched_lines == 1
    assert _open_entries(nights) == []
    assert nights.night().kinds == {}
