"""A result file's settlements are booked as a set: every posting checked, linked to its
instruction, one audit event per association naming each instruction and amount; refusals in
the same file still go back to the loan one by one; a bad posting refuses the whole set."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from adapters.records import ResultStatus
from gateway.audit.models import AuditEvent
from gateway.audit.service import AuditEntry, association_chain, record_many, verify
from gateway.errors import LedgerError, NotFound
from gateway.ingestion.models import InboundFile
from gateway.jobs.pipeline import run_date
from gateway.ledger.models import AccountCode, JournalLeg, JournalTransaction, TransactionKind
from gateway.ledger.service import Posting, PostingRequest, balance, post_many
from gateway.loans.models import Loan, LoanStatus
from gateway.payments.models import InstructionStatus, RepaymentScheduleLine
from tests.settle_support import DAY1, Settle, settle_on_database

DAY2 = DAY1 + timedelta(days=1)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def settle(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settle]:
    yield from settle_on_database(request, tmp_path)


def test_a_file_of_settlements_is_booked_with_one_audit_event_per_association(
    settle: Settle,
) -> None:
    amounts = [400_000, 250_000, 130_000]
    loans = [settle.released_loan(a) for a in amounts]
    run_date(settle.nightly, DAY1)
    (name,) = settle.bank.answer(DAY1)
    run_date(settle.nightly, DAY2)

    session = settle.fresh()
    association = settle.world.a.id
    assert balance(session, association, AccountCode.LOANS_RECEIVABLE) == sum(amounts)
    for instruction in settle.instructions():
        assert instruction.status is InstructionStatus.SETTLED
        posted = session.get(JournalTransaction, instruction.journal_transaction_id)
        assert posted is not None
        assert posted.external_ref == instruction.end_to_end_id
        assert posted.total_fen == instruction.amount_fen
        assert posted.kind == TransactionKind.DISBURSEMENT.value
    for loan in loans:
        refreshed = session.get(Loan, loan.id)
        assert refreshed is not None
        assert refreshed.status is LoanStatus.DISBURSED
        assert refreshed.disbursed_on == DAY1
        lines = session.scalars(
            select(RepaymentScheduleLine).where(RepaymentScheduleLine.loan_id == loan.id)
        ).all()
        assert sum(line.principal_fen for line in lines) == loan.amount_fen
        assert [line.instalment_no for line in lines] == list(range(1, len(lines) + 1))

    (event,) = session.scalars(
        select(AuditEvent).where(
            AuditEvent.chain == association_chain(association),
            AuditEvent.action == "payments.results_settled",
        )
    ).all()
    assert event.payload["file"] == name
    assert event.payload["count"] == len(amounts)
    assert event.payload["total_fen"] == sum(amounts)
    named = {t["end_to_end_id"]: t["amount_fen"] for t in event.payload["transactions"]}
    assert named == {i.end_to_end_id: i.amount_fen for i in settle.instructions()}
    assert verify(session).ok


def test_a_refusal_beside_settlements_puts_its_loan_back_and_books_the_others(
    settle: Settle,
) -> None:
    kept = settle.released_loan(400_000)
    refused = settle.released_loan(250_000)
    run_date(settle.nightly, DAY1)
    refused_e2e = next(i.end_to_end_id for i in settle.instructions() if i.loan_id == refused.id)
    settle.bank.answer(
        DAY1,
        lambda e2e, amount: (
            (ResultStatus.REJECTED, 0, "AC04")
            if e2e == refused_e2e
            else (ResultStatus.SETTLED, amount, None)
        ),
    )
    run_date(settle.nightly, DAY2)

    session = settle.fresh()
    statuses = {i.loan_id: i.status for i in settle.instructions()}
    assert statuses == {kept.id: InstructionStatus.SETTLED, refused.id: InstructionStatus.FAILED}
    back = session.get(Loan, refused.id)
    assert back is not None
    assert back.status in (LoanStatus.COUNCIL_APPROVED, LoanStatus.COUNTY_APPROVED)
    assert balance(session, settle.world.a.id, AccountCode.LOANS_RECEIVABLE) == 400_000
    (file,) = session.scalars(select(InboundFile)).all()
    assert '"failed": 1' in file.summary_json
    assert '"settled": 1' in file.summary_json


def _counts(settle: Settle) -> tuple[int, int, int]:
    session = settle.fresh()
    return (
        int(session.scalar(select(func.count()).select_from(JournalTransaction)) or 0),
        int(session.scalar(select(func.count()).select_from(JournalLeg)) or 0),
        int(session.scalar(select(func.count()).select_from(AuditEvent)) or 0),
    )


def _request(association_id: int, debit: int, credit: int, ref: str) -> PostingRequest:
    return PostingRequest(
        association_id=association_id,
        business_date=DAY1,
        description=f"test {ref}",
        kind=TransactionKind.DISBURSEMENT,
        legs=[
            Posting.debit(AccountCode.LOANS_RECEIVABLE, debit),
            Posting.credit(AccountCode.BANK_SUB_ACCOUNT, credit),
        ],
        external_ref=ref,
    )


def test_post_many_books_every_transaction_of_two_associations(settle: Settle) -> None:
    a, b = settle.world.a.id, settle.world.b.id
    before = _counts(settle)
    session = settle.fresh()
    ids = post_many(
        session,
        [_request(a, 100, 100, "X1"), _request(b, 200, 200, "X2"), _request(a, 300, 300, "X3")],
    )
    session.commit()
    assert len(set(ids)) == 3
    assert _counts(settle) == (before[0] + 3, before[1] + 6, before[2] + 2)
    check = settle.fresh()
    assert balance(check, a, AccountCode.LOANS_RECEIVABLE) == 400
    assert balance(check, b, AccountCode.LOANS_RECEIVABLE) == 200
    assert verify(check).ok


def test_post_many_refuses_the_whole_set_for_one_unbalanced_transaction(settle: Settle) -> None:
    a = settle.world.a.id
    before = _counts(settle)
    session = settle.fresh()
    with pytest.raises(LedgerError) as caught:
        post_many(session, [_request(a, 100, 100, "OK1"), _request(a, 100, 99, "BAD2")])
    assert "BAD2" in caught.value.message_en
    assert "transaction 2" in caught.value.message_en
    session.rollback()
    with pytest.raises(NotFound):
        post_many(session, [_request(a, 100, 100, "OK1"), _request(999_999, 5, 5, "NOPE")])
    session.rollback()
    assert _counts(settle) == before


def test_audit_record_many_links_each_event_into_its_chain(settle: Settle) -> None:
    session = settle.fresh()
    chain_a = association_chain(settle.world.a.id)
    before = session.scalar(select(func.max(AuditEvent.seq)).where(AuditEvent.chain == chain_a))
    written = record_many(
        session,
        [
            AuditEntry(chain_a, "system", "test.one", "thing", 1, {"n": 1}),
            AuditEntry("test:new-chain", "system", "test.two", "thing", 2, {"n": 2}),
            AuditEntry(chain_a, "system", "test.three", "thing", 3, {"n": 3}),
        ],
    )
    session.commit()
    assert written == 3
    check = settle.fresh()
    rows = check.execute(
        select(AuditEvent.chain, AuditEvent.seq, AuditEvent.action)
        .where(AuditEvent.action.like("test.%"))
        .order_by(AuditEvent.id)
    ).all()
    start = (before or 0) + 1
    assert [tuple(r) for r in rows] == [
        (chain_a, start, "test.one"),
        ("test:new-chain", 1, "test.two"),
        (chain_a, start + 1, "test.three"),
    ]
    assert verify(check).ok
