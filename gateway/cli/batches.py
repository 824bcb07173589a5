"""``huzhu batches list|show|resend`` and ``huzhu files list|show|reapply``: what was sent to
the banks, what came back, and putting a quarantined file back to be applied."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import func, select

from adapters.money import format_yuan
from gateway.api.scopes import file_scope
from gateway.auth.acting import acting_principal
from gateway.auth.permissions import Permission
from gateway.batches.models import BatchStatus, PaymentBatch
from gateway.batches.sender import refuse_judged_batch, resend
from gateway.cli._common import (
    cli_session,
    console,
    current_settings,
    err_console,
    parse_date,
    require_database,
)
from gateway.db import make_session_factory
from gateway.errors import HuzhuError
from gateway.ingestion.models import InboundFile, InboundKind, InboundStatus
from gateway.ingestion.service import get_inbound_file, reapply_file
from gateway.jobs.runtime import build_nightly, configure_logging
from gateway.payments.models import FollowUpItem, PaymentInstruction

batches_app = typer.Typer(help="付款批次 payment batches sent to the banks.", no_args_is_help=True)


@batches_app.command("list")
def batches_list(
    on: Annotated[str | None, typer.Option("--date", help="Business date YYYY-MM-DD.")] = None,
    status: Annotated[BatchStatus | None, typer.Option(help="Only batches in this state.")] = None,
    bank: Annotated[str | None, typer.Option(help="Only this bank's batches.")] = None,
) -> None:
    """List batches: file, direction, lines, amount, state."""
    with cli_session(current_settings()) as session:
        query = select(PaymentBatch).order_by(PaymentBatch.id)
        if on:
            query = query.where(PaymentBatch.business_date == parse_date(on))
        if status:
            query = query.where(PaymentBatch.status == status)
        if bank:
            query = query.where(PaymentBatch.bank_code == bank)
        table = Table(title="付款批次 Payment batches")
        for header in (
            "ID",
            "日期 Date",
            "银行 Bank",
            "文件 File",
            "方向",
            "笔数",
            "金额（元）",
            "状态",
            "发送",
        ):
            table.add_column(header)
        for b in session.scalars(query):
            table.add_row(
                str(b.id),
                b.business_date.isoformat(),
                b.bank_code,
                b.file_name,
                "代付" if b.direction.value == "disbursement" else "代扣",
                str(b.line_count),
                format_yuan(b.total_fen),
                b.status.value,
                str(b.delivery_attempts),
            )
        console().print(table)


@batches_app.command("show")
def batches_show(batch_id: int) -> None:
    """One batch: its file, hash, delivery and every instruction's state."""
    with cli_session(current_settings()) as session:
        b = session.get(PaymentBatch, batch_id)
        if b is None:
            err_console().print(f"[red]批次 {batch_id} 不存在[/red] (batch not found)")
            raise typer.Exit(1)
        console().print(
            f"[bold]{b.file_name}[/bold]  message {b.message_id}  bank {b.bank_code}\n"
            f"SHA-256 {b.sha256}  {len(b.content)} bytes  state {b.status.value}  "
            f"attempts {b.delivery_attempts}  sent {b.sent_at or '-'}"
            + (f"\n[red]last error: {b.last_error}[/red]" if b.last_error else "")
        )
        table = Table()
        for header in ("E2E", "金额（元）", "状态 State", "入账", "原因 Reason"):
            table.add_column(header)
        for i in session.scalars(
            select(PaymentInstruction)
            .where(PaymentInstruction.batch_id == b.id)
            .order_by(PaymentInstruction.id)
        ):
            table.add_row(
                i.end_to_end_id,
                format_yuan(i.amount_fen),
                i.status.value,
                format_yuan(i.settled_amount_fen) if i.settled_amount_fen else "",
                " ".join(x for x in (i.reason_code or "", i.reason_text or "") if x),
            )
        console().print(table)
        follow_ups = list(
            session.scalars(
                select(FollowUpItem).where(FollowUpItem.batch_id == b.id).order_by(FollowUpItem.id)
            )
        )
        if follow_ups:
            items = Table(title="跟进事项 Follow-ups")
            for header in ("日期 Date", "类别 Kind", "说明 Message", "已处理 Resolved"):
                items.add_column(header)
            for item in follow_ups:
                items.add_row(
                    item.business_date.isoformat(),
                    f"{item.kind.label_zh} {item.kind.label_en} ({item.kind.value})",
                    item.message_zh,
                    "是 yes" if item.resolved else "否 no",
                )
            console().print(items)


