"""The county fund office's bank follow-ups (待办事项): list them, look at one, resolve one.

A follow-up is written by the payment lifecycle, the batch builder and sender and the
ingestion of bank files (:func:`gateway.payments.service.follow_up`) whenever the bank's
answer needs a person: a refused disbursement, a failed or partly paid collection, retries
used up, a return after settlement, a quarantined or refused file, a batch not built or not
answered. Resolving one records who did it, when, and a note saying what was done, in the
audit log as well.

Where a follow-up lives: its association's county when it names an association; otherwise
its batch's special account's county; otherwise its bank file's county (:func:`file_counties`).
A follow-up naming none of these (a batch that could not be built) belongs to no county.

Where a bank file lives: the county of the batch it answers; else the counties of the special
accounts its statement lines report (an account number is one account at its bank); else,
its account not known (quarantined before a line was read), the one county with a special
account at the file's bank. A bank two counties use keeps such a file from both: only the
administrator sees it, for it may hold either county's members' card numbers.

The functions take the session first and never commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, or_, select
from sqlalchemy.orm import Session

from gateway.audit import service as audit
from gateway.batches.models import PaymentBatch
from gateway.db import utcnow
from gateway.errors import Conflict, NotFound, ValidationFailed
from gateway.ingestion.models import InboundFile, StatementLine
from gateway.org.models import Association, Bank, SpecialAccount, Town
from gateway.payments.models import FollowUpItem, FollowUpKind, PaymentInstruction

NOTE_MAX = 600


def in_county(county_id: int) -> ColumnElement[bool]:
    """The follow-ups that live in ``county_id`` (see the module's note)."""
    associations = (
        select(Association.id)
        .join(Town, Town.id == Association.town_id)
        .where(Town.county_id == county_id)
    )
    accounts = select(SpecialAccount.id).where(SpecialAccount.county_id == county_id)
    batches = select(PaymentBatch.id).where(PaymentBatch.special_account_id.in_(accounts))
    files = select(InboundFile.id).where(file_in_county(county_id))
    return or_(
        FollowUpItem.association_id.in_(associations),
        and_(FollowUpItem.association_id.is_(None), FollowUpItem.batch_id.in_(batches)),
        and_(
            FollowUpItem.association_id.is_(None),
            FollowUpItem.batch_id.is_(None),
            FollowUpItem.inbound_file_id.in_(files),
        ),
    )


def follow_ups(
    *,
    resolved: bool | None = False,
    county_id: int | None = None,
    association_id: int | None = None,
    kind: FollowUpKind | None = None,
) -> Select[FollowUpItem]:
    """The follow-ups matching the filters (``resolved`` None: open and resolved alike),
    unordered; the caller orders and pages them (newest first is ``id`` descending)."""
    statement = select(FollowUpItem)
    if resolved is not None:
        statement = statement.where(FollowUpItem.resolved.is_(resolved))
    if county_id is not None:
        statement = statement.where(in_county(county_id))
    if association_id is not None:
        statement = statement.where(FollowUpItem.association_id == association_id)
    if kind is not None:
        statement = statement.where(FollowUpItem.kind == kind)
    return statement


def list_follow_ups(
    session: Session,
    *,
    resolved: bool | None = False,
    county_id: int | None = None,
    association_id: int | None = None,
    kind: FollowUpKind | None = None,
    limit: int | None = None,
) -> list[FollowUpItem]:
    """The matching follow-ups, newest first."""
    statement = follow_ups(
        resolved=resolved, county_id=county_id, association_id=association_id, kind=kind
    ).order_by(FollowUpItem.id.desc())
    if limit is not None:
        statement = statement.limit(limit)
    return list(session.scalars(statement))


def get_follow_up(session: Session, follow_up_id: int) -> FollowUpItem:
    item = session.get(FollowUpItem, follow_up_id)
    if item is None:
        raise NotFound(f"待办事项 {follow_up_id} 不存在", f"follow-up {follow_up_id} not found")
    return item


def counties_of(session: Session, item: FollowUpItem) -> list[int]:
    """The counties the follow-up lives in (none, one, or, for a file only known by its bank,
    every county with a special account at that bank)."""
    if item.association_id is not None:
        county = session.scalar(
            select(Town.county_id)
            .join(Association, Association.town_id == Town.id)
            .where(Association.id == item.association_id)
        )
        return [county] if county is not None else []
    if item.batch_id is not None:
        return _batch_county(session, item.batch_id)
    file = session.get(InboundFile, item.inbound_file_id) if item.inbound_file_id else None
    return file_counties(session, file) if file is not None else []


def _reported_counties(file_id: Any) -> Select[int]:
    """The counties of the special accounts the statement lines of file ``file_id`` (a value
    or a correlated column) report."""
    return (
        select(SpecialAccount.county_id)
        .join(Bank, Bank.id == SpecialAccount.bank_id)
        .join(
            StatementLine,
            and_(
                StatementLine.bank_code == Bank.code,
                StatementLine.account == SpecialAccount.account_number,
            ),
        )
        .where(StatementLine.inbound_file_id == file_id)
    )


def _counties_at_bank(bank_code: Any) -> Select[int]:
    return (
        select(SpecialAccount.county_id)
        .join(Bank, Bank.id == SpecialAccount.bank_id)
        .where(Bank.code == bank_code)
    )


def file_in_county(county_id: int) -> ColumnElement[bool]:
    """The bank files (``InboundFile`` rows) that live in ``county_id``, as
    :func:`file_counties` finds them one by one (see the module's note)."""
    accounts = select(SpecialAccount.id).where(SpecialAccount.county_id == county_id)
    batches = select(PaymentBatch.id).where(PaymentBatch.special_account_id.in_(accounts))
    reported = _reported_counties(InboundFile.id)
    at_bank = _counties_at_bank(InboundFile.bank_code)
    return or_(
        InboundFile.batch_id.in_(batches),
        and_(
            InboundFile.batch_id.is_(None),
            reported.where(SpecialAccount.county_id == county_id).exists(),
        ),
        and_(
            InboundFile.batch_id.is_(None),
            ~reported.exists(),
            at_bank.where(SpecialAccount.county_id == county_id).exists(),
            ~at_bank.where(SpecialAccount.county_id != county_id).exists(),
        ),
    )


def file_counties(session: Session, file: InboundFile) -> list[int]:
    """The counties a bank file lives in: the county of the batch it answers; else those of
    the special accounts its statement lines report; else, its account not known, the only
    county with a special account at its bank. None when two counties share that bank."""
    if file.batch_id is not None:
        return _batch_county(session, file.batch_id)
    reported = set(session.scalars(_reported_counties(file.id)))
    if reported:
        return sorted(reported)
    at_bank = set(session.scalars(_counties_at_bank(file.bank_code)))
    return sorted(at_bank) if len(at_bank) == 1 else []


def _batch_county(session: Session, batch_id: int) -> list[int]:
    county = session.scalar(
        select(SpecialAccount.county_id)
        .join(PaymentBatch, PaymentBatch.special_account_id == SpecialAccount.id)
        .where(PaymentBatch.id == batch_id)
    )
    return [county] if county is not None else []


def loan_id_of(session: Session, item: FollowUpItem) -> int | None:
    """The loan the follow-up's instruction pays out or collects, if any."""
    if item.instruction_id is None:
        return None
    instruction = session.get(PaymentInstruction, item.instruction_id)
    return instruction.loan_id if instruction is not None else None


def required_note(note: str, limit: int, missing_zh: str, missing_en: str) -> str:
    """``note`` without surrounding spaces; refused (422, field ``note``) when it is empty,
    with the messages given, or longer than ``limit``."""
    text = note.strip()
    if not text:
        raise ValidationFailed(missing_zh, missing_en, field="note")
    if len(text) > limit:
        raise ValidationFailed(
            f"说明过长（最多 {limit} 字）",
            f"the note is too long (at most {limit} characters)",
            field="note",
        )
    return text


def resolve_follow_up(
    session: Session, follow_up_id: int, *, actor: str, note: str
) -> FollowUpItem:
    """Mark the follow-up dealt with: who, when, and the note saying what was done.

    The note is required; a follow-up resolved already is refused (409), so one resolution
    is never overwritten by a second."""
    text = required_note(
        note, NOTE_MAX, "处理说明必填：请写明已采取的措施", "a note is required: say what was done"
    )
    item = session.get(FollowUpItem, follow_up_id, with_for_update=True)
    if item is None:
        raise NotFound(f"待办事项 {follow_up_id} 不存在", f"follow-up {follow_up_id} not found")
    if item.resolved:
        raise Conflict(
            f"待办事项 {item.id} 已由 {item.resolved_by or '—'} 处理，不能重复处理",
            f"follow-up {item.id} was resolved already by {item.resolved_by or '—'}",
            resolved_by=item.resolved_by,
        )
    item.resolved = True
    item.resolved_by = actor[:100]
    item.resolved_at = utcnow()
    item.resolution_note = text
    payload: dict[str, Any] = {
        "kind": item.kind.value,
        "business_date": item.business_date,
        "amount_fen": item.amount_fen,
        "association_id": item.association_id,
        "batch_id": item.batch_id,
        "instruction_id": item.instruction_id,
        "note": text,
    }
    counties: Sequence[int] = counties_of(session, item)
    audit.record(
        session,
        actor=actor,
        action="follow_up.resolved",
        object_type="follow_up",
        object_id=item.id,
        payload=payload,
        chain=audit.association_chain(item.association_id)
        if item.association_id is not None
        else audit.GLOBAL_CHAIN,
        county_id=counties[0] if len(counties) == 1 else None,
    )
    session.flush()
    return item
