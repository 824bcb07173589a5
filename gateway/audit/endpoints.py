"""``/api/v1/audit-events``: the hash-chained audit log, newest first, and its verification."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import Query
from pydantic import BaseModel, Field
from sqlalchemy import select, true
from sqlalchemy.orm import Session

from gateway.api.deps import CurrentPrincipal, DbSession
from gateway.api.pagination import Page, Paging, paginate
from gateway.api.router import domain_router
from gateway.audit import service as audit
from gateway.audit.models import AuditEvent
from gateway.auth.errors import Forbidden
from gateway.auth.models import Role
from gateway.auth.permissions import Permission, Principal
from gateway.db import as_utc
from gateway.org.models import Association, Town

router = domain_router("审计 audit")


class AuditEventOut(BaseModel):
    id: int
    chain: str = Field(
        description="county:<id> for a county's events, association:<id> for an association's, "
        "global for events of no county"
    )
    seq: int
    at: datetime
    actor: str
    action: str
    object_type: str
    object_id: str
    payload: dict[str, Any]
    hash: str


class ChainReportOut(BaseModel):
    checked: int = Field(description="audit events walked")
    ok: bool
    problems: list[str] = Field(
        description="each broken chain, then each journal transaction or daily statement "
        "that disagrees with its audit event (table, id, field, stored and audited value)"
    )
    transactions: int = Field(0, description="journal transactions compared with the audit log")
    statements: int = Field(0, description="daily reconciliation statements checked")
    unlisted: int = Field(0, description="problems found beyond those listed")
    notes: list[str] = Field(default_factory=list, description="worth a look, not problems")


def readable_chains(session: Session, principal: Principal) -> list[str] | None:
    """The chains the caller may read, or None for all of them: every chain for the system
    administrator; the county's own chain and its associations' chains for a county-wide
    reader; an association's own chain for an association-scoped reader. The global chain
    (events that belong to no county) is the administrator's alone."""
    principal.require(Permission.READ_AUDIT)
    if principal.role is Role.ADMIN:
        return None
    if principal.association_id is not None:
        return [audit.association_chain(principal.association_id)]
    if principal.county_id is None:
        return []
    ids = session.scalars(
        select(Association.id)
        .join(Town, Town.id == Association.town_id)
        .where(Town.county_id == principal.county_id)
    )
    return [audit.county_chain(principal.county_id), *(audit.association_chain(i) for i in ids)]


def visible_chains(session: Session, principal: Principal) -> Any:
    """The condition on ``AuditEvent.chain`` for what the caller may read."""
    chains = readable_chains(session, principal)
    return true() if chains is None else AuditEvent.chain.in_(chains)


def event_out(event: AuditEvent) -> AuditEventOut:
    return AuditEventOut(
        id=event.id,
        chain=event.chain,
        seq=event.seq,
        at=as_utc(event.at),
        actor=event.actor,
        action=event.action,
        object_type=event.object_type,
        object_id=event.object_id,
        payload=event.payload,
        hash=event.hash,
    )


@router.get(
    "/audit-events", response_model=Page[AuditEventOut], summary="审计日志 Audit log (newest first)"
)
def list_audit_events(
    principal: CurrentPrincipal,
    session: DbSession,
    page: Paging,
    action: Annotated[str | None, Query(max_length=100)] = None,
    object_type: Annotated[str | None, Query(max_length=60)] = None,
    object_id: Annotated[str | None, Query(max_length=100)] = None,
) -> Page[AuditEventOut]:
    statement = select(AuditEvent).where(visible_chains(session, principal))
    if action:
        statement = statement.where(AuditEvent.action == action)
    if object_type:
        statement = statement.where(AuditEvent.object_type == object_type)
    if object_id:
        statement = statement.where(AuditEvent.object_id == object_id)
    rows, cursor = paginate(
        session,
        statement,
        # The id, unique across chains: ``seq`` numbers each chain on its own, so a page
        # ending at seq 40 of one chain skipped seq 40 and above of every other chain.
        order=[AuditEvent.id],
        key=lambda e: [e.id],
        page=page,
        descending=True,
    )
    return Page(items=[event_out(e) for e in rows], next_cursor=cursor)


@router.get(
    "/audit-events/verification",
    response_model=ChainReportOut,
    summary="校验审计链、账簿和对账报告 Verify the audit log, the journal and the statements",
)
def verify_chain(principal: CurrentPrincipal, session: DbSession) -> ChainReportOut:
    principal.require(Permission.READ_AUDIT)
    if principal.association_id is not None:
        raise Forbidden(
            "审计链校验仅向县级及以上用户开放", "verifying the chains is for county-wide users"
        )
    report = audit.verify(session, chains=readable_chains(session, principal))
    return ChainReportOut(
        checked=report.checked,
        ok=report.ok,
        problems=[str(p) for p in report.listed],
        transactions=report.transactions,
        statements=report.statements,
        unlisted=report.unlisted,
        notes=[str(n) for n in report.notes],
    )