@batches_app.command("resend")
def batches_resend(
    batch_id: int,
    json_logs: Annotated[bool, typer.Option("--json-logs")] = False,
) -> None:
    """Deliver a batch's stored bytes again, only if the bank does not have them.

    Refused (exit 1) for a batch the bank answered or refused whole: a refused batch's
    instructions have failed, and once corrected and released again they go out in a new
    batch under a new file name."""
    configure_logging(json_logs)
    settings = current_settings()
    require_database(settings)
    pipeline, engine = build_nightly(settings)
    try:
        factory = make_session_factory(engine)
        with cli_session(settings) as session:
            batch = session.get(PaymentBatch, batch_id)
            if batch is None:
                err_console().print(f"[red]批次 {batch_id} 不存在[/red] (batch not found)")
                raise typer.Exit(1)
            # Known here, before any connection to the bank: a refused or answered batch
            # is never sent again (a refused one's instructions go out in a new batch).
            refuse_judged_batch(session, batch)
            bank_code, day = batch.bank_code, batch.business_date
        profile = pipeline.profile(bank_code)
        try:
            with pipeline.transport_factory(profile) as transport:
                delivery = resend(factory, profile, transport, batch_id, business_date=day)
        except HuzhuError as exc:
            err_console().print(f"[red]{exc.message_zh}[/red] ({exc.message_en})")
            raise typer.Exit(1) from exc
    finally:
        engine.dispose()
    console().print(f"{delivery.status.value}: {delivery.path}")


