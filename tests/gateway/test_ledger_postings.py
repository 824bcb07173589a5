"""Posting to the journal: balanced postings land, unbalanced ones are refused by the code and
by the database, the journal is append-only, corrections are reversals, balances by date."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import TextClause

from gateway.errors import LedgerError, RuleViolation
from gateway.ledger import service as ledger
from gateway.ledger.models import (
    AccountCode,
    JournalLeg,
    JournalTransaction,
    LedgerAccount,
    LedgerChannel,
    TransactionKind,
)
from gateway.ledger.service import Posting
from gateway.testing import World

D = date(2024, 6, 1)


def _post(
    session: Session,
    association_id: int,
    legs: list[Posting],
    *,
    business_date: date = D,
    channel: LedgerChannel = LedgerChannel.TRANSFER,
) -> JournalTransaction:
    return ledger.post(
        session,
        association_id=association_id,
        business_date=business_date,
        description="测试",
        kind=TransactionKind.ADJUSTMENT,
        legs=legs,
        channel=channel,
    )


def test_balanced_posting_moves_both_balances(world: World, session: Session) -> None:
    before = ledger.balance(session, world.a.id, AccountCode.BANK_SUB_ACCOUNT)
    tx = _post(
        session,
        world.a.id,
        [
            Posting.debit(AccountCode.BANK_SUB_ACCOUNT, 12_345),
            Posting.credit(AccountCode.DONATIONS, 12_345),
        ],
    )
    session.commit()
    assert tx.total_fen == 12_345
    assert [(leg.debit_fen, leg.credit_fen) for leg in tx.legs] == [(12_345, 0), (0, 12_345)]
    assert ledger.balance(session, world.a.id, AccountCode.BANK_SUB_ACCOUNT) == before + 12_345
    assert ledger.balance(session, world.a.id, AccountCode.DONATIONS) == 12_345
    assert ledger.trial_balance(session, world.a.id).balanced


@pytest.mark.parametrize(
    ("legs", "fragment"),
    [
        (
            [
                Posting.debit(AccountCode.BANK_SUB_ACCOUNT, 100),
                Posting.credit(AccountCode.DONATIONS, 99),
            ],
            "unbalanced transaction: debits 100 fen, credits 99 fen",
        ),
        ([Posting.debit(AccountCode.BANK_SUB_ACCOUNT, 100)], "at least two legs"),
        (
            [
                Posting(AccountCode.BANK_SUB_ACCOUNT, debit_fen=100, credit_fen=100),
                Posting.credit(AccountCode.DONATIONS, 0),
            ],
            "exactly one of debit and credit",
        ),
        (
            [
                Posting.debit(AccountCode.BANK_SUB_ACCOUNT, -5),
                Posting.credit(AccountCode.DONATIONS, -5),
            ],
            "non-negative integer",
        ),
        (
            [
                Posting.debit(AccountCode.BANK_SUB_ACCOUNT, 1.5),  # type: ignore[arg-type]
                Posting.credit(AccountCode.DONATIONS, 1.5),  # type: ignore[arg-type]
            ],
            "non-negative integer",
        ),
    ],
)
def test_bad_postings_are_refused_in_code(
    world: World, session: Session, legs: list[Posting], fragment: str
) -> None:
    count = _count(session)
    with pytest.raises(LedgerError) as refused:
        _post(session, world.a.id, legs)
    assert fragment in refused.value.message_en
    assert refused.value.message_zh
    session.rollback()
    assert _count(session) == count


def _execute_and_commit(session: Session, statement: TextClause, params: dict) -> None:
    session.execute(statement, params)
    session.commit()


def _count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(JournalTransaction)) or 0


def _tid(session: Session, value: uuid.UUID) -> str:
    return value.hex if session.get_bind().dialect.name == "sqlite" else str(value)


def _raw_insert(session: Session, association_id: int, debit: int, credit: int) -> None:
    accounts = {
        acc.code: acc.id
        for acc in session.scalars(
            select(LedgerAccount).where(LedgerAccount.association_id == association_id)
        )
    }
    tid = _tid(session, uuid.uuid4())
    leg = text(
        "INSERT INTO journal_legs (transaction_id, account_id, debit_fen, credit_fen, memo) "
        "VALUES (:t, :a, :d, :c, '')"
    )
    session.execute(
        leg, {"t": tid, "a": accounts[AccountCode.BANK_SUB_ACCOUNT], "d": debit, "c": 0}
    )
    session.execute(leg, {"t": tid, "a": accounts[AccountCode.DONATIONS], "d": 0, "c": credit})
    session.execute(
        text(
            "INSERT INTO journal_transactions (id, association_id, business_date, description,"
            " kind, channel, cash_flagged, total_fen, created_by, created_at) VALUES"
            " (:t, :assoc, :d, 'raw', 'adjustment', 'transfer', false, :total, 'raw', :now)"
        ),
        {"t": tid, "assoc": association_id, "d": D, "total": debit, "now": D},
    )
    session.commit()


def test_database_accepts_a_balanced_raw_insert(world: World, session: Session) -> None:
    _raw_insert(session, world.a.id, 700, 700)
    assert ledger.balance(session, world.a.id, AccountCode.DONATIONS) == 700


def test_database_refuses_an_unbalanced_raw_insert(world: World, session: Session) -> None:
    with pytest.raises(DBAPIError, match="unbalanced journal transaction"):
        _raw_insert(session, world.a.id, 700, 600)
    session.rollback()
    assert ledger.balance(session, world.a.id, AccountCode.DONATIONS) == 0


@pytest.mark.real_db
def test_database_refuses_legs_without_a_header_at_commit(world: World, session: Session) -> None:
    account = session.scalar(
        select(LedgerAccount.id).where(
            LedgerAccount.association_id == world.a.id,
            LedgerAccount.code == AccountCode.DONATIONS,
        )
    )
    session.execute(
        text(
            "INSERT INTO journal_legs (transaction_id, account_id, debit_fen, credit_fen, memo)"
            " VALUES (:t, :a, 0, 500, '')"
        ),
        {"t": _tid(session, uuid.uuid4()), "a": account},
    )
    with pytest.raises(DBAPIError):
        session.commit()
    session.rollback()
    assert ledger.balance(session, world.a.id, AccountCode.DONATIONS) == 0


def test_database_refuses_a_leg_added_to_a_sealed_transaction(
    world: World, session: Session
) -> None:
    tx = _post(
        session,
        world.a.id,
        [
            Posting.debit(AccountCode.BANK_SUB_ACCOUNT, 50),
            Posting.credit(AccountCode.DONATIONS, 50),
        ],
    )
    session.commit()
    account = tx.legs[0].account_id
    statement = text(
        "INSERT INTO journal_legs (transaction_id, account_id, debit_fen, credit_fen, memo)"
        " VALUES (:t, :a, 10, 0, '')"
    )
    with pytest.raises(DBAPIError, match="sealed"):
        _execute_and_commit(session, statement, {"t": _tid(session, tx.id), "a": account})


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE journal_legs SET debit_fen = debit_fen + 1 WHERE debit_fen > 0",
        "DELETE FROM journal_legs",
        "UPDATE journal_transactions SET description = 'changed'",
        "DELETE FROM journal_transactions",
    ],
)
def test_database_refuses_updates_and_deletes(
    world: World, session: Session, statement: str
) -> None:
    with pytest.raises(DBAPIError, match="append-only"):
        _execute_and_commit(session, text(statement), {})


def test_code_refuses_changing_a_posted_leg(world: World, session: Session) -> None:
    leg = session.scalars(select(JournalLeg)).first()
    assert leg is not None
    leg.memo = "edited"
    with pytest.raises(LedgerError, match="append-only"):
        session.flush()
    session.rollback()
    session.delete(session.scalars(select(JournalTransaction)).first())
    with pytest.raises(LedgerError, match="append-only"):
        session.flush()


def test_reversal_restores_balances_and_happens_once(world: World, session: Session) -> None:
    tx = _post(
        session,
        world.a.id,
        [
            Posting.debit(AccountCode.EXPENSE_OFFICE, 8_000),
            Posting.credit(AccountCode.BANK_SUB_ACCOUNT, 8_000),
        ],
    )
    bank_before = ledger.balance(session, world.a.id, AccountCode.BANK_SUB_ACCOUNT) + 8_000
    reversal = ledger.reverse(
        session, tx.id, business_date=D + timedelta(days=1), reason="记错科目"
    )
    session.commit()
    assert reversal.reversal_of == tx.id
    assert ledger.balance(session, world.a.id, AccountCode.EXPENSE_OFFICE) == 0
    assert ledger.balance(session, world.a.id, AccountCode.BANK_SUB_ACCOUNT) == bank_before
    # On the original date the expense still shows: history is never rewritten.
    assert ledger.balance(session, world.a.id, AccountCode.EXPENSE_OFFICE, as_of=D) == 8_000
    with pytest.raises(LedgerError, match="already reversed"):
        ledger.reverse(session, tx.id, business_date=D, reason="again")
    with pytest.raises(LedgerError, match="cannot itself be reversed"):
        ledger.reverse(session, reversal.id, business_date=D, reason="again")


def test_balances_at_any_date(world: World, session: Session) -> None:
    for day, amount in ((1, 100), (5, 200), (9, 400)):
        _post(
            session,
            world.b.id,
            [
                Posting.debit(AccountCode.BANK_SUB_ACCOUNT, amount),
                Posting.credit(AccountCode.DONATIONS, amount),
            ],
            business_date=date(2024, 7, day),
        )
    session.commit()
    assert ledger.balance(session, world.b.id, AccountCode.DONATIONS, as_of=date(2024, 6, 30)) == 0
    assert ledger.balance(session, world.b.id, AccountCode.DONATIONS, as_of=date(2024, 7, 1)) == 100
    assert ledger.balance(session, world.b.id, AccountCode.DONATIONS, as_of=date(2024, 7, 8)) == 300
    assert ledger.balance(session, world.b.id, AccountCode.DONATIONS) == 700
    tb = ledger.trial_balance(session, world.b.id, as_of=date(2024, 7, 5))
    assert tb.balance(AccountCode.DONATIONS) == 300
    assert tb.balanced


def test_cash_is_refused_unless_the_county_is_transitional(world: World, session: Session) -> None:
    legs = [
        Posting.debit(AccountCode.CASH_ON_HAND, 300),
        Posting.credit(AccountCode.DONATIONS, 300),
    ]
    with pytest.raises(RuleViolation) as refused:
        _post(session, world.a.id, legs, channel=LedgerChannel.CASH)
    assert refused.value.code == "cash_refused"
    assert "不得使用现金" in refused.value.message_zh
    session.rollback()
    world.county.cash_mode = "transitional"  # type: ignore[assignment]
    session.commit()
    tx = _post(session, world.a.id, legs, channel=LedgerChannel.CASH)
    session.commit()
    assert tx.cash_flagged is True
    assert ledger.cash_flagged_count(session, world.a.id) == 1
    assert ledger.channel_counts(session, world.a.id)["cash"] == 1
