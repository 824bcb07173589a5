"""``/api/v1`` special accounts, their statement lines (counterparty cards masked), the
nightly reconciliation runs (the daily statement figures and what matched), and the postings
the reconciler booked without a person, which the county fund office may undo."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import Query
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.api.deps import CurrentPrincipal, DbSession
from gateway.api.pagination import Page, Paging, paginate
from gateway.api.router import (
    WRITE_PROBLEM_STATUSES,
    ObjectId,
    association_scope,
    domain_router,
)
from gateway.api.scopes import special_account_scope
from gateway.auth.permissions import Permission, Principal
from gateway.db import as_utc
from gateway.ingestion.models import StatementLine
from gateway.org.models import Association, Bank, SpecialAccount
from gateway.reconcile import service
from gateway.reconcile.models import AutoPosting, ReconRun
from gateway.security.fieldcrypt import mask_card

router = domain_router("对账 statements and reconciliation")


class SpecialAccountOut(BaseModel):
    id: int
    county_id: int
    bank_code: str
    account_number: str
    name: str
    level: str


class StatementLineOut(BaseModel):
    id: int
    inbound_file_id: int
    sub_account: str | None
    booking_date: date
    value_date: date | None
    amount_fen: int
    credit: bool
    reversal: bool
    channel: str
    bank_transaction_id: str | None
    end_to_end_id: str | None
    counterparty_account_masked: str | None
    counterparty_name: str | None
    remittance: str
    balance_after_fen: int | None


class ReconRunOut(BaseModel):
    id: int
    special_account_id: int
    business_date: date
    has_statement: bool
    opening_fen: int | None
    closing_fen: int | None
    line_count: int
    entry_count: int
    matched_count: int
    exception_count: int
    auto_posted_count: int
    open_line_count: int
    open_entry_count: int
    started_at: datetime
    finished_at: datetime


class AutoPostingOut(BaseModel):
    id: int
    run_id: int
    business_date: date
    kind: str  # repayment | bank_fee | interest
    association_id: int
    amount_fen: int
    principal_fen: int
    fee_fen: int
    line_ids: list[str]
    journal_transaction_id: str
    reason: str
    created_at: datetime
    undone_at: datetime | None
    undone_by: str | None
    undo_reason: str | None
    reversal_transaction_id: str | None


class UndoIn(BaseModel):
    reason: str = Field(min_length=1, max_length=400, description="why it is undone (audited)")
    on: date | None = Field(
        default=None,
        description="business date of the reversal; by default and at the latest "
        "the next date to reconcile",
    )


def line_out(line: StatementLine) -> StatementLineOut:
    return StatementLineOut(
        id=line.id,
        inbound_file_id=line.inbound_file_id,
        sub_account=line.sub_account,
        booking_date=line.booking_date,
        value_date=line.value_date,
        amount_fen=line.amount_fen,
        credit=line.credit,
        reversal=line.reversal,
        channel=line.channel,
        bank_transaction_id=line.bank_transaction_id,
        end_to_end_id=line.end_to_end_id,
        counterparty_account_masked=(
            mask_card(line.counterparty_account) if line.counterparty_account else None
        ),
        counterparty_name=line.counterparty_name,
        remittance=line.remittance,
        balance_after_fen=line.balance_after_fen,
    )


def run_out(run: ReconRun) -> ReconRunOut:
    return ReconRunOut(
        id=run.id,
        special_account_id=run.special_account_id,
        business_date=run.business_date,
        has_statement=run.has_statement,
        opening_fen=run.opening_fen,
        closing_fen=run.closing_fen,
        line_count=run.line_count,
        entry_count=run.entry_count,
        matched_count=run.matched_count,
        exception_count=run.exception_count,
        auto_posted_count=run.auto_posted_count,
        open_line_count=run.open_line_count,
        open_entry_count=run.open_entry_count,
        started_at=as_utc(run.started_at),
        finished_at=as_utc(run.finished_at),
    )


def visible_account(
    session: Session, principal: Principal, account_id: int, permission: Permission
) -> SpecialAccount:
    principal.require(permission)
    scope = special_account_scope(session, account_id)
    principal.require(permission, scope)
    account = session.get(SpecialAccount, account_id)
    assert account is not None  # special_account_scope found it
    return account


@router.get(
    "/special-accounts", response_model=Page[SpecialAccountOut], summary="专户 Special accounts"
)
def list_special_accounts(
    principal: CurrentPrincipal, session: DbSession, page: Paging
) -> Page[SpecialAccountOut]:
    principal.require(Permission.READ_STATEMENTS)
    statement = select(SpecialAccount)
    if principal.county_id is not None:
        statement = statement.where(SpecialAccount.county_id == principal.county_id)
    elif principal.association_id is not None:
        statement = statement.where(SpecialAccount.id.is_(None))
    rows, cursor = paginate(
        session, statement, order=[SpecialAccount.id], key=lambda a: [a.id], page=page
    )
    codes = dict(session.execute(select(Bank.id, Bank.code)).all())
    return Page(
        items=[
            SpecialAccountOut(
                id=a.id,
                county_id=a.county_id,
                bank_code=codes[a.bank_id],
                account_number=a.account_number,
                name=a.name,
                level=a.level.value,
            )
            for a in rows
        ],
        next_cursor=cursor,
    )


@router.get(
    "/special-accounts/{account_id}/statement-lines",
    response_model=Page[StatementLineOut],
    summary="对账单明细 Statement lines of a special account",
)
def list_statement_lines(
    account_id: ObjectId,
    principal: CurrentPrincipal,
    session: DbSession,
    page: Paging,
    booking_date: Annotated[date | None, Query()] = None,
) -> Page[StatementLineOut]:
    account = visible_account(session, principal, account_id, Permission.READ_STATEMENTS)
    # an account number is unique only at its bank: the lines of the account's own bank
    bank_code = select(Bank.code).where(Bank.id == account.bank_id).scalar_subquery()
    statement = select(StatementLine).where(
        StatementLine.bank_code == bank_code, StatementLine.account == account.account_number
    )
    if booking_date is not None:
        statement = statement.where(StatementLine.booking_date == booking_date)
    rows, cursor = paginate(
        session, statement, order=[StatementLine.id], key=lambda x: [x.id], page=page
    )
    return Page(items=[line_out(x) for x in rows], next_cursor=cursor)


@router.get(
    "/special-accounts/{account_id}/reconciliation-runs",
    response_model=Page[ReconRunOut],
    summary="对账记录 Reconciliation runs (daily statement figures), newest first",
)
def list_runs(
    account_id: ObjectId, principal: CurrentPrincipal, session: DbSession, page: Paging
) -> Page[ReconRunOut]:
    visible_account(session, principal, account_id, Permission.READ_STATEMENTS)
    statement = select(ReconRun).where(ReconRun.special_account_id == account_id)
    rows, cursor = paginate(
        session, statement, order=[ReconRun.id], key=lambda r: [r.id], page=page, descending=True
    )
    return Page(items=[run_out(r) for r in rows], next_cursor=cursor)


def scoped_auto_postings(principal: Principal, *, undone: bool | None) -> Any:
    """The automatic postings of the associations in the caller's scope."""
    statement = service.auto_postings(undone=undone)
    if principal.association_id is not None:
        statement = statement.where(AutoPosting.association_id == principal.association_id)
    elif principal.county_id is not None:
        in_county = (
            select(Association.id)
            .join(SpecialAccount, SpecialAccount.id == Association.special_account_id)
            .where(SpecialAccount.county_id == principal.county_id)
        )
        statement = statement.where(AutoPosting.association_id.in_(in_county))
    return statement


