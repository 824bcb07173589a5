"""A dissolved association wound up end to end through the bank's files: loans paid out and
collected through the payment pipeline (one collection refused and written off after review);
then the payouts go through the batch sender to the sandbox bank over SFTP: every member
refunded exactly their deposit, fiscal capital returned by level (bearing the loss pro rata),
a refused refund and a refund returned after payment paid again, and the sub-account closed
at zero once the bank's statement shows it. Nothing is left unexplained."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from adapters.records import ResultStatus
from adapters.sandbox.clock import BANK_TZ
from adapters.sandbox.state import CardStatus
from gateway.audit.models import AuditEvent
from gateway.audit.service import association_chain, verify
from gateway.batches.banks import sftp_transport
from gateway.capital.models import CapitalSource
from gateway.capital.service import record_contribution, record_member_deposit
from gateway.demo.exchange import SandboxExchange, open_accounts, start_sandbox, write_toml
from gateway.errors import RuleViolation
from gateway.jobs.pipeline import Nightly, profile_loader, run_date
from gateway.ledger.models import AccountCode
from gateway.ledger.service import balance, trial_balance
from gateway.liquidation import service as liquidation
from gateway.liquidation.models import CapitalLevel, LiquidationPayout, PayoutKind, PayoutStatus
from gateway.loans.models import Loan, LoanStatus
from gateway.members.models import MemberStatus
from gateway.members.service import card_number
from gateway.org.models import Association, AssociationStatus, SpecialAccount
from gateway.payments.config import CollectionPolicy
from gateway.payments.models import InstructionStatus, PaymentInstruction, RepaymentMethod
from tests.settle_support import CIPHER, DAY1, REPO, Settle, bank_raw, settle_in

DUE = date(2024, 8, 1)
OPENED = date(2024, 8, 2)  # the sandbox bank opens the accounts (a Friday)
PAY_DAYS = [date(2024, 8, 5) + timedelta(days=n) for n in range(4)]  # Monday .. Thursday
MORNING, CUTOFF, EVENING = time(9, 0), time(16, 0), time(20, 0)
COUNTY_ACCOUNTS = {
    CapitalLevel.CENTRAL_PROVINCIAL: "9100001",
    CapitalLevel.MUNICIPAL: "9200001",
    CapitalLevel.COUNTY: "9300001",
}
DEPOSITS = [10_000, 20_000, 0, 15_050, 30_000, 5_000]
SUB = "6200001-1"


@pytest.fixture
def settle(tmp_path: Path) -> Iterator[Settle]:
    policy = CollectionPolicy(repayment_method=RepaymentMethod.LUMP_SUM, retry_after_days=[])
    yield from settle_in(tmp_path, policy=policy)


def _fund(settle: Settle) -> None:
    session, world = settle.session, settle.world
    a = world.a.id
    for source, amount in (
        (CapitalSource.PROVINCIAL, 1_000_000),
        (CapitalSource.MUNICIPAL, 500_000),
        (CapitalSource.COUNTY, 300_000),
        (CapitalSource.DONATION, 20_000),
    ):
        record_contribution(
            session,
            association_id=a,
            source=source,
            amount_fen=amount,
            received_on=date(2024, 3, 1),
        )
    for member, deposit in zip(world.members_a, DEPOSITS, strict=True):
        if deposit:
            record_member_deposit(
                session, member_id=member.id, amount_fen=deposit, received_on=date(2024, 3, 2)
            )
    session.commit()


def _sandbox(settle: Settle, tmp_path: Path, returned_e2e: str) -> SandboxExchange:
    """The sandbox bank over SFTP on loopback, its sub-account opened with what our books
    show; it will return ``returned_e2e`` the business day after paying it."""
    bank_dir = tmp_path / "bankcfg"
    shutil.copytree(REPO / "config" / "banks" / "layouts", bank_dir / "layouts")
    bank_file = bank_dir / "tbank.toml"
    write_toml(bank_file, bank_raw())
    exchange = start_sandbox(
        tmp_path / "sandbox",
        bank_file=bank_file,
        special_account="6200001",
        special_account_name="测试县互助资金专户",
        start=datetime.combine(OPENED, MORNING, tzinfo=BANK_TZ),
        faults={
            "scheduled": [
                {"kind": "returned_payment", "end_to_end_id": returned_e2e, "after_days": 1}
            ]
        },
        sign=False,
    )
    special = settle.fresh().scalars(select(SpecialAccount)).one()
    open_accounts(exchange, settle.session, CIPHER, special, on=OPENED)
    exchange.engine.end_of_day(OPENED)
    return exchange


def _bank_day(
    bank: SandboxExchange,
    nightly: Nightly,
    day: date,
    steps: tuple[str, ...],
    *,
    morning: bool = True,
    close: bool = True,
) -> None:
    """Our steps for ``day`` (in the morning), then the bank's cut-off and end of day."""
    if morning:
        bank.clock.set(datetime.combine(day, MORNING, tzinfo=BANK_TZ))
    outcomes = run_date(nightly, day, steps)
    assert [o.error for o in outcomes if o.status == "failed"] == []
    if "batches" in steps:
        assert [o.summary.get("delivered") for o in outcomes if o.step == "batches"] == [1]
    if not close:
        return
    bank.clock.set(datetime.combine(day, CUTOFF, tzinfo=BANK_TZ))
    bank.engine.run_cutoff(day)
    bank.clock.set(datetime.combine(day, EVENING, tzinfo=BANK_TZ))
    bank.engine.end_of_day(day)


