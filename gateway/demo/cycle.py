"""The demo county's nightly cycle against the sandbox bank, over real SFTP on loopback.

After seeding, each outstanding loan gets its repayment schedule and every association a
few more approved loans, released a few a day. Then, for each business day: in the morning
the nightly pipeline fetches yesterday's result files and statements, ingests them, creates
due collections and sends batches; at 16:00 the bank books what it received and at 20:00
writes its statement. The bank's faults (closed and frozen cards, short balances, returns,
a refused SFTP window, a missing statement...) are switched on, so the closing summary
shows what the county fund office is left to look at.
"""

from __future__ import annotations

import random
import shutil
import tomllib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from textwrap import shorten
from typing import Any

from rich.table import Table
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from adapters.money import format_yuan
from adapters.records import Direction
from adapters.sandbox.clock import BANK_TZ
from adapters.transport.retry import RetryPolicy
from gateway.batches.banks import BankProfile, format_loader, sftp_transport
from gateway.batches.calendar import load_calendar
from gateway.batches.models import PaymentBatch
from gateway.db import session_scope
from gateway.demo.config import DemoConfig
from gateway.demo.exchange import SandboxExchange, open_accounts, start_sandbox
from gateway.demo.seed import ACTOR, SeededCounty
from gateway.ingestion.models import InboundFile, InboundStatus
from gateway.jobs.models import JobRun, RunStatus
from gateway.jobs.pipeline import (
    NOT_DONE,
    Nightly,
    StepOutcome,
    profile_loader,
    run_date,
    run_through,
)
from gateway.ledger.models import AccountCode
from gateway.ledger.service import balance
from gateway.loans import service as loans
from gateway.loans.models import Loan, LoanStatus
from gateway.loans.schemas import LoanApplication
from gateway.members.models import Member
from gateway.members.service import CARD_FIELD
from gateway.org.models import Association, SpecialAccount
from gateway.payments import service as payments
from gateway.payments.config import PaymentsConfig
from gateway.payments.models import (
    FollowUpItem,
    FollowUpKind,
    InstructionStatus,
    PaymentInstruction,
    RepaymentScheduleLine,
)
from gateway.queue.models import ItemStatus, QueueItem
from gateway.reconcile.models import AutoPosting
from gateway.reconcile.source import expected_repayments, schedule_line_id_of
from gateway.security.fieldcrypt import FieldCipher
from gateway.settings import REPO_ROOT
from reconciliation.findings import EXPLANATION, ExceptionKind

Reporter = Callable[[str], None]
MORNING, RETRY, CUTOFF, EVENING = time(9, 0), time(12, 0), time(16, 0), time(20, 0)


@dataclass
class CycleSummary:
    first_day: date
    last_day: date
    business_days: int
    batches: int = 0
    batch_lines: int = 0
    inbound_files: Counter[str] = field(default_factory=Counter)
    quarantined: list[str] = field(default_factory=list)
    instructions: Counter[tuple[str, str]] = field(default_factory=Counter)
    collected_fen: int = 0
    collections_settled: int = 0
    disbursed_fen: int = 0
    loans_overdue: int = 0
    follow_ups: Counter[str] = field(default_factory=Counter)
    failed_step_runs: list[str] = field(default_factory=list)
    bank_faults: Counter[str] = field(default_factory=Counter)
    ledger_vs_bank_fen: dict[str, tuple[int, int]] = field(default_factory=dict)
    # the mismatch queue after the last night: kind -> items still to handle, items closed,
    # and the associations the open ones belong to
    queue_open: Counter[str] = field(default_factory=Counter)
    queue_closed: Counter[str] = field(default_factory=Counter)
    queue_associations: dict[str, set[str]] = field(default_factory=dict)
    auto_postings: Counter[str] = field(default_factory=Counter)  # kind -> booked, standing


