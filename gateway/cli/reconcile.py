"""``huzhu reconcile --date D [--account A]`` and
``huzhu queue list|show|assign|resolve|approve|decide``.

The command reconciles through the same service as the nightly pipeline's ``reconcile`` step,
the same dates in the same order (``dates_to_reconcile``).
Queue actions name who does them (``--by``): the user name of an active user who may work the
item's queue, as in the console (:func:`gateway.auth.acting.acting_principal`; the history
records their user name, however it was typed); a second person approves large adjustments
and decides write-off requests.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated

import typer
from rich import box
from rich.console import JustifyMethod
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.money import format_yuan
from gateway.auth.acting import acting_principal
from gateway.auth.permissions import Permission, Principal
from gateway.cli._common import cli_session, console, current_settings, err_console, parse_date
from gateway.errors import Conflict, NotFound
from gateway.ledger.models import AccountCode
from gateway.org.models import Association, SpecialAccount
from gateway.queue import service as queue
from gateway.queue.config import queue_config
from gateway.queue.models import ItemStatus, NightState, QueueItem, Resolution
from gateway.reconcile.calendars import calendar_loader, match_config
from gateway.reconcile.service import (
    AccountOutcome,
    dates_to_reconcile,
    reconcile_account,
    refuse_after_today,
)
from gateway.reconcile.source import adapter_loader
from gateway.web.i18n import KIND_LABELS, enum_label, expected_label, kind_label, status_label

queue_app = typer.Typer(help="对账差错队列 the mismatch queue.", no_args_is_help=True)


def _fen(value: int | None) -> str:
    return "" if value is None else format_yuan(value)


def reconcile(
    on: Annotated[
        str,
        typer.Option(
            "--date",
            help="Business date YYYY-MM-DD, not after today; earlier dates not yet "
            "reconciled are reconciled first.",
        ),
    ],
    account: Annotated[
        str | None, typer.Option(help="Special account number (default: every one).")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the outcome as JSON.")] = False,
) -> None:
    """Reconcile the bank's statement of a business date against the books (对账).

    Days are reconciled in order: an account last reconciled before the day before has the
    dates in between reconciled first, oldest first, as the nightly step catches up. A date
    after today is refused."""
    settings = current_settings()
    day = parse_date(on)
    adapter_for = adapter_loader(settings.config_dir)
    outcomes = []
    with cli_session(settings) as session:
        refuse_after_today(day, settings.today())
        query = select(SpecialAccount).order_by(SpecialAccount.id)
        if account is not None:
            query = query.where(SpecialAccount.account_number == account)
        specials = list(session.scalars(query))
        if not specials:
            raise NotFound("专户不存在", f"no special account {account}")
        # the same banking calendar as the nightly step
        config = match_config(session, calendar_loader(settings.config_dir))
        done_already = []
        for special in specials:
            dates = dates_to_reconcile(session, special.id, day)
            if not dates and account is None and len(specials) > 1:
                # every account was asked for: one reconciled through ``day`` already is
                # passed over, as the nightly step does, and the others are caught up
                done_already.append(special.account_number)
                continue
            # the one account asked for, reconciled through ``day`` already: refused, saying so
            for each in dates or [day]:
                outcomes.append(
                    reconcile_account(
                        session,
                        special.id,
                        each,
                        adapter_for=adapter_for,
                        config=config,
                        actor="huzhu reconcile",
                    )
                )
                session.commit()  # each date in its own transaction, as in the nightly step
        if done_already and not outcomes:
            raise Conflict(
                f"各专户均已对账至 {day} 或更晚，本次无需对账",
                f"every special account is reconciled through {day} or later: nothing to do",
                code="already_reconciled",
            )
    if done_already:
        err_console().print(
            f"已对账至 {day} 或更晚，跳过 already reconciled through {day}, passed over: "
            + ", ".join(done_already)
        )
    if json_out:
        typer.echo(
            json.dumps([o.summary() for o in outcomes], ensure_ascii=False, indent=2, default=str)
        )
        return
    numbers = {s.id: s.account_number for s in specials}
    for each in sorted({o.business_date for o in outcomes}):
        console().print(
            _outcome_table(each, [o for o in outcomes if o.business_date == each], numbers)
        )


_SYNC_LABELS = {
    "new": "新增",
    "persisting": "持续",
    "reopened": "重开",
    "confirmed": "处理已确认",
    "cleared": "未再出现",
    "unchecked": "本次未核对",
}


def _compact_table(title: str, columns: list[tuple[str, JustifyMethod]]) -> Table:
    """A table without side borders that fits an 80-column terminal; a cell too long for a
    narrow one folds onto a second line, nothing is cut short."""
    table = Table(
        title=title,
        box=box.SIMPLE_HEAD,
        padding=(0, 1, 0, 0),
        pad_edge=False,
        collapse_padding=True,
        show_edge=False,
    )
    for header, justify in columns:
        table.add_column(header, justify=justify, overflow="fold")
    return table


def _outcome_table(day: date, outcomes: list[AccountOutcome], numbers: dict[int, str]) -> Table:
    """One row per special account; the exceptions and the queue's changes one per line, in
    Chinese, so the table fits an 80-column terminal."""
    table = _compact_table(
        f"对账 reconciliation {day}",
        [
            ("专户\nAccount", "left"),
            ("对账单\nStmt", "left"),
            ("流水/账务\nLn/En", "right"),
            ("匹配\nMatch", "right"),
            ("自动\nAuto", "right"),
            ("未达\nOpen", "right"),
            ("差错\nExceptions", "left"),
            ("队列\nQueue", "left"),
        ],
    )
    for o in outcomes:
        kinds = [f"{kind_label('zh', k)} {v}" for k, v in sorted(o.kinds.items()) if v]
        queue_changes = [f"{_SYNC_LABELS[k]} {v}" for k, v in o.queue.as_dict().items() if v]
        table.add_row(
            numbers[o.special_account_id],
            "有" if o.has_statement else "[red]缺失[/]",
            f"{o.lines}/{o.entries}",
            str(o.matched_lines),
            str(o.auto_postings),
            f"{o.open_lines}/{o.open_entries}",
            "\n".join(kinds) or "0",
            "\n".join(queue_changes) or "-",
        )
    return table


_NIGHT_LABELS = {
    state: f"{enum_label('zh', 'night_state', state.value)} {state.value}" for state in NightState
}


def _status(item: QueueItem) -> str:
    """The item's state as the office reads it, with its code: ``已处理，待对账确认 resolved``."""
    return f"{status_label('zh', item.status.value)} {item.status.value}"


