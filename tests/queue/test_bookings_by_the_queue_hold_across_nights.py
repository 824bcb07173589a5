"""What a person books or decides in the queue holds on the nights after: the entry is dated
so no night finds the books short, money is booked where it sits, and the second person is a
second person whatever spelling of a name is given."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from gateway.errors import RuleViolation, ValidationFailed
from gateway.ledger.models import AccountCode, JournalTransaction
from gateway.queue import service as queue
from gateway.queue.models import ItemStatus, QueueItem
from tests.recon_support import Nights

STRANGER = "6230000099998888"


@pytest.fixture
def nights(tmp_path: Path) -> Iterator[Nights]:
    built = Nights(tmp_path)
    yield built
    built.close()


def _unknown_deposit(nights: Nights, amount_fen: int = 33_300) -> QueueItem:
    nights.night([nights.line(nights.sub_b, amount_fen, counterparty_account=STRANGER)])
    return nights.item("unmatched_bank")


def test_an_adjusting_entry_is_dated_the_next_date_to_reconcile_and_later_nights_agree(
    nights: Nights,
) -> None:
    item = _unknown_deposit(nights)
    next_day = nights.day  # the night() above moved on to the next date to reconcile
    session = nights.settle.fresh()
    queue.resolve_adjusting_entry(session, item.id, actor="alice", reason="来源待查，暂记")
    session.commit()
    resolved = nights.item("unmatched_bank")
    assert resolved.status is ItemStatus.RESOLVED
    booked = session.get(JournalTransaction, resolved.journal_transaction_id)
    assert booked is not None
    assert booked.business_date == next_day
    # three nights on: no balance break, no entry "not shown by the bank", the item confirmed
    for _ in range(3):
        assert nights.night().exceptions == ()
    assert nights.item("unmatched_bank").status is ItemStatus.CLOSED


def test_an_entry_dated_after_the_next_date_to_reconcile_is_refused(nights: Nights) -> None:
    item = _unknown_deposit(nights)
    session = nights.settle.fresh()
    with pytest.raises(ValidationFailed) as refused:
        queue.resolve_adjusting_entry(
            session,
            item.id,
            actor="alice",
            reason="来源待查，暂记",
            on=nights.day + timedelta(days=3),
        )
    assert f"cannot be dated after {nights.day}" in refused.value.message_en
    session.rollback()
    assert nights.item("unmatched_bank").status is ItemStatus.OPEN


def test_money_on_a_sub_account_is_booked_to_its_association_after_a_reassignment(
    nights: Nights,
) -> None:
    item = _unknown_deposit(nights)  # on association b's sub-account
    session = nights.settle.fresh()
    queue.reassign(
        session, item.id, actor="alice", association_id=nights.world.a.id, note="疑为甲协会还款"
    )
    queue.resolve_adjusting_entry(session, item.id, actor="bob", reason="来源待查，暂记")
    session.commit()
    resolved = nights.item("unmatched_bank")
    booked = session.get(JournalTransaction, resolved.journal_transaction_id)
    assert booked is not None
    assert booked.association_id == nights.world.b.id  # where the money is, not a's books
    assert nights.night().exceptions == ()


@pytest.mark.parametrize("spelling", ["alice ", "Alice", " ALICE"])
def test_the_requester_cannot_decide_under_another_spelling_of_the_name(
    nights: Nights, spelling: str
) -> None:
    nights.night(
        [
            nights.line(nights.sub_b, 1_500_000, counterparty_account=STRANGER),
            nights.line(nights.sub_b, 700, counterparty_account=STRANGER),
        ]
    )
    large, small = sorted(nights.items("unmatched_bank"), key=lambda i: -(i.actual_fen or 0))
    session = nights.settle.fresh()
    # above the 10,000 yuan default limit: waits for a second person
    queue.resolve_adjusting_entry(session, large.id, actor="alice", reason="来源待查，暂记")
    queue.request_write_off(session, small.id, actor="alice", note="无法查明")
    for item in (large, small):
        with pytest.raises(RuleViolation) as refused:
            queue.review(session, item.id, actor=spelling, approve=True, note="")
        assert refused.value.code == "second_person_required"
    queue.review(session, large.id, actor="bob", approve=True, note="")
    assert large.status is ItemStatus.RESOLVED


def test_nobody_is_not_a_person(nights: Nights) -> None:
    item = _unknown_deposit(nights)
    session = nights.settle.fresh()
    with pytest.raises(ValidationFailed) as refused:
        queue.resolve_bank_error(session, item.id, actor=" ", note="已向银行反映")
    assert "must be named" in refused.value.message_en


def test_a_write_off_is_not_booked_as_an_adjusting_entry_without_its_reviewer(
    nights: Nights,
) -> None:
    item = _unknown_deposit(nights, 88_833)
    session = nights.settle.fresh()
    with pytest.raises(ValidationFailed) as refused:
        queue.resolve_adjusting_entry(
            session,
            item.id,
            actor="alice",
            reason="无法查明，核销",
            counter_account=AccountCode.WRITE_OFF,
        )
    assert "requested as a write-off" in refused.value.message_en


def test_an_adjusting_entry_for_a_missing_statement_is_refused_when_proposed(
    nights: Nights,
) -> None:
    nights.night(with_statement=False)  # a day without a statement: a gap, on no sub-account
    gap = nights.item("statement_gap")
    gap.expected_fen, gap.actual_fen = 0, 1_300_000  # a gap with figures, as after a jump
    session = nights.settle.session
    session.commit()
    with pytest.raises(RuleViolation) as refused:
        queue.resolve_adjusting_entry(session, gap.id, actor="alice", reason="补记缺失日")
    assert refused.value.code == "statement_gap_not_bookable"
    assert "Ask the bank for that day's statement" in refused.value.message_en
    session.rollback()
    assert nights.item("statement_gap").status is ItemStatus.OPEN


def test_a_rejected_proposal_leaves_no_resolution_behind(nights: Nights) -> None:
    item = _unknown_deposit(nights, 1_500_000)
    session = nights.settle.fresh()
    queue.resolve_adjusting_entry(session, item.id, actor="alice", reason="来源待查，暂记")
    queue.review(session, item.id, actor="bob", approve=False, note="先联系银行")
    session.commit()
    rejected = nights.item("unmatched_bank")
    assert (rejected.status, rejected.resolution) == (ItemStatus.OPEN, None)
    assert (rejected.resolution_note, rejected.resolved_by, rejected.proposal_json) == (
        None,
        None,
        None,
    )


def _ledger_break(nights: Nights) -> QueueItem:
    (found,) = [i for i in nights.items("balance_break") if i.subject.startswith("ledger:")]
    return found


def test_a_persisting_item_tells_tonights_figures(nights: Nights) -> None:
    nights.night(closing_delta={nights.sub_a: 5_000})
    first = _ledger_break(nights)
    assert "不明差额 50.00 元" in first.explanation
    nights.night(closing_delta={nights.sub_a: 2_000})  # the bank's figure moves on
    again = _ledger_break(nights)
    assert again.id == first.id
    assert (again.actual_fen or 0) - (again.expected_fen or 0) == 7_000
    assert "不明差额 70.00 元" in again.explanation
    assert "5000" not in again.explanation


def test_a_request_made_signed_in_cannot_be_approved_by_the_same_name_typed(
    nights: Nights,
) -> None:
    item = _unknown_deposit(nights, 1_500_000)
    session = nights.settle.fresh()
    # made in the console or the API (the signed-in name), decided on the command line
    queue.resolve_adjusting_entry(session, item.id, actor="user:alice", reason="来源待查，暂记")
    with pytest.raises(RuleViolation) as refused:
        queue.review(session, item.id, actor="alice", approve=True, note="")
    assert refused.value.code == "second_person_required"


def test_an_entry_cannot_be_dated_before_the_problem_arose(nights: Nights) -> None:
    item = _unknown_deposit(nights)
    session = nights.settle.fresh()
    with pytest.raises(ValidationFailed) as refused:
        queue.resolve_adjusting_entry(
            session, item.id, actor="alice", reason="来源待查，暂记", on=date(1, 1, 1)
        )
    assert f"cannot be dated before {item.first_seen}" in refused.value.message_en


def test_an_amount_mismatch_with_an_expected_instalment_is_settled_on_the_loan(
    nights: Nights,
) -> None:
    loan, card, first = nights.disbursed_loan()
    short = first.principal_fen + first.fee_fen - 10_000  # the borrower paid 100 yuan short
    nights.night(
        [
            nights.line(
                nights.sub_a,
                short,
                counterparty_account=card,
                remittance=f"还款 {loan.contract_no}",
            )
        ]
    )
    item = nights.item("amount_mismatch")
    assert any(e.startswith("s:") for e in queue.item_entry_ids(item))
    session = nights.settle.fresh()
    # nor offered: no entry, no write-off, and no dismissal while the transfer is unbooked
    assert queue.refused_resolutions(session, item) == {"adjusting_entry", "write_off", "dismiss"}
    for resolve in (
        lambda: queue.resolve_adjusting_entry(session, item.id, actor="alice", reason="差额暂记"),
        lambda: queue.request_write_off(session, item.id, actor="alice", note="差额核销"),
    ):
        # refused when asked, not when the second person approves and nothing can be matched
        with pytest.raises(ValidationFailed) as refused:
            resolve()
        assert "record the repayment on the loan" in refused.value.message_en
    session.rollback()
    assert nights.item("amount_mismatch").status is ItemStatus.OPEN