def _prepare_loans(
    session: Session,
    seeded: SeededCounty,
    config: DemoConfig,
    rng: random.Random,
    per_association: int,
) -> list[int]:
    """More approved loans per association, to be released during the cycle."""
    today = config.business_date
    approved: list[int] = []
    for entry in seeded.associations:
        taken = {loan.member_id for loan in entry.loans}
        free = [m for m in entry.members if m.id not in taken]
        for index, borrower in enumerate(rng.sample(free, min(per_association, len(free)))):
            others: list[Member] = []
            for candidate in rng.sample(entry.members, len(entry.members)):
                if (
                    candidate.household_no != borrower.household_no
                    and candidate.household_no not in {g.household_no for g in others}
                ):
                    others.append(candidate)
                if len(others) == seeded.county.guarantors_required:
                    break
            loan = loans.apply(
                session,
                entry.association.id,
                LoanApplication(
                    contract_no=f"{entry.association.code}-L{100 + index:03d}",
                    member_id=borrower.id,
                    purpose=rng.choice(("养殖湖羊", "种植金银花", "农家乐", "购买化肥")),
                    amount_fen=rng.choice((200_000, 300_000, 500_000, 800_000)),
                    term_months=rng.choice((1, 6, 12)),
                    monthly_fee_rate_centipermille=config.monthly_fee_rate_centipermille,
                    applied_on=today - timedelta(days=20),
                    guarantor_ids=tuple(g.id for g in others),
                ),
                actor=ACTOR,
            )
            loans.start_notice(session, loan.id, on=today - timedelta(days=18), actor=ACTOR)
            loans.council_approve(session, loan.id, on=today - timedelta(days=9), actor=ACTOR)
            approved.append(loan.id)
    return approved


def _backfill_schedules(session: Session, payments_config: PaymentsConfig) -> int:
    """Loans disbursed before the cycle get their schedules too."""
    count = 0
    for loan in session.scalars(
        select(Loan).where(Loan.status.in_((LoanStatus.DISBURSED, LoanStatus.REPAYING)))
    ):
        policy = payments_config.policy_for("")
        payments.create_schedule(session, loan, policy.repayment_method)
        count += 1
    return count


def run_cycle(
    factory: sessionmaker[Session],
    cipher: FieldCipher,
    config: DemoConfig,
    seeded: SeededCounty,
    *,
    state_dir: Path,
    days: int,
    report: Reporter,
    on_day: Callable[[date, list[StepOutcome]], None] | None = None,
    config_dir: Path | None = None,
) -> CycleSummary:
    source = config_dir or REPO_ROOT / "config"
    rng = random.Random(config.seed)  # noqa: S311 - demo data, not secrets
    calendar = load_calendar(source / "calendar" / "cn.toml")
    business_days = calendar.banking_days(config.business_date + timedelta(days=1), days)
    sandbox_raw = tomllib.loads((source / "sandbox.toml").read_text(encoding="utf-8"))
    faults: dict[str, Any] = dict(sandbox_raw.get("faults", {}))
    # The demo may make some faults likelier so a month shows each kind (config/demo.toml).
    demo_raw = tomllib.loads((source / "demo.toml").read_text(encoding="utf-8"))
    extra = demo_raw.get("demo_cycle", {}).get("per_mille", {})
    faults["per_mille"] = {**faults.get("per_mille", {}), **extra}
    shutil.rmtree(state_dir, ignore_errors=True)
    exchange = start_sandbox(
        state_dir,
        bank_file=source / "banks" / f"{config.bank_code}.toml",
        special_account=config.special_account_number,
        special_account_name=config.special_account_name,
        start=datetime.combine(business_days[0], time(8, 0), tzinfo=BANK_TZ),
        faults=faults,
        seed=config.seed,
        source_config_dir=source,
    )
    try:
        return _cycle(factory, cipher, config, seeded, exchange, business_days, rng, report, on_day)
    finally:
        exchange.stop()