def _item_fields(item: QueueItem) -> dict[str, object]:
    """An item as ``queue list --json`` prints it: codes, not labels."""
    return {
        "id": item.id,
        "kind": item.kind,
        "priority": item.priority,
        "status": item.status.value,
        "night_state": item.night_state.value,
        "sub_account": item.sub_account or "",
        "actual": _fen(item.actual_fen),
        "expected": _fen(item.expected_fen),
        "seen": f"{item.first_seen}..{item.last_seen}",
        "assignee": item.assignee or "",
    }


def _item_row(item: QueueItem, association: str, *, wide: bool) -> list[str]:
    """An item as a row of the table, in Chinese labels (``--json`` gives the codes); a wide
    terminal also gets the night's state, the sub-account and the assignee."""
    row = [
        str(item.id),
        kind_label("zh", item.kind),
        str(item.priority),
        status_label("zh", item.status.value),
        association,
        _fen(item.actual_fen),
        _fen(item.expected_fen),
        str(item.first_seen),
        str(item.times_seen),
    ]
    if wide:
        row += [
            _NIGHT_LABELS[item.night_state].split()[0],
            item.sub_account or "",
            item.assignee or "",
        ]
    return row


_BY_HELP = "the user name of an active user who may work the item's queue"


def _acting(session: Session, item_id: int, by: str) -> Principal:
    """The user ``--by`` names, once they may work the item as the console would let them
    (its county's queue; not a read-only auditor, a treasurer or the bank's operator)."""
    item = queue.get_item(session, item_id)
    return acting_principal(
        session, by, Permission.WORK_QUEUE, queue.item_scope(session, item), option="--by"
    )


def _kind_code(given: str) -> str:
    """An exception kind named by its code (``village_cash``) or its label (``村级现金``)."""
    for code, (zh, en) in KIND_LABELS.items():
        if given.strip().lower() in (code, zh, en.lower()):
            return code
    known = ", ".join(f"{code} ({zh})" for code, (zh, _) in KIND_LABELS.items())
    raise typer.BadParameter(f"未知的差错类型 unknown kind {given!r}; one of: {known}")


