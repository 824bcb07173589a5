"""``/api/v1/queue-items``: the mismatch queue as a work list (filter, sort, paginate) and
each item's evidence (the bank lines beside the candidate book entries), history and the
resolution actions: assign, manual match, adjusting entry, bank-error follow-up, write-off
request, reassignment, dismissal, and the second person's review of a large adjustment or of
a write-off request."""

from __future__ import annotations

import json
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any

from fastapi import Query, Request
from pydantic import BaseModel, Field, StrictInt
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.api.deps import CurrentPrincipal, DbSession
from gateway.api.pagination import Page, Paging, paginate
from gateway.api.router import (
    MAX_ID,
    WRITE_PROBLEM_STATUSES,
    ObjectId,
    association_scope,
    domain_router,
)
from gateway.auth.permissions import Permission, Principal
from gateway.db import as_utc
from gateway.errors import ValidationFailed
from gateway.ledger.models import JournalTransaction
from gateway.org.models import Association, SpecialAccount
from gateway.queue import service as queue
from gateway.queue.models import ItemStatus, QueueEvent, QueueItem
from gateway.reconcile.models import OpenItem
from gateway.reconcile.source import transaction_id_of
from gateway.security.fieldcrypt import mask_card
from reconciliation.findings import ExceptionKind

router = domain_router("差异队列 mismatch queue")


class QueueSort(StrEnum):
    PRIORITY = "priority"  # highest priority first, then newest
    NEWEST = "newest"
    OLDEST = "oldest"


class QueueItemOut(BaseModel):
    id: int
    special_account_id: int
    association_id: int | None
    kind: str
    severity: int
    priority: int
    status: str
    night_state: str
    first_seen: date
    last_seen: date
    times_seen: int
    sub_account: str | None
    subject: str
    expected_fen: int | None
    actual_fen: int | None
    explanation: str
    assignee: str | None
    resolution: str | None
    resolution_note: str | None
    resolved_by: str | None
    approved_by: str | None


class BankLineOut(BaseModel):
    line_id: str
    booking_date: date | None
    amount_fen: int | None
    credit: bool | None
    channel: str | None
    counterparty_account_masked: str | None
    counterparty_name: str | None
    remittance: str | None
    end_to_end_id: str | None
    still_open: bool


class BookEntryOut(BaseModel):
    entry_id: str
    transaction_id: str | None
    association_id: int | None
    business_date: date | None
    description: str
    kind: str | None
    channel: str | None
    cash_flagged: bool
    total_fen: int | None


class QueueEventOut(BaseModel):
    at: datetime
    actor: str
    action: str
    note: str
    data: dict[str, Any]


class QueueItemDetailOut(QueueItemOut):
    bank_lines: list[BankLineOut]
    book_entries: list[BookEntryOut]
    history: list[QueueEventOut]
    proposal: dict[str, Any] | None


class AssignIn(BaseModel):
    assignee: str = Field(
        min_length=1,
        max_length=100,
        description="the user name of an active user who works the queue (queue.work) within "
        "the item's county; anyone else is refused (422)",
    )
    priority: StrictInt | None = Field(default=None, ge=1, le=9)


class ResolutionAction(StrEnum):
    MANUAL_MATCH = "manual_match"
    ADJUSTING_ENTRY = "adjusting_entry"
    BANK_ERROR = "bank_error"
    WRITE_OFF = "write_off"
    REASSIGN = "reassign"
    DISMISS = "dismiss"


class ResolveIn(BaseModel):
    action: ResolutionAction
    note: str = Field(
        min_length=1,
        max_length=600,
        description="the justification, reason or follow-up note (required for every action)",
    )
    association_id: StrictInt | None = Field(
        default=None, ge=1, le=MAX_ID, description="target association of a reassignment"
    )
    line_ids: list[str] | None = Field(default=None, max_length=200)
    entry_ids: list[str] | None = Field(default=None, max_length=200)
    on: date | None = Field(
        default=None,
        description="business date of an adjusting entry; by default and at the latest "
        "the next date to reconcile",
    )


class ReviewIn(BaseModel):
    approve: bool
    note: str = Field(
        default="",
        max_length=600,
        description="the reason (required to return or reject); on approval, what the approver "
        "checked, kept in the history and the audit log",
    )
    on: date | None = Field(
        default=None,
        description="business date of an approved write-off; by default and at the latest "
        "the next date to reconcile",
    )


def item_out(item: QueueItem) -> QueueItemOut:
    return QueueItemOut(
        id=item.id,
        special_account_id=item.special_account_id,
        association_id=item.association_id,
        kind=item.kind,
        severity=item.severity,
        priority=item.priority,
        status=item.status.value,
        night_state=item.night_state.value,
        first_seen=item.first_seen,
        last_seen=item.last_seen,
        times_seen=item.times_seen,
        sub_account=item.sub_account,
        subject=item.subject,
        expected_fen=item.expected_fen,
        actual_fen=item.actual_fen,
        explanation=item.explanation,
        assignee=item.assignee,
        resolution=item.resolution.value if item.resolution else None,
        resolution_note=item.resolution_note,
        resolved_by=item.resolved_by,
        approved_by=item.approved_by,
    )


