"""Statements that must not be applied: each is quarantined whole, with a follow-up naming
the file, and nothing of it is kept: not its lines, not the return it shows."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from adapters.records import CreditDebit, Statement, StatementEntry, SubAccountBalance
from gateway.ingestion.models import InboundFile, InboundStatus, StatementLine
from gateway.jobs.pipeline import run_date
from gateway.payments.models import FollowUpItem, FollowUpKind, InstructionStatus
from gateway.reconcile.models import ReconRun
from tests.settle_support import DAY1, Settle, settle_in, statement

DAY2 = DAY1 + timedelta(days=1)
DAY3 = DAY1 + timedelta(days=2)
DAY4 = DAY1 + timedelta(days=3)
SUB = "6200001-1"


@pytest.fixture
def settle(tmp_path: Path) -> Iterator[Settle]:
    yield from settle_in(tmp_path)


def _entry(txn: str | None, amount: int, *, on: date = DAY1, **extra: Any) -> StatementEntry:
    fields: dict[str, Any] = {
        "booking_date": on,
        "amount_fen": amount,
        "credit_debit": CreditDebit.CREDIT,
        "bank_transaction_id": txn,
        "sub_account": SUB,
        "counterparty_name": "张三",
        "remittance": "转账",
    }
    fields.update(extra)
    return StatementEntry(**fields)


def _settled_disbursement(settle: Settle) -> str:
    settle.released_loan(400_000)
    run_date(settle.nightly, DAY1)
    settle.bank.answer(DAY1)
    run_date(settle.nightly, DAY2)
    (instruction,) = settle.instructions()
    assert instruction.status is InstructionStatus.SETTLED
    return instruction.end_to_end_id


def _return_of(e2e: str, **extra: Any) -> StatementEntry:
    return _entry(
        "T9",
        400_000,
        on=DAY2,
        end_to_end_id=e2e,
        return_reason_code="AC04",
        bank_transaction_code="PMNT/ICDT/RRTN",
        **extra,
    )


def _quarantined(settle: Settle, name: str) -> InboundFile:
    session = settle.fresh()
    file = session.scalar(select(InboundFile).where(InboundFile.name == name))
    assert file is not None
    assert file.status is InboundStatus.QUARANTINED
    follow_ups = session.scalars(
        select(FollowUpItem).where(FollowUpItem.inbound_file_id == file.id)
    ).all()
    assert [f.kind for f in follow_ups] == [FollowUpKind.FILE_QUARANTINED]
    assert name in follow_ups[0].message_en
    return file


def _lines_of(settle: Settle, name: str) -> int:
    session = settle.fresh()
    return int(
        session.scalar(
            select(func.count())
            .select_from(StatementLine)
            .join(InboundFile, InboundFile.id == StatementLine.inbound_file_id)
            .where(InboundFile.name == name)
        )
        or 0
    )


def test_a_statement_of_an_account_that_is_not_ours_cannot_return_our_payment(
    settle: Settle,
) -> None:
    e2e = _settled_disbursement(settle)
    foreign = dataclasses.replace(
        statement(DAY2, [_return_of(e2e, sub_account="9999999-7")]), account="9999999"
    )
    settle.bank.put_statement(foreign, "STMT_9999999_20240702.txt")
    run_date(settle.nightly, DAY3, ("fetch", "statements"))

    file = _quarantined(settle, "STMT_9999999_20240702.txt")
    assert "9999999" in (file.reason or "")
    assert "not one of our special accounts" in (file.reason or "")
    assert _lines_of(settle, "STMT_9999999_20240702.txt") == 0
    (instruction,) = settle.instructions()
    assert instruction.status is InstructionStatus.SETTLED


def test_a_return_of_a_disbursement_shown_as_money_going_out_is_refused(settle: Settle) -> None:
    e2e = _settled_disbursement(settle)
    wrong_way = _return_of(e2e, credit_debit=CreditDebit.DEBIT)
    settle.bank.put_statement(
        statement(DAY2, [_entry("T8", 100, on=DAY2), wrong_way]), "STMT_6200001_20240702.txt"
    )
    run_date(settle.nightly, DAY3, ("fetch", "statements"))

    file = _quarantined(settle, "STMT_6200001_20240702.txt")
    assert f"a return of {e2e} must be a credit" in (file.reason or "")
    assert _lines_of(settle, "STMT_6200001_20240702.txt") == 0  # T8 is not kept either
    (instruction,) = settle.instructions()
    assert instruction.status is InstructionStatus.SETTLED


def test_a_return_of_a_payment_not_yet_answered_says_so(settle: Settle) -> None:
    settle.released_loan(400_000)
    run_date(settle.nightly, DAY1)  # sent; the bank has not answered yet
    (instruction,) = settle.instructions()
    settle.bank.put_statement(
        statement(DAY2, [_return_of(instruction.end_to_end_id)]), "STMT_6200001_20240702.txt"
    )
    run_date(settle.nightly, DAY3, ("fetch", "statements"))

    file = _quarantined(settle, "STMT_6200001_20240702.txt")
    assert f"{instruction.end_to_end_id} is sent, it cannot be returned" in (file.reason or "")


def test_a_restated_day_already_reconciled_is_refused_and_a_plain_resend_is_not(
    settle: Settle,
) -> None:
    balances = [SubAccountBalance(SUB, 0, 100)]
    first = statement(DAY1, [_entry("T1", 100)], sub_balances=balances)
    settle.bank.put_statement(first, "STMT_6200001_20240701.txt")
    run_date(settle.nightly, DAY2)
    session = settle.fresh()
    assert session.scalar(select(ReconRun.has_statement).where(ReconRun.business_date == DAY1)), (
        "the first statement of the day was reconciled"
    )

    # the same day sent again as another file (another statement id): the same lines
    again = dataclasses.replace(first, statement_id="STMT20240701B")
    settle.bank.put_statement(again, "STMT_6200001_20240701_again.txt")
    restated = statement(
        DAY1,
        [_entry("T1", 100), _entry("T7", 999_900)],
        sub_balances=[SubAccountBalance(SUB, 0, 1_000_000)],
    )
    settle.bank.put_statement(restated, "STMT_6200001_20240701_restated.txt")
    run_date(settle.nightly, DAY3, ("fetch", "statements"))

    session = settle.fresh()
    resent = session.scalar(
        select(InboundFile).where(InboundFile.name == "STMT_6200001_20240701_again.txt")
    )
    assert resent is not None
    assert resent.status is InboundStatus.APPLIED  # the same lines again: nothing new
    file = _quarantined(settle, "STMT_6200001_20240701_restated.txt")
    assert f"restates {DAY1}, already reconciled" in (file.reason or "")
    assert "1 line(s)" in (file.reason or "")
    assert _lines_of(settle, "STMT_6200001_20240701_restated.txt") == 0


def test_a_value_longer_than_a_bank_sends_is_refused_on_every_database(settle: Settle) -> None:
    long_id = "E2E" + "9" * 60
    settle.bank.put_statement(
        statement(DAY1, [_entry("T1", 100), _entry("T2", 200, end_to_end_id=long_id)]),
        "STMT_6200001_20240701.txt",
    )
    run_date(settle.nightly, DAY2, ("fetch", "statements"))

    file = _quarantined(settle, "STMT_6200001_20240701.txt")
    assert "line 3 of the file" in (file.reason or "")  # entry 2, after the header
    assert "end_to_end_id" in (file.reason or "")
    assert "35 characters" in (file.reason or "")
    assert _lines_of(settle, "STMT_6200001_20240701.txt") == 0
    # the next night still works: a good statement applies
    settle.bank.put_statement(statement(DAY2, [_entry("T3", 300, on=DAY2)]), "STMT_b.txt")
    run_date(settle.nightly, DAY3, ("fetch", "statements"))
    assert _lines_of(settle, "STMT_b.txt") == 1


def test_a_number_the_database_cannot_hold_is_refused_and_blocks_no_later_file(
    settle: Settle, monkeypatch: pytest.MonkeyPatch
) -> None:
    # an adapter is a plug-in: one that lets through an amount beyond what a BIGINT holds
    # must not leave its file "received", failing the step again every night
    real = settle.profile.adapter.parse_statements

    def beyond_bigint(content: bytes) -> tuple[Statement, ...]:
        parsed = real(content)
        if b"T666" not in content:
            return parsed
        (one,) = parsed
        huge = dataclasses.replace(one.entries[0], amount_fen=2**63)
        return (dataclasses.replace(one, entries=(huge, *one.entries[1:])),)

    monkeypatch.setattr(settle.profile.adapter, "parse_statements", beyond_bigint)
    settle.bank.put_statement(statement(DAY1, [_entry("T666", 100)]), "STMT_a.txt")
    settle.bank.put_statement(statement(DAY1, [_entry("T1", 100)]), "STMT_b.txt")
    outcomes = run_date(settle.nightly, DAY2, ("fetch", "statements"))

    assert [o.status for o in outcomes] == ["ran", "ran"]
    file = _quarantined(settle, "STMT_a.txt")
    assert "a value the database cannot hold" in (file.reason or "")
    assert _lines_of(settle, "STMT_a.txt") == 0
    assert _lines_of(settle, "STMT_b.txt") == 1
