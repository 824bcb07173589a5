"""Booking capital into an association: fiscal funds by level, member deposits, donations."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from adapters.money import grouped_yuan
from gateway.audit import service as audit
from gateway.capital.models import CapitalContribution, CapitalSource
from gateway.errors import RuleViolation, ValidationFailed
from gateway.ledger.models import AccountCode, LedgerChannel, TransactionKind
from gateway.ledger.service import Posting, post
from gateway.members.models import Member
from gateway.members.service import get_member
from gateway.org.models import Association
from gateway.org.service import check_takes_in, lock_association

SOURCE_ACCOUNT: dict[CapitalSource, AccountCode] = {
    CapitalSource.CENTRAL: AccountCode.FISCAL_CENTRAL,
    CapitalSource.PROVINCIAL: AccountCode.FISCAL_PROVINCIAL,
    CapitalSource.MUNICIPAL: AccountCode.FISCAL_MUNICIPAL,
    CapitalSource.COUNTY: AccountCode.FISCAL_COUNTY,
    CapitalSource.MEMBER_DEPOSIT: AccountCode.MEMBER_DEPOSITS,
    CapitalSource.DONATION: AccountCode.DONATIONS,
    CapitalSource.OTHER: AccountCode.OTHER_CAPITAL,
}

SOURCE_LABEL_ZH: dict[CapitalSource, str] = {
    CapitalSource.CENTRAL: "中央财政资金",
    CapitalSource.PROVINCIAL: "省级财政资金",
    CapitalSource.MUNICIPAL: "市级财政资金",
    CapitalSource.COUNTY: "县级财政资金",
    CapitalSource.MEMBER_DEPOSIT: "会员入会互助金",
    CapitalSource.DONATION: "捐赠资金",
    CapitalSource.OTHER: "其他资金",
}


# No single receipt of capital comes near this (100 亿元); a typed amount beyond it is a slip of
# the keyboard that would otherwise sit in the append-only journal for good.
MAX_RECEIPT_FEN = 10**12


def _check_amount(amount_fen: int) -> None:
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int) or amount_fen <= 0:
        raise ValidationFailed(
            "金额必须是正整数（分）", f"amount must be a positive integer of fen: {amount_fen!r}"
        )
    if amount_fen > MAX_RECEIPT_FEN:
        raise ValidationFailed(
            f"金额过大：单笔不超过 {grouped_yuan(MAX_RECEIPT_FEN)} 元",
            f"amount too large: one receipt is at most {grouped_yuan(MAX_RECEIPT_FEN)} yuan",
        )


def _check_received_after_start(
    received_on: date, association: Association, member: Member | None = None
) -> None:
    """Money reaches an association on or after the day it was founded, and a member's deposit
    on or after the day the member joined: an earlier date is refused, naming that day."""
    if member is None:
        start, code = association.start_date, "date_before_founding"
        start_zh, start_en = "协会成立日期", "the association was founded"
    else:
        start, code = member.joined_on, "date_before_joining"
        start_zh = f"会员 {member.member_no} 入会日期"
        start_en = f"member {member.member_no} joined"
    if received_on < start:
        raise RuleViolation(
            f"到账日期 {received_on.isoformat()} 早于{start_zh} {start.isoformat()}",
            f"the date received, {received_on.isoformat()}, is before {start_en}, "
            f"{start.isoformat()}",
            code=code,
            earliest=start.isoformat(),
        )


def record_contribution(
    session: Session,
    *,
    association_id: int,
    source: CapitalSource,
    amount_fen: int,
    received_on: date,
    reference: str = "",
    channel: LedgerChannel = LedgerChannel.TRANSFER,
    actor: str = "system",
) -> CapitalContribution:
    """Capital received into the sub-account: Dr bank sub-account, Cr the source's account.

    Refused for an association being liquidated or closed (:func:`check_takes_in`)."""
    if source == CapitalSource.MEMBER_DEPOSIT:
        raise ValidationFailed("会员互助金请按会员登记", "member deposits are recorded per member")
    _check_amount(amount_fen)
    association = lock_association(session, association_id)
    check_takes_in(association, taking_zh="不再收入新的资金", taking_en="takes in no new capital")
    _check_received_after_start(received_on, association)
    return _book(
        session,
        association_id=association_id,
        source=source,
        amount_fen=amount_fen,
        received_on=received_on,
        reference=reference,
        channel=channel,
        actor=actor,
        member_id=None,
        description=f"收到{SOURCE_LABEL_ZH[source]} {reference}".strip(),
    )


def record_member_deposit(
    session: Session,
    *,
    member_id: int,
    amount_fen: int,
    received_on: date,
    reference: str = "",
    channel: LedgerChannel = LedgerChannel.TRANSFER,
    actor: str = "system",
) -> CapitalContribution:
    """A member's mutual-fund deposit (入会互助金) paid into the association's sub-account.

    Refused for an association being liquidated or closed (:func:`check_takes_in`): its
    members' deposits are being refunded, each exactly what the member had paid when the
    refunds were requested."""
    _check_amount(amount_fen)
    member = get_member(session, member_id)
    association = lock_association(session, member.association_id)
    check_takes_in(
        association, taking_zh="不再收缴会员互助金", taking_en="takes in no member deposits"
    )
    if member.status.value != "active":
        raise RuleViolation(
            "只有正常状态的会员可以缴纳互助金",
            f"member {member.member_no} is not active",
            code="member_not_active",
        )
    _check_received_after_start(received_on, association, member)
    contribution = _book(
        session,
        association_id=member.association_id,
        source=CapitalSource.MEMBER_DEPOSIT,
        amount_fen=amount_fen,
        received_on=received_on,
        reference=reference,
        channel=channel,
        actor=actor,
        member_id=member.id,
        description=f"会员 {member.member_no} {member.name} 缴纳入会互助金",
    )
    member.deposit_fen += amount_fen
    session.flush()
    return contribution


def _book(
    session: Session,
    *,
    association_id: int,
    source: CapitalSource,
    amount_fen: int,
    received_on: date,
    reference: str,
    channel: LedgerChannel,
    actor: str,
    member_id: int | None,
    description: str,
) -> CapitalContribution:
    bank_side = (
        AccountCode.CASH_ON_HAND if channel == LedgerChannel.CASH else AccountCode.BANK_SUB_ACCOUNT
    )
    transaction = post(
        session,
        association_id=association_id,
        business_date=received_on,
        description=description,
        kind=TransactionKind.MEMBER_DEPOSIT
        if source == CapitalSource.MEMBER_DEPOSIT
        else TransactionKind.CAPITAL_CONTRIBUTION,
        legs=[
            Posting.debit(bank_side, amount_fen),
            Posting.credit(SOURCE_ACCOUNT[source], amount_fen),
        ],
        channel=channel,
        external_ref=reference or None,
        actor=actor,
    )
    contribution = CapitalContribution(
        association_id=association_id,
        source=source,
        amount_fen=amount_fen,
        received_on=received_on,
        reference=reference,
        member_id=member_id,
        journal_transaction_id=transaction.id,
    )
    session.add(contribution)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="capital.contribution",
        chain=audit.association_chain(association_id),
        object_type="capital_contribution",
        object_id=contribution.id,
        payload={
            "association_id": association_id,
            "source": source.value,
            "amount_fen": amount_fen,
            "member_id": member_id,
        },
    )
    return contribution


def totals_by_source(session: Session, association_id: int) -> dict[CapitalSource, int]:
    rows = session.execute(
        select(CapitalContribution.source, func.sum(CapitalContribution.amount_fen))
        .where(CapitalContribution.association_id == association_id)
        .group_by(CapitalContribution.source)
    )
    return {source: int(total) for source, total in rows}
