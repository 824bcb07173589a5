"""Statements: overlapping and repeated statements keep each line once; a truncated one is
quarantined whole; a payment returned after settlement is reversed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from adapters.records import CreditDebit, StatementEntry, SubAccountBalance
from gateway.ingestion.models import InboundFile, InboundStatus, StatementLine
from gateway.ingestion.service import dedupe_keys
from gateway.jobs.pipeline import run_date
from gateway.ledger.models import AccountCode
from gateway.ledger.service import balance
from gateway.loans.models import LoanStatus
from gateway.payments.models import FollowUpItem, FollowUpKind, InstructionStatus
from tests.settle_support import DAY1, Settle, settle_in, statement

DAY2 = DAY1 + timedelta(days=1)
DAY3 = DAY1 + timedelta(days=2)
SUB = "6200001-1"


@pytest.fixture
def settle(tmp_path: Path) -> Iterator[Settle]:
    yield from settle_in(tmp_path)


def _entry(txn: str | None, amount: int, *, on: date = DAY1, **extra: Any) -> StatementEntry:
    return StatementEntry(
        booking_date=on,
        amount_fen=amount,
        credit_debit=CreditDebit.CREDIT,
        bank_transaction_id=txn,
        sub_account=SUB,
        counterparty_name="张三",
        remittance="转账",
        **extra,
    )


def _lines(settle: Settle) -> int:
    return int(settle.fresh().scalar(select(func.count()).select_from(StatementLine)) or 0)


def test_overlapping_statements_keep_each_line_once(settle: Settle) -> None:
    monday = statement(DAY1, [_entry("T1", 100), _entry("T2", 200)], opening_fen=0)
    overlap = statement(DAY1, [_entry("T2", 200), _entry("T3", 300)], opening_fen=100)
    settle.bank.put_statement(monday, "STMT_6200001_20240701.txt")
    run_date(settle.nightly, DAY2, ("fetch", "statements"))
    settle.bank.put_statement(overlap, "STMT_6200001_20240701_2.txt")
    run_date(settle.nightly, DAY3, ("fetch", "statements"))
    assert _lines(settle) == 3
    files = settle.fresh().scalars(select(InboundFile).order_by(InboundFile.id)).all()
    assert '"duplicate_lines": 1' in files[1].summary_json


def test_lines_without_a_bank_id_are_told_apart_by_content_and_occurrence() -> None:
    twice = [_entry(None, 500), _entry(None, 500), _entry(None, 700)]
    keys = dedupe_keys("6200001", tuple(twice))
    assert len(set(keys)) == 3
    assert keys[0].endswith(":1")
    assert keys[1].endswith(":2")
    # the same statement again maps onto the same keys: nothing new is kept
    assert dedupe_keys("6200001", tuple(twice)) == keys
    assert dedupe_keys("6200001", (twice[0],)) == keys[:1]


def test_a_truncated_statement_is_quarantined_whole(settle: Settle) -> None:
    data = settle.bank.put_statement(
        statement(DAY1, [_entry("T1", 100), _entry("T2", 200), _entry("T3", 300)]),
        "STMT_6200001_20240701.txt",
    )
    settle.server.put("out/STMT_6200001_20240701.txt", data[: len(data) * 2 // 3])
    outcomes = run_date(settle.nightly, DAY2, ("fetch", "statements"))
    assert [o.status for o in outcomes] == ["ran", "ran"]
    assert _lines(settle) == 0
    (stored,) = settle.fresh().scalars(select(InboundFile)).all()
    assert stored.status is InboundStatus.QUARANTINED
    assert stored.reason
    assert [i.kind for i in settle.fresh().scalars(select(FollowUpItem))] == [
        FollowUpKind.FILE_QUARANTINED
    ]


def test_a_disbursement_returned_after_settlement_is_reversed(settle: Settle) -> None:
    loan = settle.released_loan(400_000)
    run_date(settle.nightly, DAY1)
    settle.bank.answer(DAY1)
    run_date(settle.nightly, DAY2)
    (instruction,) = settle.instructions()
    assert instruction.status is InstructionStatus.SETTLED
    returned = _entry(
        "T9",
        400_000,
        on=DAY2,
        end_to_end_id=instruction.end_to_end_id,
        return_reason_code="AC04",
        bank_transaction_code="PMNT/ICDT/RRTN",
    )
    settle.bank.put_statement(
        statement(DAY2, [returned], sub_balances=[SubAccountBalance(SUB, 0, 400_000)]),
        "STMT_6200001_20240702.txt",
    )
    run_date(settle.nightly, DAY3)

    session = settle.fresh()
    (instruction,) = settle.instructions()
    assert instruction.status is InstructionStatus.RETURNED
    assert balance(session, settle.world.a.id, AccountCode.LOANS_RECEIVABLE) == 0
    session.refresh(loan)
    assert loan.status is LoanStatus.COUNCIL_APPROVED
    kinds = [i.kind for i in session.scalars(select(FollowUpItem))]
    assert kinds == [FollowUpKind.RETURNED_AFTER_SETTLEMENT]
