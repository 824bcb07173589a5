"""A loan's way through its statuses and what each step books in the ledger and the log."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.audit.models import AuditEvent
from gateway.errors import Conflict, RuleViolation
from gateway.ledger.models import AccountCode
from gateway.ledger.service import balance, trial_balance
from gateway.loans import service as loans
from gateway.loans.models import Loan, LoanStatus
from gateway.testing import World


def _status(loan: Loan) -> LoanStatus:
    return loan.status


def test_full_lifecycle_books_disbursement_and_repayment(world: World, session: Session) -> None:
    bank_before = balance(session, world.a.id, AccountCode.BANK_SUB_ACCOUNT)
    loan = world.apply(world.members_a[0], amount_fen=800_000)
    assert loan.applied_on == world.today - timedelta(days=30)
    loans.start_notice(session, loan.id, on=world.today - timedelta(days=10))
    assert loan.notice_end == world.today - timedelta(days=3)
    loans.council_approve(session, loan.id, on=world.today - timedelta(days=2))
    loans.release_for_payment(session, loan.id, on=world.today)
    assert balance(session, world.a.id, AccountCode.BANK_SUB_ACCOUNT) == bank_before
    loans.mark_disbursed(session, loan.id, business_date=world.today, external_ref="BANK-1")
    assert _status(loan) == LoanStatus.DISBURSED
    assert loan.due_on == world.today.replace(year=world.today.year + 1)
    assert balance(session, world.a.id, AccountCode.LOANS_RECEIVABLE) == 800_000
    assert balance(session, world.a.id, AccountCode.BANK_SUB_ACCOUNT) == bank_before - 800_000

    fee = loans.fee_fen(800_000, loan.monthly_fee_rate_centipermille, 1)
    assert fee == 4_800  # 6‰ a month on 8,000 yuan is 48 yuan
    loans.record_repayment(
        session, loan.id, principal_fen=300_000, fee_fen=fee, business_date=world.today
    )
    assert _status(loan) == LoanStatus.REPAYING
    loans.record_repayment(
        session, loan.id, principal_fen=500_000, fee_fen=0, business_date=world.today
    )
    assert _status(loan) == LoanStatus.REPAID
    assert loan.repaid_on_time is True
    assert balance(session, world.a.id, AccountCode.LOANS_RECEIVABLE) == 0
    assert balance(session, world.a.id, AccountCode.FEE_INCOME) == fee
    assert balance(session, world.a.id, AccountCode.BANK_SUB_ACCOUNT) == bank_before + fee
    assert trial_balance(session, world.a.id).balanced
    actions = session.scalars(
        select(AuditEvent.action)
        .where(AuditEvent.object_type == "loan", AuditEvent.object_id == str(loan.id))
        .order_by(AuditEvent.id)
    ).all()
    assert actions == [
        "loan.apply",
        "loan.notice",
        "loan.council_approve",
        "loan.release",
        "loan.disbursed",
        "loan.repayment",
        "loan.repayment",
    ]


def test_release_runs_the_payment_hook_in_the_same_transaction(
    world: World, session: Session
) -> None:
    loan = world.approve(world.apply(world.members_a[0]))
    seen: list[tuple[int, LoanStatus]] = []
    loans.release_for_payment(
        session, loan.id, on=world.today, on_released=lambda _s, ln: seen.append((ln.id, ln.status))
    )
    assert seen == [(loan.id, LoanStatus.RELEASED)]


def test_a_failing_payment_hook_undoes_the_release(world: World, session: Session) -> None:
    loan = world.approve(world.apply(world.members_a[0]))
    session.commit()

    def refuse(_session: Session, _loan: Loan) -> None:
        raise RuntimeError("instruction could not be created")

    with pytest.raises(RuntimeError):
        loans.release_for_payment(session, loan.id, on=world.today, on_released=refuse)
    session.rollback()
    assert session.get(Loan, loan.id).status == LoanStatus.COUNCIL_APPROVED  # type: ignore[union-attr]


def test_failed_payment_returns_the_loan_to_approved(world: World, session: Session) -> None:
    loan = world.release(world.approve(world.apply(world.members_a[0])))
    loans.payment_failed(session, loan.id, reason="户名不符 name mismatch")
    assert loan.status == LoanStatus.COUNCIL_APPROVED
    assert loan.released_on is None
    assert world.release(loan).status == LoanStatus.RELEASED  # it can be released again


def test_steps_out_of_order_are_refused(world: World, session: Session) -> None:
    loan = world.apply(world.members_a[0])
    with pytest.raises(Conflict) as refused:
        loans.release_for_payment(session, loan.id, on=world.today)
    assert refused.value.code == "wrong_loan_status"
    assert "不能办理此操作" in refused.value.message_zh
    with pytest.raises(Conflict):
        loans.mark_disbursed(session, loan.id, business_date=world.today)


def test_repaying_more_than_owed_is_refused(world: World, session: Session) -> None:
    loan = world.release(world.approve(world.apply(world.members_a[0], amount_fen=100_000)))
    loans.mark_disbursed(session, loan.id, business_date=world.today)
    with pytest.raises(RuleViolation) as refused:
        loans.record_repayment(
            session, loan.id, principal_fen=100_001, fee_fen=0, business_date=world.today
        )
    assert refused.value.code == "overpayment"


def test_a_disbursed_loan_is_committed_no_longer(world: World, session: Session) -> None:
    from gateway.loans.rules import available_fen, committed_fen

    loan = world.release(world.approve(world.apply(world.members_a[0], amount_fen=400_000)))
    free = available_fen(session, world.a.id, None)
    assert committed_fen(session, world.a.id, None) == 400_000
    loans.mark_disbursed(session, loan.id, business_date=world.today)
    assert committed_fen(session, world.a.id, None) == 0
    assert available_fen(session, world.a.id, None) == free  # now spent instead of promised
