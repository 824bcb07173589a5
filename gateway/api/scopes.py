"""Where bank-side objects live, for the scope checks: batches and statements belong to a
special account (county and bank); an inbound file to the county of the batch it answers or
of the accounts its lines report, and to its bank."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.auth.permissions import ObjectScope, Principal
from gateway.errors import NotFound
from gateway.ingestion.models import InboundFile
from gateway.org.models import Bank, SpecialAccount
from gateway.payments.follow_ups import file_counties


def special_account_scope(session: Session, special_account_id: int) -> ObjectScope:
    account = session.get(SpecialAccount, special_account_id)
    if account is None:
        raise NotFound("专户不存在", f"special account {special_account_id} not found")
    return ObjectScope(county_id=account.county_id, bank_id=account.bank_id)


def bank_id_of(session: Session, bank_code: str) -> int | None:
    return session.scalar(select(Bank.id).where(Bank.code == bank_code))


def file_scope(session: Session, principal: Principal, item: InboundFile) -> ObjectScope:
    """Where a bank file lives: its county (:func:`gateway.payments.follow_ups.file_counties`;
    the caller's own when the file is of several) and its bank. A file of no county (of a bank
    two counties share, its account not known) is in no county's scope."""
    counties = file_counties(session, item)
    home = principal.home_county_id
    county = home if home in counties else (counties[0] if counties else None)
    return ObjectScope(county_id=county, bank_id=bank_id_of(session, item.bank_code))