def visible_item(
    session: Session, principal: Principal, item_id: int, permission: Permission
) -> QueueItem:
    principal.require(permission)
    item = queue.get_item(session, item_id)
    principal.require(permission, queue.item_scope(session, item))
    return item


def evidence(session: Session, item: QueueItem) -> tuple[list[BankLineOut], list[BookEntryOut]]:
    """The bank lines and the book entries the item is about, side by side; a line no longer
    open (matched, dismissed, written off) as the item kept it."""
    line_ids = queue.item_line_ids(item)
    entry_ids = queue.item_entry_ids(item)
    open_rows = {
        row.item_id: row
        for row in session.scalars(
            select(OpenItem).where(
                OpenItem.special_account_id == item.special_account_id,
                OpenItem.item_id.in_(line_ids + entry_ids),
            )
        )
    }
    kept = queue.item_evidence(item)
    lines = []
    for line_id in line_ids:
        row = open_rows.get(line_id)
        # the line while it is open, else as the run saw it when it raised the item
        data: dict[str, Any] = (
            json.loads(row.line_json or "{}") if row and row.line_json else kept.get(line_id, {})
        )
        counterparty = data.get("counterparty_account")
        booked = data.get("booking_date")
        lines.append(
            BankLineOut(
                line_id=line_id,
                booking_date=date.fromisoformat(booked) if booked else None,
                amount_fen=data.get("amount_fen"),
                credit=data.get("credit"),
                channel=data.get("channel"),
                counterparty_account_masked=mask_card(counterparty) if counterparty else None,
                counterparty_name=data.get("counterparty_name"),
                remittance=data.get("remittance"),
                end_to_end_id=data.get("end_to_end_id"),
                still_open=row is not None,
            )
        )
    entries = []
    for entry_id in entry_ids:
        transaction_id = transaction_id_of(entry_id)
        found = session.get(JournalTransaction, transaction_id) if transaction_id else None
        entries.append(
            BookEntryOut(
                entry_id=entry_id,
                transaction_id=str(transaction_id) if transaction_id else None,
                association_id=found.association_id if found else None,
                business_date=found.business_date if found else None,
                description=found.description if found else "",
                kind=found.kind if found else None,
                channel=found.channel.value if found else None,
                cash_flagged=bool(found.cash_flagged) if found else False,
                total_fen=found.total_fen if found else None,
            )
        )
    return lines, entries


def detail(session: Session, item: QueueItem) -> QueueItemDetailOut:
    lines, entries = evidence(session, item)
    events: list[QueueEvent] = queue.history(session, item.id)
    return QueueItemDetailOut(
        **item_out(item).model_dump(),
        bank_lines=lines,
        book_entries=entries,
        history=[
            QueueEventOut(
                at=as_utc(e.at),
                actor=e.actor,
                action=e.action,
                note=e.note,
                data=json.loads(e.data_json or "{}"),
            )
            for e in events
        ],
        proposal=json.loads(item.proposal_json) if item.proposal_json else None,
    )


def scoped_items(principal: Principal) -> Any:
    statement = select(QueueItem)
    if principal.association_id is not None:
        statement = statement.where(QueueItem.association_id == principal.association_id)
    elif principal.county_id is not None:
        accounts = select(SpecialAccount.id).where(SpecialAccount.county_id == principal.county_id)
        statement = statement.where(QueueItem.special_account_id.in_(accounts))
    return statement


def filtered(
    principal: Principal,
    *,
    status: ItemStatus | None,
    kind: str | None,
    association_id: int | None,
    assignee: str | None,
) -> Any:
    statement = scoped_items(principal)
    if status is not None:
        statement = statement.where(QueueItem.status == status)
    else:
        statement = statement.where(QueueItem.status.in_(queue.WORKING))
    if kind:
        statement = statement.where(QueueItem.kind == kind)
    if association_id is not None:
        statement = statement.where(QueueItem.association_id == association_id)
    if assignee:
        statement = statement.where(QueueItem.assignee == assignee)
    return statement


def list_page(
    session: Session, statement: Any, sort: QueueSort, page: Any
) -> tuple[list[QueueItem], str | None]:
    if sort is QueueSort.PRIORITY:
        return paginate(
            session,
            statement,
            order=[QueueItem.priority, QueueItem.id],
            key=lambda i: [i.priority, i.id],
            page=page,
            descending=True,
        )
    return paginate(
        session,
        statement,
        order=[QueueItem.id],
        key=lambda i: [i.id],
        page=page,
        descending=sort is QueueSort.NEWEST,
    )


