"""``/api/v1`` batches (instruction files sent to banks) and inbound bank files, with their
state history; bank operators of the file's bank (and the county office) may download them.
The county office may put a quarantined bank file back to be applied (audited)."""

from __future__ import annotations

import json
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any

from fastapi import Query, Response
from pydantic import BaseModel, Field
from sqlalchemy import false, func, select
from sqlalchemy.orm import Session

from gateway.api.deps import CurrentPrincipal, DbSession
from gateway.api.downloads import attachment
from gateway.api.pagination import Page, Paging, paginate
from gateway.api.router import WRITE_PROBLEM_STATUSES, ObjectId, domain_router
from gateway.api.scopes import file_scope, special_account_scope
from gateway.auth.models import Role
from gateway.auth.permissions import Permission, Principal
from gateway.batches.models import BatchStatus, PaymentBatch
from gateway.db import as_utc
from gateway.errors import NotFound
from gateway.ingestion.models import InboundFile, InboundKind, InboundStatus
from gateway.ingestion.service import REAPPLY_NOTE_MAX, get_inbound_file, reapply_file
from gateway.org.models import Bank, SpecialAccount
from gateway.payments.follow_ups import file_in_county
from gateway.payments.models import PaymentInstruction

router = domain_router("批次与文件 batches and files")

FILE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/octet-stream": {}}, "description": "the file's bytes"}
}


class StateStep(BaseModel):
    state: str = Field(
        description="stored, sent, answered (a result file applied), rejected (the bank's "
        "refusal notice applied: the whole file refused), file_received (a bank file about "
        "the batch not processed yet), file_quarantined (a bank file about it quarantined, "
        "nothing of it applied)"
    )
    at: datetime
    detail: str = ""


class BatchOut(BaseModel):
    id: int
    bank_code: str
    special_account_id: int
    direction: str
    business_date: date
    sequence: int
    file_name: str
    status: str
    line_count: int
    total_fen: int
    sha256: str
    created_at: datetime
    sent_at: datetime | None
    delivery_attempts: int
    last_error: str | None


class BatchDetailOut(BatchOut):
    instructions_by_status: dict[str, int]
    history: list[StateStep]
    result_file_ids: list[int]


class InboundFileOut(BaseModel):
    id: int
    bank_code: str
    name: str
    kind: str
    status: str
    sha256: str
    size: int
    business_date: date
    batch_id: int | None
    reason: str | None
    times_seen: int
    received_at: datetime
    processed_at: datetime | None


class InboundFileDetailOut(InboundFileOut):
    summary: dict[str, Any]


class ReapplyFileIn(BaseModel):
    note: str = Field(
        min_length=1,
        max_length=REAPPLY_NOTE_MAX,
        description="why the file can apply now (required; recorded in the audit log)",
    )


def batch_out(batch: PaymentBatch) -> BatchOut:
    return BatchOut(
        id=batch.id,
        bank_code=batch.bank_code,
        special_account_id=batch.special_account_id,
        direction=batch.direction.value,
        business_date=batch.business_date,
        sequence=batch.sequence,
        file_name=batch.file_name,
        status=batch.status.value,
        line_count=batch.line_count,
        total_fen=batch.total_fen,
        sha256=batch.sha256,
        created_at=as_utc(batch.created_at),
        sent_at=as_utc(batch.sent_at) if batch.sent_at else None,
        delivery_attempts=batch.delivery_attempts,
        last_error=batch.last_error,
    )


def file_out(item: InboundFile) -> InboundFileOut:
    return InboundFileOut(
        id=item.id,
        bank_code=item.bank_code,
        name=item.name,
        kind=item.kind.value,
        status=item.status.value,
        sha256=item.sha256,
        size=item.size,
        business_date=item.business_date,
        batch_id=item.batch_id,
        reason=item.reason,
        times_seen=item.times_seen,
        received_at=as_utc(item.received_at),
        processed_at=as_utc(item.processed_at) if item.processed_at else None,
    )


def _files_in_scope(principal: Principal, statement: Any) -> Any:
    """The bank files the caller sees: an administrator all; a county user those of the
    county (:func:`gateway.payments.follow_ups.file_counties`), a bank operator of its own bank
    only; an association user none."""
    if principal.role is Role.ADMIN:
        return statement
    if principal.county_id is None:
        return statement.where(false())
    statement = statement.where(file_in_county(principal.county_id))
    if principal.bank_id is not None:
        statement = statement.where(
            InboundFile.bank_code
            == select(Bank.code).where(Bank.id == principal.bank_id).scalar_subquery()
        )
    return statement


