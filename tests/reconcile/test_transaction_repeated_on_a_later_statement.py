"""A bank transaction id that an earlier night's statement showed, shown again on a later
statement: the later line is a copy, reported as a duplicate, never booked a second time."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select

from adapters.records import Channel
from gateway.queue.endpoints import evidence
from gateway.reconcile.models import AutoPosting, OpenItem, SeenTransaction
from gateway.reconcile.service import SEEN_TRANSACTION_DAYS
from tests.recon_support import ON_EACH_DATABASE, Nights

pytestmark = ON_EACH_DATABASE


def test_a_fee_line_printed_again_the_next_day_is_a_duplicate_not_a_second_fee(
    nights: Nights,
) -> None:
    fee = nights.line(nights.sub_a, 300, credit=False, channel=Channel.FEE, remittance="手续费")
    first = nights.night([fee])
    assert (first.exceptions, first.auto_postings) == ((), 1)

    # the next statement prints the same transaction again; the bank did not book it twice
    reprint = replace(fee, booking_date=nights.day)
    second = nights.night([reprint], closing_delta={nights.sub_a: 300})

    (duplicate,) = second.exceptions
    assert duplicate.kind.value == "duplicate"
    assert duplicate.subject == f"txn:{fee.bank_transaction_id}"
    assert duplicate.line_ids == (f"STMT{reprint.booking_date:%Y%m%d}:1",)  # the copy alone
    assert second.auto_postings == 0
    session = nights.settle.fresh()
    assert sorted(session.scalars(select(AutoPosting.kind))) == ["bank_fee"]  # booked once
    assert session.scalars(select(OpenItem)).all() == []  # the copy is not carried
    assert [i.kind for i in nights.items()] == ["duplicate"]


@pytest.mark.parametrize("txn", ["T-PLAIN-1", "T\x1fODD-1"], ids=["plain", "unit-separator"])
def test_a_reprinted_id_is_found_whatever_characters_it_holds(nights: Nights, txn: str) -> None:
    """The earlier ids are looked up in one request; an id holding the character that request
    splits on is looked up another way, and found just the same."""
    fee = nights.line(
        nights.sub_a,
        300,
        credit=False,
        channel=Channel.FEE,
        remittance="手续费",
        bank_transaction_id=txn,
    )
    nights.night([fee])
    second = nights.night(
        [replace(fee, booking_date=nights.day)], closing_delta={nights.sub_a: 300}
    )
    assert [(x.kind.value, x.subject) for x in second.exceptions] == [("duplicate", f"txn:{txn}")]


def test_a_line_carried_open_is_not_its_own_duplicate(nights: Nights) -> None:
    stranger = nights.line(nights.sub_a, 70_000, counterparty_account="6230999900000001")
    first = nights.night([stranger])
    assert [x.kind.value for x in first.exceptions] == ["unmatched_bank"]

    second = nights.night([])
    assert [x.kind.value for x in second.exceptions] == ["unmatched_bank"]
    session = nights.settle.fresh()
    (kept,) = session.scalars(select(SeenTransaction)).all()
    assert (kept.bank_transaction_id, kept.line_id) == (
        stranger.bank_transaction_id,
        first.exceptions[0].line_ids[0],
    )
    assert [i.kind for i in nights.items()] == ["unmatched_bank"]  # one item, persisting


def test_the_record_of_seen_ids_forgets_them_after_the_window(nights: Nights) -> None:
    fee = nights.line(nights.sub_a, 300, credit=False, channel=Channel.FEE, remittance="手续费")
    nights.night([fee])
    session = nights.settle.fresh()
    assert [s.bank_transaction_id for s in session.scalars(select(SeenTransaction))] == [
        fee.bank_transaction_id
    ]
    forgotten_on = nights.day + timedelta(days=SEEN_TRANSACTION_DAYS)
    while nights.day < forgotten_on:  # days are reconciled in order, none skipped
        nights.night()
    assert len(nights.settle.fresh().scalars(select(SeenTransaction)).all()) == 1, "remembered"
    nights.night()
    assert nights.settle.fresh().scalars(select(SeenTransaction)).all() == [], "forgotten"


def test_the_copy_not_carried_is_kept_as_the_duplicates_evidence(nights: Nights) -> None:
    """The copy is closed in the run that finds it, never open; the item keeps the line so its
    page shows what the bank printed again."""
    fee = nights.line(nights.sub_a, 300, credit=False, channel=Channel.FEE, remittance="手续费")
    nights.night([fee])
    nights.night([replace(fee, booking_date=nights.day)], closing_delta={nights.sub_a: 300})
    (item,) = nights.items()
    (line,), _ = evidence(nights.settle.fresh(), item)
    assert (line.amount_fen, line.credit, line.remittance, line.still_open) == (
        300,
        False,
        "手续费",
        False,
    )
