"""Where bank-side objects live, for the scope checks: batches and statements belong to a
special account (county and bank); an inbound file to a bank (and the counties it serves)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.auth.permissions import ObjectScope, Principal
from gateway.errors import NotFound
from gateway.org.models import Bank, SpecialAccount


def special_account_scope(session: Session, special_account_id: int) -> ObjectScope:
    account = session.get(SpecialAccount, special_account_id)
    if account is None:
        raise NotFound("专户不存在", f"special account {special_account_id} not found")
    return ObjectScope(county_id=account.county_id, bank_id=account.bank_id)


def bank_id_of(session: Session, bank_code: str) -> int | None:
    return session.scalar(select(Bank.id).where(Bank.code == bank_code))


def bank_scope(session: Session, principal: Principal, bank_code: str) -> ObjectScope:
    """A bank's file is in the scope of the counties that hold a special account there."""
    bank_id = bank_id_of(session, bank_code)
    counties = list(
        session.scalars(
            select(SpecialAccount.county_id).where(SpecialAccount.bank_id == bank_id).distinct()
        )
    )
    home = principal.home_county_id
    county = home if home in counties else (counties[0] if counties else None)
    return ObjectScope(county_id=county, bank_id=bank_id)
