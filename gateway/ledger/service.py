"""Posting to, reversing and reading an association's double-entry journal.

Services never commit. A posting's legs are inserted before its header; the header's
insertion is checked by the database (see the first migration), and :func:`post` checks the
same in code first so the user gets a clear, typed error.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import case, func, insert, select
from sqlalchemy.orm import Session

from adapters.money import grouped_yuan
from gateway.audit import service as audit
from gateway.db import utcnow
from gateway.errors import LedgerError, NotFound, RuleViolation
from gateway.ledger.fence import enter_journal_write
from gateway.ledger.models import (
    CHART,
    AccountCode,
    AccountType,
    JournalLeg,
    JournalTransaction,
    LedgerAccount,
    LedgerChannel,
    TransactionKind,
)
from gateway.org.models import Association, AssociationStatus, County, Town
from gateway.settings import CashMode


@dataclass(frozen=True)
class Posting:
    """One leg to post: exactly one of ``debit_fen`` and ``credit_fen`` is positive."""

    account: AccountCode
    debit_fen: int = 0
    credit_fen: int = 0
    memo: str = ""

    @classmethod
    def debit(cls, account: AccountCode, amount_fen: int, memo: str = "") -> Posting:
        return cls(account, debit_fen=amount_fen, memo=memo)

    @classmethod
    def credit(cls, account: AccountCode, amount_fen: int, memo: str = "") -> Posting:
        return cls(account, credit_fen=amount_fen, memo=memo)


def open_chart(session: Session, association_id: int) -> dict[AccountCode, LedgerAccount]:
    """Create the association's chart of accounts (the missing accounts only)."""
    existing = {
        acc.code: acc
        for acc in session.scalars(
            select(LedgerAccount).where(LedgerAccount.association_id == association_id)
        )
    }
    for code, (account_type, name_zh, name_en) in CHART.items():
        if code not in existing:
            account = LedgerAccount(
                association_id=association_id,
                code=code,
                account_type=account_type,
                name_zh=name_zh,
                name_en=name_en,
            )
            session.add(account)
            existing[code] = account
    session.flush()
    return existing


def _accounts(session: Session, association_id: int) -> dict[AccountCode, LedgerAccount]:
    accounts = {
        acc.code: acc
        for acc in session.scalars(
            select(LedgerAccount).where(LedgerAccount.association_id == association_id)
        )
    }
    if not accounts:
        raise NotFound(
            "该协会尚未建立会计科目",
            f"association {association_id} has no chart of accounts",
            association_id=association_id,
        )
    return accounts