def visible_batch(
    session: Session, principal: Principal, batch_id: int, permission: Permission
) -> PaymentBatch:
    principal.require(permission)
    batch = session.get(PaymentBatch, batch_id)
    if batch is None:
        raise NotFound("批次不存在", f"batch {batch_id} not found")
    principal.require(permission, special_account_scope(session, batch.special_account_id))
    return batch


def visible_file(
    session: Session, principal: Principal, file_id: int, permission: Permission
) -> InboundFile:
    principal.require(permission)
    item = get_inbound_file(session, file_id)
    principal.require(permission, file_scope(session, principal, item))
    return item


class BatchStep(StrEnum):
    """A step of a batch's history: its own states, and what each bank file about it did."""

    STORED = BatchStatus.STORED.value  # 已生成并保存，待发送
    SENT = BatchStatus.SENT.value  # 已送达银行
    ANSWERED = BatchStatus.ANSWERED.value  # 回盘文件已处理
    REJECTED = BatchStatus.REJECTED.value  # 拒绝通知已处理：银行拒收整份文件
    FILE_RECEIVED = "file_received"  # 银行来文已接收，尚未处理
    FILE_QUARANTINED = "file_quarantined"  # 银行来文已隔离，未做任何处理


def file_step(batch: PaymentBatch, item: InboundFile) -> StateStep:
    """What a bank file naming the batch did to it: only an applied result file answered it,
    an applied refusal notice refused it whole, a quarantined or unprocessed file did nothing."""
    at = as_utc(item.received_at)
    if item.status is InboundStatus.QUARANTINED:
        reason = (item.reason or "")[:300]
        return StateStep(state=BatchStep.FILE_QUARANTINED, at=at, detail=f"{item.name}: {reason}")
    if item.status is InboundStatus.RECEIVED:
        return StateStep(state=BatchStep.FILE_RECEIVED, at=at, detail=item.name)
    if item.kind is InboundKind.REFUSAL:
        why = f": {batch.last_error}" if batch.last_error else ""
        return StateStep(state=BatchStep.REJECTED, at=at, detail=f"{item.name}{why}")
    return StateStep(state=BatchStep.ANSWERED, at=at, detail=item.name)


def batch_history(session: Session, batch: PaymentBatch) -> tuple[list[StateStep], list[int]]:
    steps = [StateStep(state=BatchStep.STORED, at=as_utc(batch.created_at))]
    if batch.sent_at is not None:
        steps.append(
            StateStep(
                state=BatchStep.SENT,
                at=as_utc(batch.sent_at),
                detail=f"attempts={batch.delivery_attempts}",
            )
        )
    files = list(
        session.scalars(
            select(InboundFile).where(InboundFile.batch_id == batch.id).order_by(InboundFile.id)
        )
    )
    steps.extend(file_step(batch, item) for item in files)
    return steps, [item.id for item in files]


@router.get("/batches", response_model=Page[BatchOut], summary="批次列表 Batches")
def list_batches(
    principal: CurrentPrincipal,
    session: DbSession,
    page: Paging,
    status: Annotated[BatchStatus | None, Query()] = None,
    business_date: Annotated[date | None, Query()] = None,
) -> Page[BatchOut]:
    principal.require(Permission.READ_FILES)
    statement = select(PaymentBatch)
    if principal.association_id is not None:
        statement = statement.where(PaymentBatch.id.is_(None))  # association users: none
    elif principal.county_id is not None:
        accounts = select(SpecialAccount.id).where(SpecialAccount.county_id == principal.county_id)
        if principal.bank_id is not None:
            accounts = accounts.where(SpecialAccount.bank_id == principal.bank_id)
        statement = statement.where(PaymentBatch.special_account_id.in_(accounts))
    if status is not None:
        statement = statement.where(PaymentBatch.status == status)
    if business_date is not None:
        statement = statement.where(PaymentBatch.business_date == business_date)
    rows, cursor = paginate(
        session,
        statement,
        order=[PaymentBatch.id],
        key=lambda b: [b.id],
        page=page,
        descending=True,
    )
    return Page(items=[batch_out(b) for b in rows], next_cursor=cursor)


