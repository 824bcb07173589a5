"""``/api/v1/follow-ups``: the bank follow-ups (待办事项) the county fund office acts on — a
refused disbursement, failed or partly paid collections, retries used up, returns after
settlement, quarantined or refused files, batches not built or not answered — listed, shown,
and resolved with a note.

County users see their county's follow-ups, association users their association's; a
follow-up outside the caller's scope is reported as not found."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from fastapi import Query
from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, Select, false, func
from sqlalchemy.orm import Session

from gateway.api.deps import CurrentPrincipal, DbSession
from gateway.api.pagination import Page, PageRequest, Paging, paginate
from gateway.api.router import MAX_ID, WRITE_PROBLEM_STATUSES, ObjectId, domain_router
from gateway.auth.models import Role
from gateway.auth.permissions import Permission, Principal
from gateway.db import as_utc
from gateway.errors import NotFound
from gateway.payments import follow_ups as service
from gateway.payments.models import FollowUpItem, FollowUpKind

router = domain_router("待办事项 bank follow-ups")


class FollowUpState(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"
    ALL = "all"


RESOLVED_FILTER: dict[FollowUpState, bool | None] = {
    FollowUpState.OPEN: False,
    FollowUpState.RESOLVED: True,
    FollowUpState.ALL: None,
}


class FollowUpOut(BaseModel):
    id: int
    kind: FollowUpKind
    kind_label_zh: str
    kind_label_en: str
    business_date: date
    association_id: int | None
    instruction_id: int | None
    loan_id: int | None
    batch_id: int | None
    inbound_file_id: int | None
    amount_fen: int
    reason_code: str | None
    message_zh: str
    message_en: str
    resolved: bool
    resolved_by: str | None
    resolved_at: datetime | None
    resolution_note: str | None
    created_at: datetime


class ResolveFollowUpIn(BaseModel):
    note: str = Field(
        min_length=1,
        max_length=service.NOTE_MAX,
        description="what was done about it (required; recorded in the audit log)",
    )


def follow_up_out(session: Session, item: FollowUpItem) -> FollowUpOut:
    return FollowUpOut(
        id=item.id,
        kind=item.kind,
        kind_label_zh=item.kind.label_zh,
        kind_label_en=item.kind.label_en,
        business_date=item.business_date,
        association_id=item.association_id,
        instruction_id=item.instruction_id,
        loan_id=service.loan_id_of(session, item),
        batch_id=item.batch_id,
        inbound_file_id=item.inbound_file_id,
        amount_fen=item.amount_fen,
        reason_code=item.reason_code,
        message_zh=item.message_zh,
        message_en=item.message_en,
        resolved=item.resolved,
        resolved_by=item.resolved_by,
        resolved_at=as_utc(item.resolved_at) if item.resolved_at else None,
        resolution_note=item.resolution_note,
        created_at=as_utc(item.created_at),
    )


def scope_of(principal: Principal) -> ColumnElement[bool] | None:
    """What the principal may see: its association's, its county's, or (administrator) all.
    A user tied to neither sees nothing."""
    if principal.role is Role.ADMIN:
        return None
    if principal.association_id is not None:
        return FollowUpItem.association_id == principal.association_id
    if principal.county_id is not None:
        return service.in_county(principal.county_id)
    return false()


def visible(
    principal: Principal,
    *,
    state: FollowUpState = FollowUpState.OPEN,
    county_id: int | None = None,
    association_id: int | None = None,
    kind: FollowUpKind | None = None,
) -> Select[FollowUpItem]:
    """The follow-ups matching the filters, within the principal's scope."""
    statement = service.follow_ups(
        resolved=RESOLVED_FILTER[state],
        county_id=county_id,
        association_id=association_id,
        kind=kind,
    )
    scope = scope_of(principal)
    return statement if scope is None else statement.where(scope)


def visible_follow_up(
    session: Session, principal: Principal, follow_up_id: int, permission: Permission
) -> FollowUpItem:
    """One follow-up the principal may see (403 without the permission, 404 outside the
    scope: its existence is not disclosed)."""
    principal.require(permission)
    found = session.scalar(
        visible(principal, state=FollowUpState.ALL).where(FollowUpItem.id == follow_up_id)
    )
    if found is None:
        raise NotFound("对象不存在或不在您的权限范围内", "not found or outside your scope")
    return found


def list_page(
    session: Session, statement: Select[FollowUpItem], page: PageRequest
) -> tuple[list[FollowUpItem], str | None]:
    """Newest first, by cursor."""
    return paginate(
        session,
        statement,
        order=[FollowUpItem.id],
        key=lambda i: [i.id],
        page=page,
        descending=True,
    )


def open_count(session: Session, principal: Principal) -> int:
    """How many follow-ups in the principal's scope are still open."""
    counted = visible(principal).with_only_columns(func.count(FollowUpItem.id))
    return int(session.scalar(counted) or 0)


@router.get(
    "/follow-ups",
    response_model=Page[FollowUpOut],
    summary="待办事项 Bank follow-ups, newest first (open unless a state is given)",
)
def list_follow_ups(
    principal: CurrentPrincipal,
    session: DbSession,
    page: Paging,
    state: Annotated[FollowUpState, Query()] = FollowUpState.OPEN,
    county_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    association_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    kind: Annotated[FollowUpKind | None, Query()] = None,
) -> Page[FollowUpOut]:
    principal.require(Permission.READ_FOLLOW_UPS)
    statement = visible(
        principal, state=state, county_id=county_id, association_id=association_id, kind=kind
    )
    rows, cursor = list_page(session, statement, page)
    return Page(items=[follow_up_out(session, i) for i in rows], next_cursor=cursor)


@router.get(
    "/follow-ups/{follow_up_id}",
    response_model=FollowUpOut,
    summary="待办事项详情 One bank follow-up",
)
def read_follow_up(
    follow_up_id: ObjectId, principal: CurrentPrincipal, session: DbSession
) -> FollowUpOut:
    item = visible_follow_up(session, principal, follow_up_id, Permission.READ_FOLLOW_UPS)
    return follow_up_out(session, item)


@router.post(
    "/follow-ups/{follow_up_id}/resolve",
    response_model=FollowUpOut,
    summary="处理待办 Resolve with a note saying what was done (audited; once only)",
    responses=WRITE_PROBLEM_STATUSES,
)
def resolve_follow_up(
    follow_up_id: ObjectId,
    body: ResolveFollowUpIn,
    principal: CurrentPrincipal,
    session: DbSession,
) -> FollowUpOut:
    visible_follow_up(session, principal, follow_up_id, Permission.WORK_FOLLOW_UPS)
    item = service.resolve_follow_up(session, follow_up_id, actor=principal.actor, note=body.note)
    return follow_up_out(session, item)