@router.get(
    "/queue-items",
    response_model=Page[QueueItemOut],
    summary="差异队列 Work list (open, and awaiting a second person's decision: a large "
    "adjusting entry or a write-off request, unless a status is given)",
)
def list_queue(
    principal: CurrentPrincipal,
    session: DbSession,
    page: Paging,
    status: Annotated[ItemStatus | None, Query()] = None,
    kind: Annotated[ExceptionKind | None, Query()] = None,
    association_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    assignee: Annotated[str | None, Query(max_length=100)] = None,
    sort: Annotated[QueueSort, Query()] = QueueSort.PRIORITY,
) -> Page[QueueItemOut]:
    principal.require(Permission.READ_QUEUE)
    statement = filtered(
        principal,
        status=status,
        kind=kind.value if kind is not None else None,
        association_id=association_id,
        assignee=assignee,
    )
    rows, cursor = list_page(session, statement, sort, page)
    return Page(items=[item_out(i) for i in rows], next_cursor=cursor)


@router.get(
    "/queue-items/{item_id}",
    response_model=QueueItemDetailOut,
    summary="差异详情 Item with the bank lines, candidate book entries and history",
)
def read_queue_item(
    item_id: ObjectId, principal: CurrentPrincipal, session: DbSession
) -> QueueItemDetailOut:
    return detail(session, visible_item(session, principal, item_id, Permission.READ_QUEUE))


@router.post(
    "/queue-items/{item_id}/assign",
    response_model=QueueItemOut,
    summary="分派 Assign (and reprioritise)",
    responses=WRITE_PROBLEM_STATUSES,
)
def assign_item(
    item_id: ObjectId, body: AssignIn, principal: CurrentPrincipal, session: DbSession
) -> QueueItemOut:
    visible_item(session, principal, item_id, Permission.WORK_QUEUE)
    item = queue.assign(
        session, item_id, assignee=body.assignee, actor=principal.actor, priority=body.priority
    )
    return item_out(item)


def resolve(
    request: Request, session: Session, principal: Principal, item_id: int, body: ResolveIn
) -> QueueItem:
    """Carry out one resolution action on an item the caller may work."""
    visible_item(session, principal, item_id, Permission.WORK_QUEUE)
    actor = principal.actor
    if body.action is ResolutionAction.MANUAL_MATCH:
        return queue.resolve_manual_match(
            session,
            item_id,
            actor=actor,
            line_ids=body.line_ids,
            entry_ids=body.entry_ids,
            note=body.note,
        )
    if body.action is ResolutionAction.ADJUSTING_ENTRY:
        return queue.resolve_adjusting_entry(
            session,
            item_id,
            actor=actor,
            reason=body.note,
            on=body.on,
            config=request.app.state.queue_config,
        )
    if body.action is ResolutionAction.BANK_ERROR:
        return queue.resolve_bank_error(session, item_id, actor=actor, note=body.note)
    if body.action is ResolutionAction.WRITE_OFF:
        return queue.request_write_off(session, item_id, actor=actor, note=body.note)
    if body.action is ResolutionAction.REASSIGN:
        if body.association_id is None:
            raise ValidationFailed(
                "改归须指定目标协会", "a reassignment names the target association_id"
            )
        target = session.get(Association, body.association_id)
        if target is not None:
            principal.require(Permission.WORK_QUEUE, association_scope(target))
        return queue.reassign(
            session, item_id, actor=actor, association_id=body.association_id, note=body.note
        )
    return queue.dismiss(session, item_id, actor=actor, justification=body.note)


@router.post(
    "/queue-items/{item_id}/resolve",
    response_model=QueueItemOut,
    summary="处理 Resolve: manual match, adjusting entry, bank error, write-off, reassign, dismiss",
    responses=WRITE_PROBLEM_STATUSES,
)
def resolve_item(
    item_id: ObjectId,
    body: ResolveIn,
    request: Request,
    principal: CurrentPrincipal,
    session: DbSession,
) -> QueueItemOut:
    return item_out(resolve(request, session, principal, item_id, body))


@router.post(
    "/queue-items/{item_id}/review",
    response_model=QueueItemOut,
    summary="复核 A second person approves or returns a large adjusting entry, or approves "
    "(books it against 呆坏账核销) or rejects a write-off request",
    responses=WRITE_PROBLEM_STATUSES,
)
def review_item(
    item_id: ObjectId, body: ReviewIn, principal: CurrentPrincipal, session: DbSession
) -> QueueItemOut:
    """Decides what the item waits for, by its status: ``awaiting_approval`` (an adjusting
    entry above the limit) or ``write_off_review`` (a write-off request). The person who
    proposed or requested it may not approve it (422 ``second_person_required``); a write-off
    request is rejected by another person too, with a reason, and the item is open again."""
    visible_item(session, principal, item_id, Permission.WORK_QUEUE)
    item = queue.review(
        session,
        item_id,
        actor=principal.actor,
        approve=body.approve,
        note=body.note,
        on=body.on,
    )
    return item_out(item)