def batch_detail(session: Session, batch: PaymentBatch) -> BatchDetailOut:
    counts = dict(
        session.execute(
            select(PaymentInstruction.status, func.count(PaymentInstruction.id))
            .where(PaymentInstruction.batch_id == batch.id)
            .group_by(PaymentInstruction.status)
        ).all()
    )
    history, results = batch_history(session, batch)
    return BatchDetailOut(
        **batch_out(batch).model_dump(),
        instructions_by_status={
            str(k.value if hasattr(k, "value") else k): int(v) for k, v in counts.items()
        },
        history=history,
        result_file_ids=results,
    )


@router.get(
    "/batches/{batch_id}",
    response_model=BatchDetailOut,
    summary="批次及状态历史 Batch with its state history",
)
def read_batch(
    batch_id: ObjectId, principal: CurrentPrincipal, session: DbSession
) -> BatchDetailOut:
    return batch_detail(session, visible_batch(session, principal, batch_id, Permission.READ_FILES))


@router.get(
    "/batches/{batch_id}/content",
    response_class=Response,
    responses=FILE_RESPONSES,
    summary="下载批次文件 Download the batch file as sent",
)
def download_batch(batch_id: ObjectId, principal: CurrentPrincipal, session: DbSession) -> Response:
    batch = visible_batch(session, principal, batch_id, Permission.DOWNLOAD_FILES)
    return Response(
        content=batch.content,
        media_type="application/octet-stream",
        headers={
            "Content-Disposition": attachment(batch.file_name),
            "X-Content-SHA256": batch.sha256,
        },
    )


@router.get(
    "/bank-files", response_model=Page[InboundFileOut], summary="银行来文 Inbound bank files"
)
def list_bank_files(
    principal: CurrentPrincipal,
    session: DbSession,
    page: Paging,
    kind: Annotated[InboundKind | None, Query()] = None,
    status: Annotated[InboundStatus | None, Query()] = None,
    business_date: Annotated[date | None, Query()] = None,
) -> Page[InboundFileOut]:
    principal.require(Permission.READ_FILES)
    statement = _files_in_scope(principal, select(InboundFile))
    if kind is not None:
        statement = statement.where(InboundFile.kind == kind)
    if status is not None:
        statement = statement.where(InboundFile.status == status)
    if business_date is not None:
        statement = statement.where(InboundFile.business_date == business_date)
    rows, cursor = paginate(
        session, statement, order=[InboundFile.id], key=lambda f: [f.id], page=page, descending=True
    )
    return Page(items=[file_out(f) for f in rows], next_cursor=cursor)


@router.get(
    "/bank-files/{file_id}",
    response_model=InboundFileDetailOut,
    summary="银行来文详情 Inbound bank file (quarantine reason, summary)",
)
def read_bank_file(
    file_id: ObjectId, principal: CurrentPrincipal, session: DbSession
) -> InboundFileDetailOut:
    item = visible_file(session, principal, file_id, Permission.READ_FILES)
    try:
        summary = json.loads(item.summary_json or "{}")
    except ValueError:
        summary = {}
    return InboundFileDetailOut(
        **file_out(item).model_dump(), summary=summary if isinstance(summary, dict) else {}
    )


@router.get(
    "/bank-files/{file_id}/content",
    response_class=Response,
    responses=FILE_RESPONSES,
    summary="下载银行来文 Download an inbound bank file",
)
def download_bank_file(
    file_id: ObjectId, principal: CurrentPrincipal, session: DbSession
) -> Response:
    item = visible_file(session, principal, file_id, Permission.DOWNLOAD_FILES)
    return Response(
        content=item.content,
        media_type="application/octet-stream",
        headers={
            "Content-Disposition": attachment(item.name),
            "X-Content-SHA256": item.sha256,
        },
    )


@router.post(
    "/bank-files/{file_id}/reapply",
    response_model=InboundFileOut,
    summary="重新处理隔离文件 Put a quarantined bank file back to be applied by the next night "
    "(audited; not one whose signature or decryption failed)",
    responses=WRITE_PROBLEM_STATUSES,
)
def reapply_bank_file(
    file_id: ObjectId, body: ReapplyFileIn, principal: CurrentPrincipal, session: DbSession
) -> InboundFileOut:
    """The office works a quarantined file as it works the follow-up the file raised."""
    visible_file(session, principal, file_id, Permission.WORK_FOLLOW_UPS)
    return file_out(reapply_file(session, file_id, actor=principal.actor, note=body.note))