def workable_auto_posting(
    session: Session, principal: Principal, auto_posting_id: int
) -> AutoPosting:
    """The posting, if the caller may undo it (``queue.work`` in its association); 404 when
    it lies outside their scope."""
    principal.require(Permission.WORK_QUEUE)
    auto, association = service.get_auto_posting(session, auto_posting_id)
    principal.require(Permission.WORK_QUEUE, association_scope(association))
    return auto


def auto_posting_out(auto: AutoPosting, day: date) -> AutoPostingOut:
    """The posting as the API gives it; ``day`` is its run's business date."""
    return AutoPostingOut(
        id=auto.id,
        run_id=auto.run_id,
        business_date=day,
        kind=auto.kind,
        association_id=auto.association_id,
        amount_fen=auto.amount_fen,
        principal_fen=auto.principal_fen,
        fee_fen=auto.fee_fen,
        line_ids=service.auto_posting_line_ids(auto),
        journal_transaction_id=str(auto.journal_transaction_id),
        reason=auto.reason,
        created_at=as_utc(auto.created_at),
        undone_at=as_utc(auto.undone_at) if auto.undone_at else None,
        undone_by=auto.undone_by,
        undo_reason=auto.undo_reason,
        reversal_transaction_id=(
            str(auto.reversal_transaction_id) if auto.reversal_transaction_id else None
        ),
    )


@router.get(
    "/special-accounts/{account_id}/auto-postings",
    response_model=Page[AutoPostingOut],
    summary="自动记账 Postings the reconciler booked without a person, newest first",
)
def list_auto_postings(
    account_id: ObjectId,
    principal: CurrentPrincipal,
    session: DbSession,
    page: Paging,
    undone: Annotated[
        bool | None, Query(description="true: only the undone; false: only the standing")
    ] = None,
) -> Page[AutoPostingOut]:
    visible_account(session, principal, account_id, Permission.READ_STATEMENTS)
    statement = service.auto_postings(special_account_id=account_id, undone=undone)
    rows, cursor = paginate(
        session,
        statement,
        order=[AutoPosting.id],
        key=lambda a: [a.id],
        page=page,
        descending=True,
    )
    days = service.auto_posting_days(session, rows)
    return Page(items=[auto_posting_out(a, days[a.id]) for a in rows], next_cursor=cursor)


@router.post(
    "/auto-postings/{auto_posting_id}/undo",
    response_model=AutoPostingOut,
    summary="撤销自动记账 Undo an automatic posting: reversed, its bank lines open again",
    responses=WRITE_PROBLEM_STATUSES,
)
def undo_auto_posting(
    auto_posting_id: ObjectId, body: UndoIn, principal: CurrentPrincipal, session: DbSession
) -> AutoPostingOut:
    """The posting's journal transaction is reversed, a repayment goes back to its instalment,
    and its bank lines are open again: the next night they are a person's to resolve, never
    booked automatically again. Undoing twice is refused (409)."""
    workable_auto_posting(session, principal, auto_posting_id)
    undone = service.undo_auto_posting(
        session,
        auto_posting_id,
        actor=principal.actor,
        reason=body.reason,
        on=body.on,
    )
    return auto_posting_out(undone, service.auto_posting_days(session, [undone])[undone.id])
