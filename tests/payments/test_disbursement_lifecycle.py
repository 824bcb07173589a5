"""A loan released for payment becomes a disbursement that travels the whole lifecycle."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from adapters.records import ResultStatus
from gateway.ingestion.models import InboundFile, InboundStatus
from gateway.jobs.pipeline import run_date
from gateway.ledger.models import AccountCode
from gateway.ledger.service import balance
from gateway.loans.models import LoanStatus
from gateway.payments.models import (
    FollowUpItem,
    FollowUpKind,
    InstructionStatus,
    InstructionTransition,
    RepaymentScheduleLine,
)
from tests.settle_support import DAY1, Settle, settle_on_database


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def settle(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settle]:
    yield from settle_on_database(request, tmp_path)


def _path(settle: Settle, instruction_id: int) -> list[tuple[str | None, str]]:
    return [
        (t.from_status, t.to_status)
        for t in settle.session.scalars(
            select(InstructionTransition)
            .where(InstructionTransition.instruction_id == instruction_id)
            .order_by(InstructionTransition.id)
        )
    ]


def test_release_send_settle_books_the_loan_and_its_schedule(settle: Settle) -> None:
    loan = settle.released_loan(500_000)
    (pending,) = settle.instructions()
    assert pending.status is InstructionStatus.PENDING
    assert pending.amount_fen == 500_000

    run_date(settle.nightly, DAY1)
    (sent,) = settle.instructions()
    assert sent.status is InstructionStatus.SENT
    assert "in/DF_tbank_20240701_001.txt" in settle.server.files()

    settle.bank.answer(DAY1)
    run_date(settle.nightly, DAY1 + timedelta(days=1))
    (settled,) = settle.instructions()
    assert settled.status is InstructionStatus.SETTLED
    assert _path(settle, settled.id) == [
        (None, "pending"),
        ("pending", "batched"),
        ("batched", "sent"),
        ("sent", "settled"),
    ]
    settle.session.refresh(loan)
    assert loan.status is LoanStatus.DISBURSED
    assert loan.disbursed_on == DAY1
    a = settle.world.a.id
    assert balance(settle.session, a, AccountCode.LOANS_RECEIVABLE) == 500_000
    lines = settle.session.scalars(
        select(RepaymentScheduleLine).where(RepaymentScheduleLine.loan_id == loan.id)
    ).all()
    assert len(lines) == 12
    assert sum(line.principal_fen for line in lines) == 500_000
    # the result file was stored, applied, and moved away on the bank's server
    (stored,) = settle.session.scalars(select(InboundFile)).all()
    assert stored.status is InboundStatus.APPLIED
    assert not [p for p in settle.server.files() if p.startswith("out/RESULT")]


def test_refused_disbursement_returns_the_loan_to_approved_with_the_reason(
    settle: Settle,
) -> None:
    loan = settle.released_loan(300_000)
    run_date(settle.nightly, DAY1)
    settle.bank.answer(DAY1, lambda e2e, amount: (ResultStatus.REJECTED, 0, "AC04"))
    run_date(settle.nightly, DAY1 + timedelta(days=1))

    (failed,) = settle.instructions()
    assert failed.status is InstructionStatus.FAILED
    assert failed.reason_code == "AC04"
    assert _path(settle, failed.id)[-2:] == [("sent", "rejected"), ("rejected", "failed")]
    settle.session.refresh(loan)
    assert loan.status is LoanStatus.COUNCIL_APPROVED
    assert balance(settle.session, settle.world.a.id, AccountCode.LOANS_RECEIVABLE) == 0
    (item,) = settle.session.scalars(select(FollowUpItem)).all()
    assert item.kind is FollowUpKind.DISBURSEMENT_FAILED
    assert "AC04" in item.message_zh
