"""``/api/v1`` loans: apply (with guarantors), public notice, council approval, county
approval, release for payment, reject, cancel; list and read."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated

from fastapi import Query
from pydantic import BaseModel, Field, StrictInt, StringConstraints
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.api.deps import CurrentPrincipal, DbSession
from gateway.api.pagination import Page, Paging, paginate
from gateway.api.router import (
    BUSINESS_ZONE,
    MAX_ID,
    WRITE_PROBLEM_STATUSES,
    ObjectId,
    association_scope,
    business_today,
    domain_router,
)
from gateway.auth.permissions import Permission, Principal
from gateway.db import as_utc
from gateway.errors import RuleViolation
from gateway.ledger.models import LedgerChannel
from gateway.loans import service as loans
from gateway.loans.models import Loan, LoanStatus
from gateway.loans.schemas import LoanApplication
from gateway.org.endpoints import visible_association
from gateway.payments import service as payments

router = domain_router("借款 loans")


class LoanOut(BaseModel):
    id: int
    association_id: int
    member_id: int
    member_name: str
    contract_no: str
    purpose: str
    amount_fen: int
    term_months: int
    monthly_fee_rate_centipermille: int
    channel: str
    cash_flagged: bool
    status: str
    applied_on: date
    notice_start: date | None
    notice_end: date | None
    council_approved_on: date | None
    county_approved_on: date | None
    released_on: date | None
    disbursed_on: date | None
    due_on: date | None
    principal_repaid_fen: int
    outstanding_principal_fen: int
    guarantor_ids: list[int]


# Text as it is kept: without surrounding spaces (" A-1" is the contract "A-1"), and refused
# as empty when nothing else is left.
ContractNo = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
Purpose = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=400)]


class LoanApplicationIn(BaseModel):
    contract_no: ContractNo
    member_id: StrictInt = Field(ge=1, le=MAX_ID)
    purpose: Purpose
    amount_fen: StrictInt = Field(gt=0, le=10**12)
    term_months: StrictInt = Field(gt=0, le=120)
    monthly_fee_rate_centipermille: StrictInt = Field(ge=0, le=100_000)
    applied_on: date
    guarantor_ids: list[Annotated[StrictInt, Field(ge=1, le=MAX_ID)]] = Field(
        default_factory=list, max_length=10
    )
    channel: LedgerChannel = LedgerChannel.TRANSFER


class LoanStepIn(BaseModel):
    on: date | None = Field(
        default=None,
        description=(
            "业务日期，缺省为服务器今天；不得早于申请登记日期，不得晚于今天 / business date, "
            "the server's today if omitted; never before the application was recorded, never "
            "after today"
        ),
    )


class LoanReasonIn(BaseModel):
    reason: Reason


def loan_out(loan: Loan) -> LoanOut:
    return LoanOut(
        id=loan.id,
        association_id=loan.association_id,
        member_id=loan.member_id,
        member_name=loan.member.name,
        contract_no=loan.contract_no,
        purpose=loan.purpose,
        amount_fen=loan.amount_fen,
        term_months=loan.term_months,
        monthly_fee_rate_centipermille=loan.monthly_fee_rate_centipermille,
        channel=loan.channel.value,
        cash_flagged=loan.cash_flagged,
        status=loan.status.value,
        applied_on=loan.applied_on,
        notice_start=loan.notice_start,
        notice_end=loan.notice_end,
        council_approved_on=loan.council_approved_on,
        county_approved_on=loan.county_approved_on,
        released_on=loan.released_on,
        disbursed_on=loan.disbursed_on,
        due_on=loan.due_on,
        principal_repaid_fen=loan.principal_repaid_fen,
        outstanding_principal_fen=loan.outstanding_principal_fen,
        guarantor_ids=[g.member_id for g in loan.guarantors],
    )


def visible_loan(
    session: Session, principal: Principal, loan_id: int, permission: Permission
) -> Loan:
    principal.require(permission)
    loan = loans.get_loan(session, loan_id)
    principal.require(permission, association_scope(loan.member.association))
    return loan


@router.get(
    "/associations/{association_id}/loans",
    response_model=Page[LoanOut],
    summary="借款列表 Loans of an association",
)
def list_loans(
    association_id: ObjectId,
    principal: CurrentPrincipal,
    session: DbSession,
    page: Paging,
    status: Annotated[LoanStatus | None, Query()] = None,
) -> Page[LoanOut]:
    visible_association(session, principal, association_id, Permission.READ_LOANS)
    statement = select(Loan).where(Loan.association_id == association_id)
    if status is not None:
        statement = statement.where(Loan.status == status)
    rows, cursor = paginate(session, statement, order=[Loan.id], key=lambda x: [x.id], page=page)
    return Page(items=[loan_out(x) for x in rows], next_cursor=cursor)


@router.post(
    "/associations/{association_id}/loans",
    response_model=LoanOut,
    status_code=201,
    summary="借款申请 Apply for a loan (with its joint guarantors)",
    responses=WRITE_PROBLEM_STATUSES,
)
def apply_for_loan(
    association_id: ObjectId,
    body: LoanApplicationIn,
    principal: CurrentPrincipal,
    session: DbSession,
) -> LoanOut:
    visible_association(session, principal, association_id, Permission.WRITE_LOANS)
    today = business_today()
    if body.applied_on > today:
        raise RuleViolation(
            f"申请日期 {body.applied_on.isoformat()} 晚于今天 {today.isoformat()}",
            f"the application date {body.applied_on.isoformat()} is after today, "
            f"{today.isoformat()}",
            code="date_in_future",
            latest=today.isoformat(),
        )
    data = body.model_dump()
    data["guarantor_ids"] = tuple(body.guarantor_ids)
    loan = loans.apply(session, association_id, LoanApplication(**data), actor=principal.actor)
    return loan_out(loan)


@router.get("/loans/{loan_id}", response_model=LoanOut, summary="借款 Loan")
def read_loan(loan_id: ObjectId, principal: CurrentPrincipal, session: DbSession) -> LoanOut:
    return loan_out(visible_loan(session, principal, loan_id, Permission.READ_LOANS))


# The loan steps take the server's business date, never the caller's clock.
StepAction = Callable[[Session, int, date, date, str], Loan]


def recorded_on(loan: Loan) -> date:
    """The business date on which the application reached the system."""
    return as_utc(loan.created_at).astimezone(BUSINESS_ZONE).date()


def _step(
    session: Session,
    principal: Principal,
    loan_id: ObjectId,
    permission: Permission,
    action: StepAction,
    on: date | None,
) -> LoanOut:
    """Run one loan step on ``on`` (the server's business date if omitted). A date given by
    the caller must lie between the recorded application and today, so no step, above all
    the public notice and the release, can be backdated to skip the notice period."""
    loan = visible_loan(session, principal, loan_id, permission)
    today = business_today()
    day = on or today
    loans.check_step_date(loan, day, today, recorded_on=recorded_on(loan))
    return loan_out(action(session, loan_id, day, today, principal.actor))


@router.post(
    "/loans/{loan_id}/notice",
    response_model=LoanOut,
    summary="开始公示 Start the public notice",
    responses=WRITE_PROBLEM_STATUSES,
)
def start_notice(
    loan_id: ObjectId, body: LoanStepIn, principal: CurrentPrincipal, session: DbSession
) -> LoanOut:
    return _step(
        session,
        principal,
        loan_id,
        Permission.WRITE_LOANS,
        lambda s, i, d, t, a: loans.start_notice(s, i, on=d, today=t, actor=a),
        body.on,
    )


@router.post(
    "/loans/{loan_id}/council-approval",
    response_model=LoanOut,
    summary="理事会审批 Council approval (during or after the public notice)",
    description=(
        "理事会可在公示期间或公示期满后审批；公示期间有人提出异议的，借款仍可拒绝或取消。"
        "公示期满前不放款：放行代付时检查。 / The council may approve while the public notice "
        "runs or after it ends; an objection raised during the notice can still reject or "
        "cancel the loan. No money moves before the notice has ended: the release checks it."
    ),
    responses=WRITE_PROBLEM_STATUSES,
)
def council_approve(
    loan_id: ObjectId, body: LoanStepIn, principal: CurrentPrincipal, session: DbSession
) -> LoanOut:
    return _step(
        session,
        principal,
        loan_id,
        Permission.WRITE_LOANS,
        lambda s, i, d, t, a: loans.council_approve(s, i, on=d, actor=a),
        body.on,
    )


@router.post(
    "/loans/{loan_id}/county-approval",
    response_model=LoanOut,
    summary="县级审批 County approval of a large loan",
    responses=WRITE_PROBLEM_STATUSES,
)
def county_approve(
    loan_id: ObjectId, body: LoanStepIn, principal: CurrentPrincipal, session: DbSession
) -> LoanOut:
    return _step(
        session,
        principal,
        loan_id,
        Permission.COUNTY_APPROVE_LOANS,
        lambda s, i, d, t, a: loans.county_approve(s, i, on=d, actor=a),
        body.on,
    )


@router.post(
    "/loans/{loan_id}/release",
    response_model=LoanOut,
    summary="放行代付 Release for payment once the public notice has ended: creates the "
    "disbursement instruction",
    responses=WRITE_PROBLEM_STATUSES,
)
def release(
    loan_id: ObjectId, body: LoanStepIn, principal: CurrentPrincipal, session: DbSession
) -> LoanOut:
    return _step(
        session,
        principal,
        loan_id,
        Permission.RELEASE_LOANS,
        lambda s, i, d, t, a: loans.release_for_payment(
            s, i, on=d, today=t, actor=a, on_released=payments.on_loan_released
        ),
        body.on,
    )


@router.post(
    "/loans/{loan_id}/reject",
    response_model=LoanOut,
    summary="拒绝 Reject an application",
    responses=WRITE_PROBLEM_STATUSES,
)
def reject(
    loan_id: ObjectId, body: LoanReasonIn, principal: CurrentPrincipal, session: DbSession
) -> LoanOut:
    visible_loan(session, principal, loan_id, Permission.WRITE_LOANS)
    return loan_out(loans.reject(session, loan_id, reason=body.reason, actor=principal.actor))


@router.post(
    "/loans/{loan_id}/cancel",
    response_model=LoanOut,
    summary="取消 Cancel a loan not yet paid out",
    responses=WRITE_PROBLEM_STATUSES,
)
def cancel(
    loan_id: ObjectId, body: LoanReasonIn, principal: CurrentPrincipal, session: DbSession
) -> LoanOut:
    visible_loan(session, principal, loan_id, Permission.WRITE_LOANS)
    return loan_out(loans.cancel(session, loan_id, reason=body.reason, actor=principal.actor))