@queue_app.command("list")
def queue_list(
    status: Annotated[ItemStatus | None, typer.Option(help="Only items in this state.")] = None,
    every: Annotated[bool, typer.Option("--all", help="Closed items too.")] = False,
    kind: Annotated[
        str | None,
        typer.Option(help="Only this exception kind: its code or its Chinese label."),
    ] = None,
    assignee: Annotated[
        str | None, typer.Option(help="Only items assigned to this person.")
    ] = None,
    association: Annotated[str | None, typer.Option(help="Only this association's code.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Open items by priority, oldest first."""
    kind = _kind_code(kind) if kind is not None else None
    with cli_session(current_settings()) as session:
        association_id = None
        if association is not None:
            association_id = session.scalar(
                select(Association.id).where(Association.code == association)
            )
            if association_id is None:
                raise NotFound("协会不存在", f"no association {association}")
        statuses = [status] if status else (list(ItemStatus) if every else None)
        items = queue.list_items(
            session,
            statuses=statuses,
            association_id=association_id,
            assignee=assignee,
            kind=kind,
        )
        wanted = {i.association_id for i in items if i.association_id is not None}
        codes = {
            row.id: row.code
            for row in session.execute(
                select(Association.id, Association.code).where(Association.id.in_(wanted))
            )
        }
        fields = [_item_fields(i) for i in items]
        wide = console().width >= 125
        rows = [_item_row(i, codes.get(i.association_id or 0, ""), wide=wide) for i in items]
    if json_out:
        typer.echo(json.dumps(fields, ensure_ascii=False))
        return
    columns: list[tuple[str, JustifyMethod]] = [
        ("ID", "right"),
        ("类型\nKind", "left"),
        ("级\nPri.", "right"),
        ("状态\nStatus", "left"),
        ("协会\nAssoc.", "left"),
        ("银行\nBank", "right"),
        ("账面\nBooks", "right"),
        ("首次出现\nFirst seen", "left"),
        ("次\nSeen", "right"),
    ]
    if wide:
        columns += [("本次\nLast night", "left"), ("子账户\nSub-account", "left")]
        columns += [("处理人\nAssignee", "left")]
    table = _compact_table(f"对账差错 mismatch queue ({len(rows)})", columns)
    for row in rows:
        table.add_row(*row)
    console().print(table)
    if not wide:
        console().print(
            "更宽的终端（125 列以上）另显示本次状态、子账户和处理人；--json 给出代码 / "
            "a terminal of 125 columns or more also shows the night's state, the sub-account and "
            "the assignee; --json gives the codes",
            style="dim",
        )


@queue_app.command("show")
def queue_show(item_id: Annotated[int, typer.Argument(help="Queue item id.")]) -> None:
    """One item: its evidence and its history."""
    with cli_session(current_settings()) as session:
        item = queue.get_item(session, item_id)
        zh_kind = kind_label("zh", item.kind)
        console().print(
            f"[bold]差错 {item.id}[/] {zh_kind} {item.kind} · {_status(item)}"
            f" · {_NIGHT_LABELS[item.night_state]}",
            markup=True,
        )
        console().print(item.explanation, markup=False)
        association = session.get(Association, item.association_id) if item.association_id else None
        for label, value in (
            ("协会 association", f"{association.code} {association.name}" if association else "-"),
            ("子账户 sub-account", item.sub_account or "-"),
            ("银行 bank", _fen(item.actual_fen) or "-"),
            (
                f"{expected_label('zh', item.subject)} "
                f"{expected_label('en', item.subject).lower()}",
                _fen(item.expected_fen) or "-",
            ),
            ("流水 lines", ", ".join(queue.item_line_ids(item)) or "-"),
            ("账务 entries", ", ".join(queue.item_entry_ids(item)) or "-"),
            ("出现 seen", f"{item.first_seen} .. {item.last_seen} ({item.times_seen}×)"),
            ("处理人 assignee", item.assignee or "-"),
            ("处理 resolution", item.resolution.value if item.resolution else "-"),
            ("说明 note", item.resolution_note or "-"),
        ):
            console().print(f"  {label}: {value}", markup=False, highlight=False)
        table = Table(title="处理记录 history")
        for header in ("时间 At", "人员 By", "动作 Action", "说明 Note"):
            table.add_column(header)
        for event in queue.history(session, item_id):
            table.add_row(
                event.at.isoformat(timespec="seconds"), event.actor, event.action, event.note
            )
        console().print(table)


@queue_app.command("assign")
def queue_assign(
    item_id: Annotated[int, typer.Argument(help="Queue item id.")],
    to: Annotated[
        str,
        typer.Option(
            "--to",
            help="Who works the item: the user name of an active user who works the queue "
            "within the item's county.",
        ),
    ],
    by: Annotated[str, typer.Option("--by", help=f"Who assigns it: {_BY_HELP}.")],
    priority: Annotated[int | None, typer.Option(help="Priority 1 (low) .. 9 (high).")] = None,
) -> None:
    """Assign an item (and optionally set its priority)."""
    with cli_session(current_settings()) as session:
        actor = _acting(session, item_id, by).username
        item = queue.assign(session, item_id, assignee=to, actor=actor, priority=priority)
        console().print(f"差错 {item.id} → {item.assignee} (优先级 {item.priority})", markup=False)


@queue_app.command("resolve")
def queue_resolve(
    item_id: Annotated[int, typer.Argument(help="Queue item id.")],
    how: Annotated[Resolution, typer.Option("--as", help="How the item is resolved.")],
    by: Annotated[str, typer.Option("--by", help=f"Who resolves it: {_BY_HELP}.")],
    note: Annotated[
        str, typer.Option(help="Reason, justification or what was raised with the bank.")
    ] = "",
    line: Annotated[list[str] | None, typer.Option(help="Manual match: a bank line id.")] = None,
    entry: Annotated[list[str] | None, typer.Option(help="Manual match: a book entry id.")] = None,
    association: Annotated[
        str | None, typer.Option(help="Reassign: the right association's code.")
    ] = None,
    counter_account: Annotated[
        str, typer.Option(help="Adjusting entry: the counter account code.")
    ] = AccountCode.SUSPENSE.value,
    on: Annotated[
        str | None,
        typer.Option(
            "--date",
            help="Adjusting entry: business date; "
            "by default and at the latest the next date to reconcile.",
        ),
    ] = None,
) -> None:
    """Resolve an item: manual_match, adjusting_entry, bank_error, write_off, reassign, dismiss."""
    settings = current_settings()
    with cli_session(settings) as session:
        principal = _acting(session, item_id, by)
        by = principal.username
        if how is Resolution.MANUAL_MATCH:
            item = queue.resolve_manual_match(
                session, item_id, actor=by, line_ids=line, entry_ids=entry, note=note
            )
        elif how is Resolution.ADJUSTING_ENTRY:
            try:
                account = AccountCode(counter_account)
            except ValueError:
                raise typer.BadParameter(f"unknown account code {counter_account!r}") from None
            item = queue.resolve_adjusting_entry(
                session,
                item_id,
                actor=by,
                reason=note,
                counter_account=account,
                on=parse_date(on) if on else None,
                config=queue_config(settings.config_dir),
            )
        elif how is Resolution.BANK_ERROR:
            item = queue.resolve_bank_error(session, item_id, actor=by, note=note)
        elif how is Resolution.WRITE_OFF:
            item = queue.request_write_off(session, item_id, actor=by, note=note)
        elif how is Resolution.REASSIGN:
            if association is None:
                raise typer.BadParameter("--association is needed to reassign")
            target = session.scalar(select(Association.id).where(Association.code == association))
            if target is None:
                raise NotFound("协会不存在", f"no association {association}")
            _may_reassign_to(session, principal, target)
            item = queue.reassign(session, item_id, actor=by, association_id=target, note=note)
        elif how is Resolution.DISMISS:
            item = queue.dismiss(session, item_id, actor=by, justification=note)
        else:
            raise typer.BadParameter(f"{how.value} is set by the reconciliation, not by hand")
        console().print(f"差错 {item.id}: {_status(item)}", markup=False)


def _may_reassign_to(session: Session, principal: Principal, association_id: int) -> None:
    """As in the console, an item goes only to an association whose queue the person who
    reassigns it may work."""
    from gateway.api.router import association_scope

    target = session.get(Association, association_id)
    assert target is not None  # looked up by the caller
    principal.require(Permission.WORK_QUEUE, association_scope(target))


@queue_app.command("approve")
def queue_approve(
    item_id: Annotated[int, typer.Argument(help="Queue item id.")],
    by: Annotated[str, typer.Option("--by", help=f"The second person, who approves: {_BY_HELP}.")],
    note: Annotated[str, typer.Option(help="What the approver checked (kept).")] = "",
) -> None:
    """Approve a proposed adjusting entry (someone other than who proposed it)."""
    with cli_session(current_settings()) as session:
        actor = _acting(session, item_id, by).username
        item = queue.approve_adjustment(session, item_id, actor=actor, note=note)
        console().print(f"差错 {item.id}: {_status(item)}", markup=False)


@queue_app.command("decide")
def queue_decide(
    item_id: Annotated[int, typer.Argument(help="Queue item id.")],
    by: Annotated[str, typer.Option("--by", help=f"The second person, who decides: {_BY_HELP}.")],
    approve: Annotated[
        bool, typer.Option("--approve/--reject", help="Approve, or reject with --note.")
    ],
    note: Annotated[
        str, typer.Option(help="The reason (required to reject); kept on approval too.")
    ] = "",
    on: Annotated[
        str | None,
        typer.Option(
            "--date",
            help="Approved write-off: business date; "
            "by default and at the latest the next date to reconcile.",
        ),
    ] = None,
) -> None:
    """Decide a write-off request or a large adjusting entry (someone other than who asked)."""
    settings = current_settings()
    with cli_session(settings) as session:
        item = queue.review(
            session,
            item_id,
            actor=_acting(session, item_id, by).username,
            approve=approve,
            note=note,
            on=parse_date(on) if on else None,
        )
        console().print(f"差错 {item.id}: {_status(item)}", markup=False)


def register(app: typer.Typer) -> None:
    app.command("reconcile")(reconcile)
    app.add_typer(queue_app, name="queue")