@batches_app.command("cutoffs")
def batches_cutoffs() -> None:
    """Each bank's next cut-offs (Asia/Shanghai, banking days) and what is waiting for them."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from adapters.bankconfig import load_bank_configs
    from adapters.records import Direction
    from gateway.batches.calendar import calendar_for, next_cutoff
    from gateway.org.models import Bank, SpecialAccount
    from gateway.payments.config import load_payments_config
    from gateway.payments.models import InstructionStatus

    settings = current_settings()
    payments = load_payments_config(settings.config_dir)
    banks = load_bank_configs(settings.config_dir / "banks", root=settings.files_root)
    table = Table(title="截止时间 Next cut-offs")
    for header in (
        "银行 Bank",
        "今日 Today",
        "代付截止 Disbursements",
        "代扣截止 Collections",
        "待发 Waiting",
    ):
        table.add_column(header)
    with cli_session(settings) as session:
        waiting = dict(
            session.execute(
                select(Bank.code, func.count(PaymentInstruction.id))
                .join(SpecialAccount, SpecialAccount.bank_id == Bank.id)
                .join(
                    PaymentInstruction,
                    PaymentInstruction.special_account_id == SpecialAccount.id,
                )
                .where(PaymentInstruction.status == InstructionStatus.PENDING)
                .group_by(Bank.code)
            ).all()
        )
    for code, bank in sorted(banks.items()):
        calendar = calendar_for(bank, settings.config_dir, payments.calendar.default)
        now = datetime.now(ZoneInfo(bank.bank.timezone))
        today = "营业 banking day" if calendar.is_banking_day(now.date()) else "休息 closed"
        table.add_row(
            f"{code} {bank.bank.name}",
            today,
            next_cutoff(bank, calendar, Direction.DISBURSEMENT, now).strftime("%Y-%m-%d %H:%M %Z"),
            next_cutoff(bank, calendar, Direction.COLLECTION, now).strftime("%Y-%m-%d %H:%M %Z"),
            str(waiting.get(code, 0)),
        )
    console().print(table)


def files_list(
    kind: Annotated[InboundKind | None, typer.Option(help="result or statement.")] = None,
    status: Annotated[InboundStatus | None, typer.Option(help="Only files in this state.")] = None,
) -> None:
    """Inbound bank files: name, kind, hash, outcome."""
    with cli_session(current_settings()) as session:
        query = select(InboundFile).order_by(InboundFile.id)
        if kind:
            query = query.where(InboundFile.kind == kind)
        if status:
            query = query.where(InboundFile.status == status)
        table = Table(title="银行来文 Inbound bank files")
        for header in (
            "ID",
            "日期",
            "银行",
            "文件 File",
            "类型",
            "SHA-256",
            "次数",
            "结果 Outcome",
        ):
            table.add_column(header)
        for f in session.scalars(query):
            outcome = f.status.value
            if f.status is InboundStatus.QUARANTINED:
                outcome = f"[red]{outcome}: {(f.reason or '')[:60]}[/red]"
            table.add_row(
                str(f.id),
                f.business_date.isoformat(),
                f.bank_code,
                f.name,
                f.kind.value,
                f.sha256[:12],
                str(f.times_seen),
                outcome,
            )
        console().print(table)


def files_show(file_id: int) -> None:
    """One inbound file: what it was, what was done with it."""
    with cli_session(current_settings()) as session:
        f = session.get(InboundFile, file_id)
        if f is None:
            err_console().print(f"[red]文件 {file_id} 不存在[/red] (file not found)")
            raise typer.Exit(1)
        instructions = session.scalar(
            select(func.count())
            .select_from(PaymentInstruction)
            .where(PaymentInstruction.batch_id == f.batch_id)
        )
        console().print(
            f"[bold]{f.name}[/bold] ({f.kind.value}) from {f.bank_code} at {f.remote_path}\n"
            f"SHA-256 {f.sha256}, {f.size} bytes, seen {f.times_seen} time(s), "
            f"received {f.received_at}, processed {f.processed_at or '-'}\n"
            f"outcome {f.status.value}"
            + (f": {f.reason}" if f.reason else "")
            + (f"\nbatch {f.batch_id} ({instructions} instructions)" if f.batch_id else "")
        )
        console().print_json(json.dumps(json.loads(f.summary_json or "{}"), ensure_ascii=False))


def files_reapply(
    file_id: Annotated[int, typer.Argument(metavar="ID", help="The inbound file's id.")],
    by: Annotated[
        str,
        typer.Option(
            "--by",
            help="Who puts it back: the user name of an active user who may work the file's "
            "follow-ups.",
        ),
    ],
    note: Annotated[
        str, typer.Option("--note", help="Why it can apply now (required; audit log).")
    ],
) -> None:
    """Put a quarantined file back to be applied by the next night (audited).

    Refused (exit 1) for a file that is not quarantined, and for one whose signature or
    decryption failed: the bank must send that one again."""
    with cli_session(current_settings()) as session:
        found = get_inbound_file(session, file_id)
        # as in the console: a user who may work the follow-ups of the file's county
        actor = acting_principal(
            session,
            by,
            Permission.WORK_FOLLOW_UPS,
            lambda principal: file_scope(session, principal, found),
            option="--by",
        ).username
        f = reapply_file(session, file_id, actor=actor, note=note)
        step = "statements" if f.kind is InboundKind.STATEMENT else "results"
        console().print(
            f"已放回待处理 put back to be applied: #{f.id} {f.name} ({f.kind.value}); "
            f"下一晚的 {step} 步骤处理 the next night's {step} step applies it",
            markup=False,
        )


def register(app: typer.Typer) -> None:
    from gateway.cli.files import files_app

    app.add_typer(batches_app, name="batches")
    files_app.command("list")(files_list)
    files_app.command("show")(files_show)
    files_app.command("reapply")(files_reapply)