def _check_amount(value: object, side: str, index: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise LedgerError(
            f"第 {index} 条分录的{side}金额必须是非负整数（分）",
            f"leg {index}: {side} must be a non-negative integer number of fen, got {value!r}",
        )
    return value


def validate_postings(legs: Sequence[Posting]) -> int:
    """Check the legs balance; returns the transaction total in fen."""
    if len(legs) < 2:
        raise LedgerError("一笔凭证至少需要两条分录", "a transaction needs at least two legs")
    debits = credits = 0
    for index, leg in enumerate(legs, start=1):
        debit = _check_amount(leg.debit_fen, "借方 debit", index)
        credit = _check_amount(leg.credit_fen, "贷方 credit", index)
        if (debit > 0) == (credit > 0):
            raise LedgerError(
                f"第 {index} 条分录必须且只能在借方或贷方之一记正数金额",
                f"leg {index}: exactly one of debit and credit must be positive",
            )
        debits += debit
        credits += credit
    if debits != credits:
        raise LedgerError(
            f"借贷不平衡：借方 {grouped_yuan(debits)} 元，贷方 {grouped_yuan(credits)} 元",
            f"unbalanced transaction: debits {debits} fen, credits {credits} fen",
            debits_fen=debits,
            credits_fen=credits,
        )
    return debits


def county_of(session: Session, association_id: int) -> County:
    county = session.execute(
        select(County)
        .join(Town, Town.county_id == County.id)
        .join(Association, Association.town_id == Town.id)
        .where(Association.id == association_id)
    ).scalar_one_or_none()
    if county is None:
        raise NotFound("协会不存在", f"association {association_id} not found")
    return county


def check_channel(session: Session, association_id: int, channel: LedgerChannel) -> bool:
    """Refuse cash unless the county is in its transitional mode; returns the cash flag."""
    if channel != LedgerChannel.CASH:
        return False
    county = county_of(session, association_id)
    if county.cash_mode != CashMode.TRANSITIONAL:
        raise RuleViolation(
            "村级不得使用现金：借款和还款必须通过银行转账",
            "no cash at village level: loans and repayments must go through the bank",
            code="cash_refused",
            association_id=association_id,
        )
    return True


def post(
    session: Session,
    *,
    association_id: int,
    business_date: date,
    description: str,
    kind: TransactionKind | str,
    legs: Sequence[Posting],
    channel: LedgerChannel = LedgerChannel.TRANSFER,
    external_ref: str | None = None,
    actor: str = "system",
    reversal_of: uuid.UUID | None = None,
) -> JournalTransaction:
    """Post one balanced transaction to the association's journal."""
    total = validate_postings(legs)
    association = session.get(Association, association_id)
    if association is None:
        raise NotFound("协会不存在", f"association {association_id} not found")
    if association.status == AssociationStatus.CLOSED:
        raise RuleViolation(
            "协会已撤销，不能再记账",
            f"association {association.code} is closed: no further postings",
            code="association_closed",
        )
    cash_flagged = check_channel(session, association_id, channel)
    accounts = _accounts(session, association_id)
    session.flush()
    enter_journal_write(session)
    transaction_id = uuid.uuid4()
    session.execute(
        insert(JournalLeg),
        [
            {
                "transaction_id": transaction_id,
                "account_id": accounts[leg.account].id,
                "debit_fen": leg.debit_fen,
                "credit_fen": leg.credit_fen,
                "memo": leg.memo,
            }
            for leg in legs
        ],
    )
    session.execute(
        insert(JournalTransaction).values(
            id=transaction_id,
            association_id=association_id,
            business_date=business_date,
            description=description,
            kind=str(kind),
            channel=channel,
            cash_flagged=cash_flagged,
            external_ref=external_ref,
            total_fen=total,
            reversal_of=reversal_of,
            created_by=actor,
            created_at=utcnow(),
        )
    )
    audit.record(
        session,
        actor=actor,
        action="ledger.post",
        chain=audit.association_chain(association_id),
        object_type="journal_transaction",
        object_id=transaction_id,
        payload={
            "association_id": association_id,
            "business_date": business_date.isoformat(),
            "kind": str(kind),
            "channel": channel.value,
            "cash_flagged": cash_flagged,
            "total_fen": total,
            "external_ref": external_ref,
            "reversal_of": str(reversal_of) if reversal_of else None,
            "legs": [[leg.account.value, leg.debit_fen, leg.credit_fen] for leg in legs],
        },
    )
    posted = session.get(JournalTransaction, transaction_id)
    assert posted is not None
    return posted


@dataclass(frozen=True)
class PostingRequest:
    """One balanced transaction for :func:`post_many` (the arguments of :func:`post`)."""

    association_id: int
    business_date: date
    description: str
    kind: TransactionKind | str
    legs: Sequence[Posting]
    channel: LedgerChannel = LedgerChannel.TRANSFER
    external_ref: str | None = None
    actor: str = "system"
    note: Mapping[str, object] = field(default_factory=dict)
    """What the posting settles (instruction, loan, status), kept in its audit entry."""


def post_many(
    session: Session,
    requests: Sequence[PostingRequest],
    *,
    audit_action: str = "ledger.post_many",
    audit_payload: dict[str, object] | None = None,
) -> list[uuid.UUID]:
    """Post many balanced transactions in a few statements; returns their ids in order.

    Every transaction is checked in code as :func:`post` checks it (balanced legs of
    non-negative integer fen, an open association with a chart of accounts, no cash outside
    the transitional mode) before anything is written; the legs go in with one multi-row
    insert, the headers with another, and the database triggers check each header against
    its legs as for a single posting. The audit log gets one event per association chain
    naming every transaction, its reference, kind and total (``audit_payload`` is added to
    each event)."""
    if not requests:
        return []
    totals = []
    for index, request in enumerate(requests, start=1):
        try:
            totals.append(validate_postings(request.legs))
        except LedgerError as exc:
            name = request.external_ref or request.description
            raise LedgerError(
                f"第 {index} 笔凭证（{name}）：{exc.message_zh}",
                f"transaction {index} ({name}): {exc.message_en}",
            ) from exc
    association_ids = {r.association_id for r in requests}
    found = {
        a.id: a
        for a in session.scalars(select(Association).where(Association.id.in_(association_ids)))
    }
    for association_id in sorted(association_ids):
        association = found.get(association_id)
        if association is None:
            raise NotFound("协会不存在", f"association {association_id} not found")
        if association.status == AssociationStatus.CLOSED:
            raise RuleViolation(
                "协会已撤销，不能再记账",
                f"association {association.code} is closed: no further postings",
                code="association_closed",
            )
    cash_flags = {
        (r.association_id, r.channel): check_channel(session, r.association_id, r.channel)
        for r in requests
    }
    account_ids: dict[tuple[int, AccountCode], int] = {
        (association_id, code): account_id
        for association_id, code, account_id in session.execute(
            select(LedgerAccount.association_id, LedgerAccount.code, LedgerAccount.id).where(
                LedgerAccount.association_id.in_(association_ids)
            )
        )
    }
    uncharted = sorted(association_ids - {association_id for association_id, _ in account_ids})
    if uncharted:
        raise NotFound(
            "该协会尚未建立会计科目",
            f"association {uncharted[0]} has no chart of accounts",
            association_id=uncharted[0],
        )
    ids = [uuid.uuid4() for _ in requests]
    session.flush()
    enter_journal_write(session)
    session.execute(
        insert(JournalLeg),
        [
            {
                "transaction_id": transaction_id,
                "account_id": account_ids[(request.association_id, leg.account)],
                "debit_fen": leg.debit_fen,
                "credit_fen": leg.credit_fen,
                "memo": leg.memo,
            }
            for transaction_id, request in zip(ids, requests, strict=True)
            for leg in request.legs
        ],
    )
    now = utcnow()
    session.execute(
        insert(JournalTransaction),
        [
            {
                "id": transaction_id,
                "association_id": request.association_id,
                "business_date": request.business_date,
                "description": request.description,
                "kind": str(request.kind),
                "channel": request.channel,
                "cash_flagged": cash_flags[(request.association_id, request.channel)],
                "external_ref": request.external_ref,
                "total_fen": total,
                "reversal_of": None,
                "created_by": request.actor,
                "created_at": now,
            }
            for transaction_id, request, total in zip(ids, requests, totals, strict=True)
        ],
    )
    by_association: dict[int, list[dict[str, object]]] = {}
    total_by_association: Counter[int] = Counter()
    for transaction_id, request, total in zip(ids, requests, totals, strict=True):
        total_by_association[request.association_id] += total
        legs = request.legs
        by_association.setdefault(request.association_id, []).append(
            {
                **request.note,
                "id": str(transaction_id),
                "business_date": request.business_date.isoformat(),
                "kind": str(request.kind),
                "channel": request.channel.value,
                "cash_flagged": cash_flags[(request.association_id, request.channel)],
                "total_fen": total,
                "external_ref": request.external_ref,
                "legs": [[leg.account.value, leg.debit_fen, leg.credit_fen] for leg in legs],
            }
        )
    actors = sorted({r.actor for r in requests})
    audit.record_many(
        session,
        [
            audit.AuditEntry(
                chain=audit.association_chain(association_id),
                actor=actors[0] if len(actors) == 1 else ",".join(actors),
                action=audit_action,
                object_type="journal_transactions",
                object_id=association_id,
                payload={
                    **(audit_payload or {}),
                    "association_id": association_id,
                    "count": len(transactions),
                    "total_fen": total_by_association[association_id],
                    "transactions": transactions,
                },
            )
            for association_id, transactions in sorted(by_association.items())
        ],
    )
    return ids


def get_transaction(session: Session, transaction_id: uuid.UUID) -> JournalTransaction:
    found = session.get(JournalTransaction, transaction_id)
    if found is None:
        raise NotFound("凭证不存在", f"journal transaction {transaction_id} not found")
    return found


def reverse(
    session: Session,
    transaction_id: uuid.UUID,
    *,
    business_date: date,
    reason: str,
    actor: str = "system",
) -> JournalTransaction:
    """Post the mirror image of a transaction (the only way to correct the journal)."""
    original = get_transaction(session, transaction_id)
    if original.reversal_of is not None:
        raise LedgerError("冲销凭证不能再冲销", "a reversal cannot itself be reversed")
    already = session.scalar(
        select(JournalTransaction.id).where(JournalTransaction.reversal_of == original.id)
    )
    if already is not None:
        raise LedgerError(
            "该凭证已冲销", f"journal transaction {original.id} is already reversed by {already}"
        )
    if not reason.strip():
        raise LedgerError("冲销必须注明原因", "a reversal needs a reason")
    legs = [
        Posting(
            leg.account.code,
            debit_fen=leg.credit_fen,
            credit_fen=leg.debit_fen,
            memo=f"冲销 reversal: {leg.memo}"[:200],
        )
        for leg in original.legs
    ]
    return post(
        session,
        association_id=original.association_id,
        business_date=business_date,
        description=f"冲销 {original.description}：{reason}"[:400],
        kind=TransactionKind.REVERSAL,
        legs=legs,
        channel=LedgerChannel.INTERNAL
        if original.channel == LedgerChannel.CASH
        else original.channel,
        external_ref=original.external_ref,
        actor=actor,
        reversal_of=original.id,
    )


def _signed(account_type: AccountType, debits: int, credits: int) -> int:
    return debits - credits if account_type.debit_normal else credits - debits


@dataclass(frozen=True)
class TrialBalanceRow:
    code: AccountCode
    name_zh: str
    name_en: str
    account_type: AccountType
    debit_fen: int
    credit_fen: int

    @property
    def balance_fen(self) -> int:
        """The balance on the account's normal side (debit for assets and expenses)."""
        return _signed(self.account_type, self.debit_fen, self.credit_fen)


@dataclass(frozen=True)
class TrialBalance:
    association_id: int
    as_of: date | None
    rows: list[TrialBalanceRow]

    @property
    def total_debit_fen(self) -> int:
        return sum(r.debit_fen for r in self.rows)

    @property
    def total_credit_fen(self) -> int:
        return sum(r.credit_fen for r in self.rows)

    @property
    def balanced(self) -> bool:
        return self.total_debit_fen == self.total_credit_fen

    def balance(self, code: AccountCode) -> int:
        for row in self.rows:
            if row.code == code:
                return row.balance_fen
        return 0


def trial_balance(session: Session, association_id: int, as_of: date | None = None) -> TrialBalance:
    """Every account's debit and credit totals up to and including ``as_of`` (all if None)."""
    accounts = _accounts(session, association_id)
    query = (
        select(
            JournalLeg.account_id,
            func.coalesce(func.sum(JournalLeg.debit_fen), 0),
            func.coalesce(func.sum(JournalLeg.credit_fen), 0),
        )
        .join(JournalTransaction, JournalTransaction.id == JournalLeg.transaction_id)
        .where(JournalTransaction.association_id == association_id)
        .group_by(JournalLeg.account_id)
    )
    if as_of is not None:
        query = query.where(JournalTransaction.business_date <= as_of)
    totals = {row[0]: (int(row[1]), int(row[2])) for row in session.execute(query)}
    rows = [
        TrialBalanceRow(
            code=acc.code,
            name_zh=acc.name_zh,
            name_en=acc.name_en,
            account_type=acc.account_type,
            debit_fen=totals.get(acc.id, (0, 0))[0],
            credit_fen=totals.get(acc.id, (0, 0))[1],
        )
        for acc in sorted(accounts.values(), key=lambda a: a.code.value)
    ]
    return TrialBalance(association_id=association_id, as_of=as_of, rows=rows)


def balance(
    session: Session, association_id: int, code: AccountCode, as_of: date | None = None
) -> int:
    """One account's balance on its normal side at the end of ``as_of``."""
    account_type = CHART[code][0]
    query = (
        select(
            func.coalesce(func.sum(JournalLeg.debit_fen), 0),
            func.coalesce(func.sum(JournalLeg.credit_fen), 0),
        )
        .join(JournalTransaction, JournalTransaction.id == JournalLeg.transaction_id)
        .join(LedgerAccount, LedgerAccount.id == JournalLeg.account_id)
        .where(JournalTransaction.association_id == association_id, LedgerAccount.code == code)
    )
    if as_of is not None:
        query = query.where(JournalTransaction.business_date <= as_of)
    debits, credits = session.execute(query).one()
    return _signed(account_type, int(debits), int(credits))


def cash_flagged_count(session: Session, association_id: int) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(JournalTransaction)
            .where(
                JournalTransaction.association_id == association_id,
                JournalTransaction.cash_flagged.is_(True),
            )
        )
        or 0
    )


def channel_counts(session: Session, association_id: int) -> dict[str, int]:
    """How many transactions moved money by transfer and by cash (evaluation table)."""
    query = select(
        func.coalesce(
            func.sum(case((JournalTransaction.channel == LedgerChannel.TRANSFER, 1), else_=0)), 0
        ),
        func.coalesce(
            func.sum(case((JournalTransaction.channel == LedgerChannel.CASH, 1), else_=0)), 0
        ),
    ).where(JournalTransaction.association_id == association_id)
    transfer, cash = session.execute(query).one()
    return {"transfer": int(transfer), "cash": int(cash)}
