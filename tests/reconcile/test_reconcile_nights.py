"""Reconciliation nights in the gateway: automatic bookings and their undoing, bank fees and
interest, the statement read from the stored bank file, the hash chain, dates done once."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from adapters.base import Adapter
from adapters.records import Channel
from gateway.audit.models import AuditEvent
from gateway.errors import Conflict
from gateway.ledger.models import AccountCode, JournalTransaction
from gateway.ledger.service import balance
from gateway.loans.models import Loan, LoanStatus
from gateway.payments.models import RepaymentScheduleLine, ScheduleLineStatus
from gateway.reconcile.models import AutoPosting, OpenItem, ReconRun
from gateway.reconcile.service import reconcile_account, reconcile_business_date, undo_auto_posting
from tests.recon_support import Nights, store_statement


def test_a_borrowers_exact_transfer_is_booked_automatically_and_can_be_undone(
    nights: Nights,
) -> None:
    loan, card, first = nights.disbursed_loan()
    due = first.principal_fen + first.fee_fen
    transfer = nights.line(
        nights.sub_a, due, counterparty_account=card, remittance=f"还款 {loan.contract_no}"
    )
    outcome = nights.night([transfer])
    assert (outcome.exceptions, outcome.auto_postings) == ((), 1)
    session = nights.settle.fresh()
    auto = session.scalars(select(AutoPosting)).one()
    assert (auto.kind, auto.amount_fen, auto.principal_fen + auto.fee_fen) == (
        "repayment",
        due,
        due,
    )
    posted = session.get(JournalTransaction, auto.journal_transaction_id)
    assert posted is not None
    assert (posted.kind, posted.total_fen, posted.created_by) == ("repayment", due, "reconciler")
    line = session.get(RepaymentScheduleLine, first.id)
    assert line is not None
    assert line.status is ScheduleLineStatus.PAID
    assert session.get(Loan, loan.id).principal_repaid_fen == first.principal_fen  # type: ignore[union-attr]
    assert session.scalars(select(OpenItem)).all() == []  # booked: nothing left open

    undo_auto_posting(session, auto.id, actor="alice", reason="该笔为代缴保证金", on=nights.day)
    session.commit()
    session = nights.settle.fresh()
    line = session.get(RepaymentScheduleLine, first.id)
    assert line is not None
    assert (line.status, line.paid_principal_fen, line.paid_fee_fen) == (
        ScheduleLineStatus.OPEN,
        0,
        0,
    )
    reloaded = session.get(Loan, loan.id)
    assert reloaded is not None
    assert (reloaded.principal_repaid_fen, reloaded.status) == (0, LoanStatus.DISBURSED)
    assert session.scalars(select(OpenItem.item_type)).all() == ["line"]
    with pytest.raises(Conflict):
        undo_auto_posting(session, auto.id, actor="alice", reason="again", on=nights.day)
    session.rollback()
    # never booked again: the line is now for a person, and the books still agree
    after = nights.night()
    assert after.auto_postings == 0
    assert [(x.kind.value, x.subject) for x in after.exceptions] == [("unmatched_bank", "undone")]


def test_an_overdue_borrowers_own_transfer_makes_the_loan_repaying_again_until_undone(
    nights: Nights,
) -> None:
    """The bank's collection of instalment 1 failed and it is past due; the borrower then
    pays it by transfer naming the contract. Booked automatically, the loan is no longer
    overdue; undoing the booking makes it overdue again."""
    loan, card, first = nights.disbursed_loan()
    session = nights.settle.fresh()
    line = session.get(RepaymentScheduleLine, first.id)
    late = session.get(Loan, loan.id)
    assert line is not None
    assert late is not None
    line.due_on = nights.day - timedelta(days=3)
    line.status = ScheduleLineStatus.OVERDUE
    late.status = LoanStatus.OVERDUE
    late.was_overdue = True
    session.commit()

    transfer = nights.line(
        nights.sub_a,
        first.principal_fen + first.fee_fen,
        counterparty_account=card,
        remittance=f"还款 {loan.contract_no}",
    )
    day = nights.day
    assert nights.night([transfer]).auto_postings == 1
    session = nights.settle.fresh()
    repaying = session.get(Loan, loan.id)
    assert repaying is not None
    assert (repaying.status, repaying.was_overdue) == (LoanStatus.REPAYING, True)
    caught_up = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "loan.caught_up")
    ).one()
    assert (caught_up.actor, caught_up.object_id) == ("reconciler", str(loan.id))

    auto = session.scalars(select(AutoPosting)).one()
    undo_auto_posting(session, auto.id, actor="alice", reason="转账人并非借款人", on=day)
    session.commit()
    undone = nights.settle.fresh().get(Loan, loan.id)
    assert undone is not None
    assert undone.status is LoanStatus.OVERDUE


def test_bank_fees_and_interest_are_booked_automatically(nights: Nights) -> None:
    fee = nights.line(nights.sub_a, 300, credit=False, channel=Channel.FEE, remittance="手续费")
    interest = nights.line(nights.sub_b, 1_234, channel=Channel.INTEREST, remittance="结息")
    outcome = nights.night([fee, interest])
    assert (outcome.exceptions, outcome.auto_postings) == ((), 2)
    session = nights.settle.fresh()
    assert sorted(session.scalars(select(AutoPosting.kind))) == ["bank_fee", "interest"]
    assert balance(session, nights.world.a.id, AccountCode.EXPENSE_OTHER) == 300
    assert balance(session, nights.world.b.id, AccountCode.DEPOSIT_INTEREST) == 1_234
    assert nights.night().exceptions == ()


def test_a_date_is_reconciled_once(nights: Nights) -> None:
    nights.night()
    session = nights.settle.fresh()
    with pytest.raises(Conflict) as refused:
        reconcile_account(session, nights.special_id, nights.day - timedelta(days=1))
    assert refused.value.code == "already_reconciled"
    session.rollback()
    assert len(session.scalars(select(ReconRun)).all()) == 1


def test_the_nightly_step_reads_stored_statements_and_catches_up_in_order(
    nights: Nights,
) -> None:
    adapter = nights.settle.profile.adapter
    session = nights.settle.fresh()
    first = nights.day
    for n in range(3):
        statement = nights.statement(
            [nights.line(nights.sub_b, 10_000 + n, counterparty_account="6230000011112222")]
        )
        store_statement(session, adapter, statement, nights.day + timedelta(days=1))
        nights.day += timedelta(days=1)
    session.commit()

    def adapter_for(code: str) -> Adapter:
        assert code == "tbank"
        return adapter

    # the first night reconciles the day before the run date only
    (only,) = reconcile_business_date(session, first + timedelta(days=1), adapter_for=adapter_for)
    assert (only.business_date, only.has_statement, only.lines) == (first, True, 1)
    # three days later it catches up the two days it missed, oldest first, then stops
    caught = reconcile_business_date(session, first + timedelta(days=3), adapter_for=adapter_for)
    assert [o.business_date for o in caught] == [first + timedelta(days=1), first + timedelta(2)]
    assert (
        reconcile_business_date(session, first + timedelta(days=3), adapter_for=adapter_for) == []
    )
    session.commit()

    runs = session.scalars(select(ReconRun).order_by(ReconRun.business_date)).all()
    # each day's unmatched transfer is found and kept: three lines open at the end
    assert [r.open_line_count for r in runs] == [1, 2, 3]
    # the stored statements are the bytes that were hashed, each naming its predecessor
    previous = ""
    for run in runs:
        assert hashlib.sha256(run.statement_json.encode()).hexdigest() == run.statement_hash
        assert json.loads(run.statement_json)["previous_hash"] == previous == run.previous_hash
        previous = run.statement_hash