def _cycle(
    factory: sessionmaker[Session],
    cipher: FieldCipher,
    config: DemoConfig,
    seeded: SeededCounty,
    exchange: SandboxExchange,
    business_days: list[date],
    rng: random.Random,
    report: Reporter,
    on_day: Callable[[date, list[StepOutcome]], None] | None,
) -> CycleSummary:
    payments_config = PaymentsConfig()
    with session_scope(factory) as session:
        special = session.scalars(
            select(SpecialAccount).where(
                SpecialAccount.account_number == config.special_account_number
            )
        ).one()
        open_accounts(exchange, session, cipher, special, on=business_days[0], seed=config.seed)
        scheduled = _backfill_schedules(session, payments_config)
        waiting = _prepare_loans(session, seeded, config, rng, per_association=3)
        special_id = special.id
    report(
        f"沙箱银行 sandbox bank on sftp://127.0.0.1:{exchange.server.port} (host key pinned); "
        f"{scheduled} loans scheduled, {len(waiting)} approved loans waiting for release"
    )
    quick = RetryPolicy(max_attempts=2, initial_delay=0.2, max_delay=0.5)

    def transport(profile: BankProfile) -> Any:
        return sftp_transport(profile, quick)

    nightly = Nightly(
        factory=factory,
        payments=payments_config,
        cipher=cipher,
        profile_loader=profile_loader(exchange.config_dir, payments_config),
        format_loader=format_loader(exchange.config_dir, payments_config),
        transport_factory=transport,
        clock=exchange.clock.today,
    )
    per_day = max(1, len(waiting) // max(1, len(business_days) // 2))
    for day in business_days:
        exchange.clock.set(datetime.combine(day, MORNING, tzinfo=BANK_TZ))
        with session_scope(factory) as session:
            for loan_id in waiting[:per_day]:
                payments.release_loan(session, loan_id, on=day, actor=ACTOR)
            del waiting[:per_day]
        outcomes = run_through(nightly, day, catch_up_days=7)
        # as huzhu scheduler retries later the same day (retry_minutes), once at noon here
        if any(o.status in NOT_DONE for o in outcomes):
            exchange.clock.set(datetime.combine(day, RETRY, tzinfo=BANK_TZ))
            outcomes += run_date(nightly, day)
        if on_day is not None:
            on_day(day, outcomes)
        if day == business_days[len(business_days) // 2]:
            with session_scope(factory) as session:
                paid = _borrower_pays_by_transfer(session, exchange, cipher, special_id, day)
            if paid:
                report(paid)
        exchange.clock.set(datetime.combine(day, CUTOFF, tzinfo=BANK_TZ))
        exchange.engine.run_cutoff(day)
        exchange.clock.set(datetime.combine(day, EVENING, tzinfo=BANK_TZ))
        exchange.engine.end_of_day(day)
    last = business_days[-1] + timedelta(days=1)
    exchange.clock.set(datetime.combine(last, MORNING, tzinfo=BANK_TZ))
    run_date(nightly, last, ("fetch", "results", "statements", "reconcile"))
    return _summary(factory, exchange, business_days)


def _borrower_pays_by_transfer(
    session: Session,
    exchange: SandboxExchange,
    cipher: FieldCipher,
    special_account_id: int,
    day: date,
) -> str | None:
    """A borrower pays an instalment the reconciler offers as expected, exactly, by their own
    transfer into the special account, naming the contract: the next night's reconciliation
    books it without a person. Returns what happened, for the report (None: none offered)."""
    offered = expected_repayments(session, special_account_id, day).sort("entry_id")
    if offered.is_empty():
        return None
    due = offered.row(0, named=True)
    member = session.get(Member, int(due["borrower_id"]))
    association = session.get(Association, int(due["association_id"]))
    line_id = schedule_line_id_of(due["entry_id"])
    line = session.get(RepaymentScheduleLine, line_id) if line_id is not None else None
    assert member is not None
    assert association is not None
    assert line is not None
    exchange.engine.deposit(
        due["sub_account"],
        due["amount_fen"],
        on=day,
        counterparty_name=member.name,
        counterparty_account=cipher.decrypt(CARD_FIELD, member.card_cipher),
        remittance=f"还款 {due['contract_number']}",
    )
    return (
        f"{day} 借款人自行转账还款 a borrower repays by own transfer: {association.code} "
        f"{due['contract_number']} 第 {line.instalment_no} 期 {format_yuan(due['amount_fen'])} 元"
    )


def _summary(
    factory: sessionmaker[Session], exchange: SandboxExchange, business_days: list[date]
) -> CycleSummary:
    summary = CycleSummary(business_days[0], business_days[-1], len(business_days))
    with session_scope(factory) as session:
        summary.batches = int(session.scalar(select(func.count()).select_from(PaymentBatch)) or 0)
        summary.batch_lines = int(session.scalar(select(func.sum(PaymentBatch.line_count))) or 0)
        for kind, status, count in session.execute(
            select(InboundFile.kind, InboundFile.status, func.count()).group_by(
                InboundFile.kind, InboundFile.status
            )
        ):
            summary.inbound_files[f"{kind.value}:{status.value}"] = int(count)
        summary.quarantined = [
            f"{f.name}: {(f.reason or '')[:80]}"
            for f in session.scalars(
                select(InboundFile).where(InboundFile.status == InboundStatus.QUARANTINED)
            )
        ]
        for direction, state, count in session.execute(
            select(PaymentInstruction.direction, PaymentInstruction.status, func.count()).group_by(
                PaymentInstruction.direction, PaymentInstruction.status
            )
        ):
            summary.instructions[(direction.value, state.value)] = int(count)
        settled = (InstructionStatus.SETTLED,)
        summary.collected_fen = int(
            session.scalar(
                select(func.sum(PaymentInstruction.settled_amount_fen)).where(
                    PaymentInstruction.direction == Direction.COLLECTION,
                    PaymentInstruction.status.in_(settled),
                )
            )
            or 0
        )
        summary.collections_settled = summary.instructions[("collection", "settled")]
        summary.disbursed_fen = int(
            session.scalar(
                select(func.sum(PaymentInstruction.settled_amount_fen)).where(
                    PaymentInstruction.direction == Direction.DISBURSEMENT,
                    PaymentInstruction.status.in_(settled),
                )
            )
            or 0
        )
        summary.loans_overdue = int(
            session.scalar(
                select(func.count()).select_from(Loan).where(Loan.status == LoanStatus.OVERDUE)
            )
            or 0
        )
        for item_kind, count in session.execute(
            select(FollowUpItem.kind, func.count())
            .where(FollowUpItem.resolved.is_(False))
            .group_by(FollowUpItem.kind)
        ):
            summary.follow_ups[item_kind.value] = int(count)
        summary.failed_step_runs = [
            shorten(
                f"{r.business_date} {r.step}/{r.partition} (attempts {r.attempts}): "
                f"{r.error or ''}",
                140,
                placeholder=" …",
            )
            for r in session.scalars(select(JobRun).where(JobRun.attempts > 1).order_by(JobRun.id))
        ] + [
            shorten(
                f"{r.business_date} {r.step}/{r.partition} still failing: {r.error or ''}",
                140,
                placeholder=" …",
            )
            for r in session.scalars(select(JobRun).where(JobRun.status == RunStatus.FAILED))
        ]
        for q_kind, q_status, code in session.execute(
            select(QueueItem.kind, QueueItem.status, Association.code).outerjoin(
                Association, Association.id == QueueItem.association_id
            )
        ):
            if q_status is ItemStatus.CLOSED:
                summary.queue_closed[q_kind] += 1
            else:
                summary.queue_open[q_kind] += 1
                summary.queue_associations.setdefault(q_kind, set()).add(code or "专户 account")
        for auto_kind, count in session.execute(
            select(AutoPosting.kind, func.count())
            .where(AutoPosting.undone_at.is_(None))
            .group_by(AutoPosting.kind)
        ):
            summary.auto_postings[auto_kind] = int(count)
        for association in session.scalars(select(Association).order_by(Association.code)):
            ours = balance(session, association.id, AccountCode.BANK_SUB_ACCOUNT)
            theirs = exchange.engine.balance_fen(association.sub_account_number)
            summary.ledger_vs_bank_fen[association.code] = (ours, theirs)
    for fault in exchange.engine.injected_faults():
        summary.bank_faults[fault.kind.value] += 1
    return summary


STATUS_ZH = {
    "settled": "已入账",
    "failed": "失败",
    "returned": "退汇",
    "sent": "已发送待回盘",
    "pending": "待发送",
    "batched": "已组批",
    "accepted": "已受理",
    "rejected": "已拒绝",
}


def summary_tables(summary: CycleSummary) -> list[Table]:
    """The closing summary as rich tables."""
    head = Table(
        title=f"夜间批处理汇总 Nightly cycle {summary.first_day} – {summary.last_day} "
        f"({summary.business_days} 个营业日 business days)"
    )
    head.add_column("项目 Item")
    head.add_column("数量 Count", justify="right")
    head.add_row("批次文件 batch files sent", str(summary.batches))
    head.add_row("批次明细 instructions in batches", str(summary.batch_lines))
    for key, count in sorted(summary.inbound_files.items()):
        kind, status = key.split(":")
        head.add_row(f"银行来文 inbound {kind} files, {status}", str(count))
    for (direction, status), count in sorted(summary.instructions.items()):
        label = "代付 disbursement" if direction == "disbursement" else "代扣 collection"
        head.add_row(f"{label} {STATUS_ZH.get(status, status)} {status}", str(count))
    head.add_row("放款金额（元） disbursed, yuan", format_yuan(summary.disbursed_fen))
    head.add_row(
        "收回金额（元） collected, yuan",
        f"{format_yuan(summary.collected_fen)} ({summary.collections_settled} 笔)",
    )
    head.add_row("逾期借款 loans overdue", str(summary.loans_overdue))
    for auto_kind, count in sorted(summary.auto_postings.items()):
        head.add_row(f"对账自动记账 booked by the reconciler: {auto_kind}", str(count))
    for kind, count in sorted(summary.bank_faults.items()):
        head.add_row(f"银行侧故障 bank fault injected: {kind}", str(count))
    tables = [head]
    office = Table(title="留待县办处理 Left for the county fund office")
    office.add_column("类别 Kind")
    office.add_column("数量 Count", justify="right")
    for kind, count in sorted(summary.follow_ups.items()):
        office.add_row(f"{FollowUpKind(kind).label_zh} {kind}", str(count))
    for line in summary.quarantined:
        office.add_row(f"[red]隔离文件 quarantined[/red] {line}", "1")
    for line in summary.failed_step_runs:
        office.add_row(f"[yellow]步骤重试 step retried[/yellow] {line}", "")
    tables.append(office)
    recon = Table(
        title="账银差异（待对账） Ledger vs bank per sub-account, for the reconciler",
        caption="差异来自银行侧的现金、不明来款、借款人自行转账还款和延迟入账",
    )
    for header in ("协会", "账面（元） ledger", "银行（元） bank", "差额 difference"):
        recon.add_column(header, justify="right")
    for code, (ours, theirs) in sorted(summary.ledger_vs_bank_fen.items()):
        recon.add_row(
            code,
            format_yuan(ours),
            format_yuan(theirs),
            format_yuan(theirs - ours) if theirs != ours else "0.00",
        )
    tables.append(recon)
    queue = Table(
        title="对账差错队列 Mismatch queue after the last night, for the county fund office",
        caption="待处理含已提交待复核、待银行更正和核销审核的差错 / open includes items awaiting "
        "approval, the bank or a write-off review",
    )
    queue.add_column("类别 Kind")
    queue.add_column("待处理 open", justify="right")
    queue.add_column("已关闭 closed", justify="right")
    queue.add_column("协会 associations")
    kinds = sorted(set(summary.queue_open) | set(summary.queue_closed))
    for kind in kinds:
        known = kind in {k.value for k in ExceptionKind}
        queue.add_row(
            f"{EXPLANATION[ExceptionKind(kind)].split(' / ')[0]} {kind}" if known else kind,
            str(summary.queue_open[kind]),
            str(summary.queue_closed[kind]),
            ", ".join(sorted(summary.queue_associations.get(kind, set()))),
        )
    if not kinds:
        queue.add_row("无差错 none", "0", "0", "")
    tables.append(queue)
    return tables