def test_a_dissolved_association_is_wound_up_to_zero(settle: Settle, tmp_path: Path) -> None:
    _fund(settle)
    good = settle.released_loan(500_000, term_months=1)
    bad = settle.released_loan(300_000, term_months=1)
    run_date(settle.nightly, DAY1)
    settle.bank.answer(DAY1)
    run_date(settle.nightly, DAY1 + timedelta(days=1))

    # 1. freeze: no new loan once the association is being liquidated
    session = settle.fresh()
    a = settle.world.a
    opened = liquidation.start(
        session, a.id, on=date(2024, 7, 5), reason="运转不畅，县里决定撤销", actor="县办张"
    )
    session.commit()
    assert a.status is AssociationStatus.LIQUIDATING
    with pytest.raises(RuleViolation, match="association_not_active"):
        settle.world.apply(settle.world.members_a[5], amount_fen=100_000)
    session.rollback()

    # 2. collect through the normal path: one collection settles, one is refused
    run_date(settle.nightly, DUE)
    settle.bank.answer(
        DUE,
        lambda e2e, amount: (
            (ResultStatus.SETTLED, amount, None)
            if amount == 503_000
            else (ResultStatus.REJECTED, 0, "AM04")
        ),
    )
    run_date(settle.nightly, DUE + timedelta(days=1))
    session = settle.fresh()
    statuses = {row.id: row.status for row in session.execute(select(Loan.id, Loan.status))}
    assert statuses[good.id] is LoanStatus.REPAID
    assert statuses[bad.id] is LoanStatus.OVERDUE
    steps = {s.step: s for s in liquidation.progress(session, opened.id)}
    assert not steps[liquidation.Step.COLLECT].done
    assert steps[liquidation.Step.COLLECT].remaining == (f"借款 {bad.contract_no} 尚欠 3000.00 元",)
    with pytest.raises(RuleViolation, match="liquidation_blocked"):
        liquidation.close_books(session, opened.id, on=DUE, actor="县办张")
    session.rollback()

    # 3. the unrecoverable loan goes to write-off review; a second person decides
    review = liquidation.list_for_write_off(
        session, opened.id, bad.id, on=DUE, reason="借款人外出失联", actor="会计李"
    )
    with pytest.raises(RuleViolation, match="second_person_required"):
        liquidation.decide_write_off(session, review.id, approve=True, on=DUE, actor="会计李")
    liquidation.decide_write_off(session, review.id, approve=True, on=DUE, actor="县办张")
    session.commit()
    assert session.scalar(select(Loan.status).where(Loan.id == bad.id)) is LoanStatus.WRITTEN_OFF

    # 4. close the books: fee 3,000 in, 300,000 written off: a loss of 297,000 fen
    liquidation.close_books(session, opened.id, on=DUE + timedelta(days=2), actor="县办张")
    session.commit()
    assert balance(session, a.id, AccountCode.OTHER_CAPITAL) == 3_000 - 300_000
    bank_before = balance(session, a.id, AccountCode.BANK_SUB_ACCOUNT)

    # 5. refunds and capital returns
    with pytest.raises(RuleViolation, match="capital_account_missing"):
        liquidation.request_capital_returns(session, opened.id, on=DUE, actor="县办张")
    session.rollback()
    for level, number in COUNTY_ACCOUNTS.items():
        liquidation.name_capital_account(
            session, opened.id, level, account_number=number, account_name=f"{level} 财政专户",
            actor="县办张",
        )  # fmt: skip
    refunds = liquidation.request_refunds(session, opened.id, on=DUE, actor="县办张")
    returns = liquidation.request_capital_returns(session, opened.id, on=DUE, actor="县办张")
    session.commit()
    members = {m.id: m for m in settle.world.members_a}
    assert sorted((members[r.member_id or 0].member_no, r.amount_fen) for r in refunds) == sorted(
        (m.member_no, d) for m, d in zip(settle.world.members_a, DEPOSITS, strict=True) if d
    )
    # fiscal capital 10,000,000 + 1,000,000 + 500,000 + 300,000 bears the loss of 297,000
    # less the 20,000 donation, pro rata, to the fen
    fiscal = 10_000_000 + 1_000_000 + 500_000 + 300_000
    loss = 297_000 - 20_000
    by_level = {p.level: p.amount_fen for p in returns}
    assert set(by_level) == set(CapitalLevel)
    assert sum(by_level.values()) == fiscal - loss
    # 277,000 over 10,000,000 / 1,000,000 / 500,000 / 300,000 by largest remainder:
    # 234,746 / 23,475 / 11,737 / 7,042
    assert by_level == {
        CapitalLevel.CENTRAL_PROVINCIAL: 11_000_000 - 234_746 - 23_475,
        CapitalLevel.MUNICIPAL: 500_000 - 11_737,
        CapitalLevel.COUNTY: 300_000 - 7_042,
    }
    assert sum(p.amount_fen for p in [*refunds, *returns]) == bank_before
    orders = liquidation.payout_orders(session, CIPHER, opened.id)
    first = next(o for o in orders if o.end_to_end_id == refunds[0].end_to_end_id)
    assert first.payee_account == card_number(session, CIPHER, refunds[0].member_id or 0)
    assert first.debtor_account == SUB
    instructions = {
        i.end_to_end_id: i
        for i in session.scalars(
            select(PaymentInstruction).where(PaymentInstruction.association_id == a.id)
        )
    }
    for payout in [*refunds, *returns]:
        carried = instructions[payout.end_to_end_id]
        assert payout.instruction_id == carried.id
        assert carried.loan_id is None
        assert carried.status is InstructionStatus.PENDING
        assert carried.amount_fen == payout.amount_fen
    steps = {s.step: s for s in liquidation.progress(session, opened.id)}
    assert all("待组批" in line for line in steps[liquidation.Step.REFUND].remaining)

    # 6. the sandbox bank over SFTP: the payouts go out in the normal batches, exactly once;
    # one member's card is closed (refused), one refund is returned the day after it was paid
    refused, bounced = refunds[2], refunds[1]
    refused_card = card_number(session, CIPHER, refused.member_id or 0)
    bank = _sandbox(settle, tmp_path, bounced.end_to_end_id)
    for level, number in COUNTY_ACCOUNTS.items():
        bank.engine.open_card(number, f"{level} 财政专户")
    bank.engine.set_card_status(refused_card, CardStatus.CLOSED)
    nightly = Nightly(
        factory=settle.factory,
        payments=settle.payments,
        cipher=CIPHER,
        profile_loader=profile_loader(bank.config_dir, settle.payments),
        transport_factory=sftp_transport,
        clock=bank.clock.today,  # the sandbox bank's day is the business day
    )
    try:
        _bank_day(bank, nightly, PAY_DAYS[0], ("batches",))
        _bank_day(bank, nightly, PAY_DAYS[1], ("fetch", "results", "statements"))
        _bank_day(bank, nightly, PAY_DAYS[2], ("fetch", "results", "statements"), close=False)
        session = settle.fresh()
        by_id = {i.end_to_end_id: i for i in session.scalars(select(PaymentInstruction))}
        assert by_id[refused.end_to_end_id].status is InstructionStatus.FAILED
        assert by_id[bounced.end_to_end_id].status is InstructionStatus.RETURNED
        paid = [p for p in [*refunds, *returns] if p not in (refused, bounced)]
        assert all(by_id[p.end_to_end_id].status is InstructionStatus.SETTLED for p in paid)
        # each level's capital arrived once, exactly, on the account the county named
        for level, number in COUNTY_ACCOUNTS.items():
            assert bank.engine.balance_fen(number) == by_level[level]
        by_e2e = {
            p.end_to_end_id: p
            for p in session.scalars(
                select(LiquidationPayout).where(LiquidationPayout.liquidation_id == opened.id)
            )
        }
        assert by_e2e[refused.end_to_end_id].status is PayoutStatus.FAILED
        assert "AC04" in (by_e2e[refused.end_to_end_id].failure_reason or "")
        assert by_e2e[bounced.end_to_end_id].status is PayoutStatus.FAILED
        with pytest.raises(RuleViolation, match="liquidation_blocked"):
            liquidation.close(session, opened.id, on=PAY_DAYS[2], actor="县办张")
        session.rollback()
        steps = {s.step: s for s in liquidation.progress(session, opened.id)}
        owed = sorted(steps[liquidation.Step.REFUND].remaining)
        assert len(owed) == 2
        assert all("待重新支付" in line for line in owed)
        assert steps[liquidation.Step.RETURN_CAPITAL].done

        # the bank returned the refund because the card was closed meanwhile: both members'
        # cards are working again and both refunds are requested again (a new attempt each)
        bounced_card = card_number(session, CIPHER, bounced.member_id or 0)
        assert bank.engine.card(bounced_card).status is CardStatus.CLOSED
        for card in (refused_card, bounced_card):
            bank.engine.set_card_status(card, CardStatus.ACTIVE)
        again = liquidation.request_refunds(session, opened.id, on=PAY_DAYS[2], actor="县办张")
        session.commit()
        assert sorted((p.member_id, p.amount_fen, p.attempt) for p in again) == sorted(
            (p.member_id, p.amount_fen, 2) for p in (refused, bounced)
        )
        _bank_day(bank, nightly, PAY_DAYS[2], ("batches",), morning=False)
        _bank_day(bank, nightly, PAY_DAYS[3], ("fetch", "results", "statements"), close=False)
        session = settle.fresh()
        assert bank.engine.balance_fen(SUB) == 0
        for member, deposit in zip(settle.world.members_a, DEPOSITS, strict=True):
            if deposit:
                # what the member's card received from the sub-account: exactly the deposit
                card = card_number(session, CIPHER, member.id)
                received = sum(
                    p.amount_fen
                    for p in bank.engine.postings()
                    if p.counterparty_account == card and p.end_to_end_id
                    and p.end_to_end_id.startswith("HZL") and not p.credit
                )  # fmt: skip
                returned_back = sum(
                    p.amount_fen
                    for p in bank.engine.postings()
                    if p.counterparty_account == card and p.end_to_end_id
                    and p.end_to_end_id.startswith("HZL") and p.credit
                )  # fmt: skip
                assert received - returned_back == deposit, member.name
    finally:
        bank.stop()
    later = PAY_DAYS[3]

    # 7. everything is zero on the books and at the bank: close
    closed = liquidation.close(session, opened.id, on=later, actor="县办张")
    session.commit()
    assert closed.closed_on == later
    status = session.scalar(select(Association.status).where(Association.id == a.id))
    assert status is AssociationStatus.CLOSED
    assert all(row.balance_fen == 0 for row in trial_balance(session, a.id).rows)
    for member, deposit in zip(settle.world.members_a, DEPOSITS, strict=True):
        session.refresh(member)
        assert member.deposit_fen == 0
        if deposit:
            assert member.status is MemberStatus.WITHDRAWN
    payouts = session.scalars(
        select(LiquidationPayout).where(LiquidationPayout.liquidation_id == opened.id)
    ).all()
    refunded: dict[int, int] = {}
    for p in payouts:
        if p.kind is PayoutKind.DEPOSIT_REFUND and p.status is PayoutStatus.SETTLED:
            refunded[p.member_id or 0] = refunded.get(p.member_id or 0, 0) + p.amount_fen
    assert refunded == {m.id: d for m, d in zip(settle.world.members_a, DEPOSITS, strict=True) if d}
    assert all(step.done for step in liquidation.progress(session, opened.id))
    actions = [
        e.action
        for e in session.scalars(
            select(AuditEvent)
            .where(AuditEvent.chain == association_chain(a.id))
            .order_by(AuditEvent.seq)
        )
        if e.action.startswith("liquidation.")
    ]
    for expected in (
        "liquidation.start",
        "liquidation.write_off_listed",
        "liquidation.write_off_decided",
        "liquidation.close_books",
        "liquidation.refunds_requested",
        "liquidation.capital_requested",
        "liquidation.payout_settled",
        "liquidation.payout_failed",
        "liquidation.close",
    ):
        assert expected in actions
    assert verify(session).ok
