"""``/api/v1`` payment instructions (disbursements and collections) with their history."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import Query
from pydantic import BaseModel
from sqlalchemy import select

from gateway.api.deps import CurrentPrincipal, DbSession
from gateway.api.pagination import Page, Paging, paginate
from gateway.api.router import ObjectId, association_scope, domain_router
from gateway.auth.permissions import Permission
from gateway.db import as_utc
from gateway.errors import NotFound
from gateway.org.endpoints import visible_association
from gateway.org.models import Association
from gateway.payments.models import InstructionStatus, InstructionTransition, PaymentInstruction

router = domain_router("指令 instructions")


class TransitionOut(BaseModel):
    from_status: str | None
    to_status: str
    at: datetime
    business_date: date
    cause: str
    batch_id: int | None
    inbound_file_id: int | None


class InstructionOut(BaseModel):
    id: int
    end_to_end_id: str
    direction: str
    status: str
    association_id: int
    loan_id: int
    member_id: int
    attempt: int
    amount_fen: int
    principal_fen: int
    fee_fen: int
    requested_date: date
    batch_id: int | None
    settled_amount_fen: int
    settled_on: date | None
    reason_code: str | None
    reason_text: str | None


class InstructionDetailOut(InstructionOut):
    history: list[TransitionOut]


def instruction_out(item: PaymentInstruction) -> InstructionOut:
    return InstructionOut(
        id=item.id,
        end_to_end_id=item.end_to_end_id,
        direction=item.direction.value,
        status=item.status.value,
        association_id=item.association_id,
        loan_id=item.loan_id,
        member_id=item.member_id,
        attempt=item.attempt,
        amount_fen=item.amount_fen,
        principal_fen=item.principal_fen,
        fee_fen=item.fee_fen,
        requested_date=item.requested_date,
        batch_id=item.batch_id,
        settled_amount_fen=item.settled_amount_fen,
        settled_on=item.settled_on,
        reason_code=item.reason_code,
        reason_text=item.reason_text,
    )


def transition_out(step: InstructionTransition) -> TransitionOut:
    return TransitionOut(
        from_status=step.from_status,
        to_status=step.to_status,
        at=as_utc(step.at),
        business_date=step.business_date,
        cause=step.cause,
        batch_id=step.batch_id,
        inbound_file_id=step.inbound_file_id,
    )


@router.get(
    "/associations/{association_id}/instructions",
    response_model=Page[InstructionOut],
    summary="代付代扣指令 Payment instructions of an association",
)
def list_instructions(
    association_id: ObjectId,
    principal: CurrentPrincipal,
    session: DbSession,
    page: Paging,
    status: Annotated[InstructionStatus | None, Query()] = None,
) -> Page[InstructionOut]:
    visible_association(session, principal, association_id, Permission.READ_PAYMENTS)
    statement = select(PaymentInstruction).where(
        PaymentInstruction.association_id == association_id
    )
    if status is not None:
        statement = statement.where(PaymentInstruction.status == status)
    rows, cursor = paginate(
        session, statement, order=[PaymentInstruction.id], key=lambda i: [i.id], page=page
    )
    return Page(items=[instruction_out(i) for i in rows], next_cursor=cursor)


@router.get(
    "/instructions/{instruction_id}",
    response_model=InstructionDetailOut,
    summary="指令及其状态历史 Instruction with its state history",
)
def read_instruction(
    instruction_id: ObjectId, principal: CurrentPrincipal, session: DbSession
) -> InstructionDetailOut:
    principal.require(Permission.READ_PAYMENTS)
    item = session.get(PaymentInstruction, instruction_id)
    if item is None:
        raise NotFound("指令不存在", f"instruction {instruction_id} not found")
    association = session.get(Association, item.association_id)
    assert association is not None  # a foreign key
    principal.require(Permission.READ_PAYMENTS, association_scope(association))
    history = session.scalars(
        select(InstructionTransition)
        .where(InstructionTransition.instruction_id == item.id)
        .order_by(InstructionTransition.id)
    )
    return InstructionDetailOut(
        **instruction_out(item).model_dump(), history=[transition_out(s) for s in history]
    )
