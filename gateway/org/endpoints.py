"""``/api/v1`` counties and associations, with each association's balances."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Query
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.api.deps import CurrentPrincipal, DbSession
from gateway.api.pagination import Page, Paging, paginate
from gateway.api.router import MAX_ID, ObjectId, association_scope, county_scope, domain_router
from gateway.auth.permissions import Permission, Principal
from gateway.errors import NotFound
from gateway.ledger import service as ledger
from gateway.ledger.models import AccountCode
from gateway.loans.models import OUTSTANDING_STATUSES, Loan, LoanStatus
from gateway.org import service as org
from gateway.org.models import Association, County, Town

router = domain_router("组织 organisation")


class CountyOut(BaseModel):
    id: int
    code: str
    name: str
    fund_office_name: str
    loan_cap_fen: int
    county_approval_above_fen: int
    notice_days: int
    guarantors_required: int
    cash_mode: str


class AssociationOut(BaseModel):
    id: int
    code: str
    name: str
    county_id: int
    town_id: int
    town_name: str
    special_account_id: int
    sub_account_number: str
    status: str
    grade: str | None
    pilot_level: str
    start_date: date


class AccountBalanceOut(BaseModel):
    code: str
    name_zh: str
    name_en: str
    debit_fen: int
    credit_fen: int
    balance_fen: int


class AssociationSummaryOut(BaseModel):
    association_id: int
    as_of: date | None
    sub_account_balance_fen: int
    loans_outstanding_fen: int
    loans_outstanding_count: int
    overdue_fen: int
    overdue_count: int
    cash_flagged_count: int
    balanced: bool
    accounts: list[AccountBalanceOut]


def county_out(county: County) -> CountyOut:
    return CountyOut(
        id=county.id,
        code=county.code,
        name=county.name,
        fund_office_name=county.fund_office_name,
        loan_cap_fen=county.loan_cap_fen,
        county_approval_above_fen=county.county_approval_above_fen,
        notice_days=county.notice_days,
        guarantors_required=county.guarantors_required,
        cash_mode=county.cash_mode.value,
    )


def association_out(association: Association) -> AssociationOut:
    return AssociationOut(
        id=association.id,
        code=association.code,
        name=association.name,
        county_id=association.town.county_id,
        town_id=association.town_id,
        town_name=association.town.name,
        special_account_id=association.special_account_id,
        sub_account_number=association.sub_account_number,
        status=association.status.value,
        grade=association.grade.value if association.grade else None,
        pilot_level=association.pilot_level.value,
        start_date=association.start_date,
    )


def get_county(session: Session, county_id: int) -> County:
    county = session.get(County, county_id)
    if county is None:
        raise NotFound("县不存在", f"county {county_id} not found")
    return county


def visible_association(
    session: Session, principal: Principal, association_id: int, permission: Permission
) -> Association:
    """The association if the caller may see it with ``permission`` (else 403/404)."""
    principal.require(permission)
    association = org.get_association(session, association_id)
    principal.require(permission, association_scope(association))
    return association


def summary(
    session: Session, association: Association, as_of: date | None
) -> AssociationSummaryOut:
    balance = ledger.trial_balance(session, association.id, as_of)
    outstanding = session.execute(
        select(Loan.status, Loan.amount_fen - Loan.principal_repaid_fen).where(
            Loan.association_id == association.id, Loan.status.in_(OUTSTANDING_STATUSES)
        )
    ).all()
    overdue = [amount for status, amount in outstanding if status == LoanStatus.OVERDUE]
    return AssociationSummaryOut(
        association_id=association.id,
        as_of=as_of,
        sub_account_balance_fen=balance.balance(AccountCode.BANK_SUB_ACCOUNT),
        loans_outstanding_fen=sum(int(amount) for _, amount in outstanding),
        loans_outstanding_count=len(outstanding),
        overdue_fen=sum(int(a) for a in overdue),
        overdue_count=len(overdue),
        cash_flagged_count=ledger.cash_flagged_count(session, association.id),
        balanced=balance.balanced,
        accounts=[
            AccountBalanceOut(
                code=row.code.value,
                name_zh=row.name_zh,
                name_en=row.name_en,
                debit_fen=row.debit_fen,
                credit_fen=row.credit_fen,
                balance_fen=row.balance_fen,
            )
            for row in balance.rows
        ],
    )


@router.get("/counties", response_model=Page[CountyOut], summary="县列表 List counties")
def list_counties(
    page: Paging,
    principal: CurrentPrincipal,
    session: DbSession,
) -> Page[CountyOut]:
    principal.require(Permission.READ_ORG)
    statement = select(County)
    if principal.home_county_id is not None:
        statement = statement.where(County.id == principal.home_county_id)
    rows, cursor = paginate(session, statement, order=[County.id], key=lambda c: [c.id], page=page)
    return Page(items=[county_out(c) for c in rows], next_cursor=cursor)


@router.get("/counties/{county_id}", response_model=CountyOut, summary="县 County")
def read_county(county_id: ObjectId, principal: CurrentPrincipal, session: DbSession) -> CountyOut:
    principal.require(Permission.READ_ORG)
    county = get_county(session, county_id)
    principal.require(Permission.READ_ORG, county_scope(county))
    return county_out(county)


@router.get(
    "/associations", response_model=Page[AssociationOut], summary="协会列表 List associations"
)
def list_associations(
    principal: CurrentPrincipal,
    session: DbSession,
    page: Paging,
    county_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> Page[AssociationOut]:
    principal.require(Permission.READ_ORG)
    statement = select(Association).join(Town, Town.id == Association.town_id)
    if county_id is not None:
        statement = statement.where(Town.county_id == county_id)
    if principal.association_id is not None:
        statement = statement.where(Association.id == principal.association_id)
    elif principal.county_id is not None:
        statement = statement.where(Town.county_id == principal.county_id)
    rows, cursor = paginate(
        session, statement, order=[Association.id], key=lambda a: [a.id], page=page
    )
    return Page(items=[association_out(a) for a in rows], next_cursor=cursor)


@router.get(
    "/associations/{association_id}", response_model=AssociationOut, summary="协会 Association"
)
def read_association(
    association_id: ObjectId,
    principal: CurrentPrincipal,
    session: DbSession,
) -> AssociationOut:
    return association_out(
        visible_association(session, principal, association_id, Permission.READ_ORG)
    )


@router.get(
    "/associations/{association_id}/summary",
    response_model=AssociationSummaryOut,
    summary="协会账户概况 Balances, loans outstanding, overdue, cash flags",
)
def read_association_summary(
    association_id: ObjectId,
    principal: CurrentPrincipal,
    session: DbSession,
    as_of: Annotated[date | None, Query(description="business date (all if omitted)")] = None,
) -> AssociationSummaryOut:
    association = visible_association(session, principal, association_id, Permission.READ_LEDGER)
    return summary(session, association, as_of)
