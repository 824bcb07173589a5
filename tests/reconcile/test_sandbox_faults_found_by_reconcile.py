"""Five business days against the sandbox bank over SFTP, with the nightly pipeline: every fault
the bank injects is found by the nightly reconciliation as the right exception type, nothing
is raised where nothing was injected, a borrower's exact transfer is booked automatically, and
the daily statements form an unbroken hash chain."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from itertools import pairwise
from pathlib import Path

import pytest
from sqlalchemy import select

from adapters.sandbox import FaultKind, InjectedFault
from adapters.sandbox.clock import BANK_TZ
from gateway.batches.banks import sftp_transport
from gateway.demo.exchange import SandboxExchange, open_accounts, start_sandbox, write_toml
from gateway.jobs.pipeline import STEPS, Nightly, profile_loader, run_date
from gateway.loans.models import Loan
from gateway.members.models import Member
from gateway.members.service import CARD_FIELD
from gateway.org.models import SpecialAccount
from gateway.payments import service as payments
from gateway.payments.config import PaymentsConfig
from gateway.payments.models import PaymentInstruction, RepaymentScheduleLine
from gateway.queue.models import QueueItem
from gateway.reconcile.models import AutoPosting, ReconRun
from tests.settle_support import CIPHER, DAY1, REPO, Settle, bank_raw, migrated_sqlite

BASELINE = date(2024, 6, 28)  # the bank opens the sub-accounts; never reconciled
DAYS = [DAY1 + timedelta(days=n) for n in range(5)]  # Monday 1 July .. Friday 5 July 2024
MORNING, CUTOFF, EVENING = time(9, 0), time(16, 0), time(20, 0)

# The exception kinds each injected fault must show up as.
FOUND_AS: dict[FaultKind, set[str]] = {
    FaultKind.CASH_WITHDRAWAL: {"village_cash"},
    FaultKind.CASH_DEPOSIT: {"village_cash"},
    FaultKind.UNEXPECTED_CREDIT: {"unmatched_bank"},
    FaultKind.DUPLICATE_LINE: {"duplicate"},
    FaultKind.NO_STATEMENT: {"statement_gap"},
    FaultKind.RETURNED_PAYMENT: {"returned_after_settlement"},
    FaultKind.TRANSFER_REPAYMENT: {"amount_mismatch"},
}


@dataclass
class Night:
    settle: Settle
    exchange: SandboxExchange
    loans: list[Loan]


def _release(settle: Settle, member: Member, amount_fen: int) -> Loan:
    world = settle.world
    association = world.a if member.association_id == world.a.id else world.b
    loan = world.apply(member, amount_fen=amount_fen, association=association)
    loan.term_months = 12
    world.approve(loan)
    payments.release_loan(settle.session, loan.id, on=world.today)
    settle.session.commit()
    return loan


def _card(member: Member) -> str:
    return CIPHER.decrypt(CARD_FIELD, member.card_cipher)


@pytest.fixture
def night(tmp_path: Path) -> Iterator[Night]:
    settle = Settle(migrated_sqlite(tmp_path))
    world = settle.world
    loans = [
        _release(settle, world.members_a[0], 300_000),
        _release(settle, world.members_a[1], 450_000),
        _release(settle, world.members_b[0], 200_000),
    ]
    returned = (
        settle.fresh()
        .scalars(
            select(PaymentInstruction.end_to_end_id).where(
                PaymentInstruction.loan_id == loans[0].id
            )
        )
        .one()
    )
    sub_a, sub_b = world.a.sub_account_number, world.b.sub_account_number
    faults = {
        "scheduled": [
            {"kind": "returned_payment", "end_to_end_id": returned, "after_days": 2},
            {
                "kind": "cash_withdrawal",
                "date": DAYS[1],
                "sub_account": sub_a,
                "amount_fen": 12_000,
            },
            {
                "kind": "unexpected_credit",
                "date": DAYS[1],
                "sub_account": sub_b,
                "amount_fen": 33_300,
            },
            {"kind": "cash_deposit", "date": DAYS[2], "sub_account": sub_b, "amount_fen": 50_000},
            {"kind": "duplicate_line", "date": DAYS[2]},
            {"kind": "no_statement", "date": DAYS[3]},
            {
                "kind": "transfer_repayment",
                "date": DAYS[4],
                "sub_account": sub_b,
                "card": _card(world.members_b[0]),
                "amount_fen": 777,
                "reference": loans[2].contract_no,
            },
        ]
    }
    bank_dir = tmp_path / "bankcfg"
    shutil.copytree(REPO / "config" / "banks" / "layouts", bank_dir / "layouts")
    bank_file = bank_dir / "tbank.toml"
    write_toml(bank_file, bank_raw())
    exchange = start_sandbox(
        tmp_path / "sandbox",
        bank_file=bank_file,
        special_account="6200001",
        special_account_name="测试县互助资金专户",
        start=datetime.combine(BASELINE, MORNING, tzinfo=BANK_TZ),
        faults=faults,
        sign=False,
    )
    try:
        special = settle.fresh().scalars(select(SpecialAccount)).one()
        open_accounts(exchange, settle.session, CIPHER, special, on=BASELINE)
        exchange.engine.end_of_day(BASELINE)
        yield Night(settle, exchange, loans)
    finally:
        exchange.stop()
        settle.close()


def _run_days(night: Night) -> None:
    settle, exchange = night.settle, night.exchange
    config = PaymentsConfig()
    nightly = Nightly(
        factory=settle.factory,
        payments=config,
        cipher=CIPHER,
        profile_loader=profile_loader(exchange.config_dir, config),
        transport_factory=sftp_transport,
        clock=exchange.clock.today,  # the sandbox bank's day is the business day
    )
    for day in DAYS:
        exchange.clock.set(datetime.combine(day, MORNING, tzinfo=BANK_TZ))
        if day == DAYS[3]:
            # paid out on the day whose statement never comes: the statement gap says it all
            settle.session.rollback()  # the fixture's session, past what the steps committed
            night.loans.append(_release(settle, settle.world.members_b[1], 150_000))
        # reconciliation starts with the first business day: the baseline day is not reconciled
        steps = tuple(s for s in STEPS if s != "reconcile") if day == DAYS[0] else STEPS
        outcomes = run_date(nightly, day, steps)
        assert [o.error for o in outcomes if o.status == "failed"] == []
        if day == DAYS[4]:
            # the other borrower pays exactly the first instalment by their own transfer
            loan = night.loans[1]
            due = (
                settle.fresh()
                .scalars(
                    select(RepaymentScheduleLine)
                    .where(RepaymentScheduleLine.loan_id == loan.id)
                    .order_by(RepaymentScheduleLine.instalment_no)
                )
                .first()
            )
            assert due is not None
            member = settle.session.get(Member, loan.member_id)
            assert member is not None
            exchange.engine.deposit(
                settle.world.a.sub_account_number,
                due.principal_fen + due.fee_fen,
                on=day,
                counterparty_account=_card(member),
                counterparty_name=member.name,
                remittance=f"还款 {loan.contract_no}",
            )
        exchange.clock.set(datetime.combine(day, CUTOFF, tzinfo=BANK_TZ))
        exchange.engine.run_cutoff(day)
        exchange.clock.set(datetime.combine(day, EVENING, tzinfo=BANK_TZ))
        exchange.engine.end_of_day(day)
    last = DAYS[-1] + timedelta(days=1)
    exchange.clock.set(datetime.combine(last, MORNING, tzinfo=BANK_TZ))
    outcomes = run_date(nightly, last, ("fetch", "results", "statements", "reconcile"))
    assert [o.error for o in outcomes if o.status == "failed"] == []


def _fault_found(fault: InjectedFault, items: list[QueueItem]) -> bool:
    for item in items:
        if item.kind not in FOUND_AS[fault.kind]:
            continue
        if fault.kind is FaultKind.NO_STATEMENT:
            if fault.date.isoformat() in item.subject:
                return True
        elif item.first_seen == fault.date and (
            fault.sub_account is None or item.sub_account == fault.sub_account
        ):
            return True
    return False


def _explained(item: QueueItem, faults: list[InjectedFault]) -> bool:
    for fault in faults:
        # a line printed twice is the duplicate alone: the bank's balances leave the copy
        # out, so its sub-account raises no balance break
        if item.kind in FOUND_AS[fault.kind] and _fault_found(fault, [item]):
            return True
    return False


@pytest.mark.slow
def test_every_injected_fault_is_found_and_nothing_else(night: Night) -> None:
    _run_days(night)
    faults = [f for f in night.exchange.engine.injected_faults() if f.kind in FOUND_AS]
    assert {f.kind for f in faults} == set(FOUND_AS)
    session = night.settle.fresh()
    items = list(session.scalars(select(QueueItem).order_by(QueueItem.id)))
    missed = [f for f in faults if not _fault_found(f, items)]
    assert missed == []
    unexplained = [
        (i.kind, i.first_seen, i.sub_account, i.subject) for i in items if not _explained(i, faults)
    ]
    assert unexplained == []

    # the loan paid out on the day without a statement was paid that day, and raised nothing
    paid_blind = session.scalars(
        select(PaymentInstruction).where(PaymentInstruction.loan_id == night.loans[3].id)
    ).one()
    assert (paid_blind.status.value, paid_blind.settled_on) == ("settled", DAYS[3])

    # five business days reconciled in order, each statement chained to the one before
    runs = list(session.scalars(select(ReconRun).order_by(ReconRun.business_date)))
    assert [r.business_date for r in runs] == DAYS
    assert [r.has_statement for r in runs] == [True, True, True, False, True]
    assert runs[0].previous_hash == ""
    for before, after in pairwise(runs):
        assert after.previous_hash == before.statement_hash
    statement = json.loads(runs[-1].statement_json)
    assert statement["business_date"] == DAYS[-1].isoformat()

    # the exact transfer was booked automatically and nothing else was
    (auto,) = session.scalars(select(AutoPosting)).all()
    assert (auto.kind, auto.association_id) == ("repayment", night.settle.world.a.id)
    assert auto.undone_at is None

    # the cash withdrawal is still open and seen every night since it happened
    cash = [
        i
        for i in items
        if i.kind == "village_cash" and i.sub_account == night.settle.world.a.sub_account_number
    ]
    assert len(cash) == 1
    assert (cash[0].first_seen, cash[0].last_seen) == (DAYS[1], DAYS[4])
    assert cash[0].night_state.value == "persisting"
