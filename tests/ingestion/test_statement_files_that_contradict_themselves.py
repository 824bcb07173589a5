"""A statement file that contradicts itself is quarantined whole, nothing of it kept: two
different statements for one account and day, two different lines under one bank
transaction id, a line booked outside its statement's day, a statement in another currency.
A line or a statement repeated exactly is kept once, as before."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from adapters.records import CreditDebit, StatementEntry, SubAccountBalance
from gateway.ingestion.models import InboundFile, InboundStatus, StatementLine
from gateway.jobs.pipeline import run_date
from gateway.reconcile.models import ReconRun
from tests.settle_support import DAY1, Settle, settle_on_database, statement, use_iso20022

DAY2 = DAY1 + timedelta(days=1)
SUB = "6200001-1"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def settle(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settle]:
    yield from settle_on_database(request, tmp_path)


def _entry(txn: str, amount: int, credit: bool, *, on: date = DAY1) -> StatementEntry:
    return StatementEntry(
        booking_date=on,
        amount_fen=amount,
        credit_debit=CreditDebit.CREDIT if credit else CreditDebit.DEBIT,
        bank_transaction_id=txn,
        sub_account=SUB,
        counterparty_name="张三",
        remittance="转账",
    )


def _day(*entries: StatementEntry) -> list[StatementEntry]:
    return list(entries) or [_entry("T1", 400_000, False), _entry("T3", 12_345, True)]


def _fetch(settle: Settle, name: str, data: bytes) -> InboundFile:
    """The bank's file for DAY1, fetched and applied the next night; returns it."""
    settle.server.put(f"out/{name}", data)
    run_date(settle.nightly, DAY2)
    session = settle.fresh()
    (file,) = session.scalars(select(InboundFile).where(InboundFile.name == name)).all()
    return file


def _nothing_kept(settle: Settle) -> None:
    session = settle.fresh()
    assert session.scalar(select(func.count()).select_from(StatementLine)) == 0
    run = session.scalar(select(ReconRun).where(ReconRun.business_date == DAY1))
    assert run is not None
    assert not run.has_statement  # the day waits for a statement the office can trust


Mutation = Callable[[bytes], bytes]


# --- cn_text ---------------------------------------------------------------------------

CN_NAME = "STMT_6200001_20240701.txt"


def _cn(settle: Settle, entries: list[StatementEntry], mutate: Mutation = bytes) -> bytes:
    return mutate(settle.profile.adapter.render_statement(statement(DAY1, entries)))


def test_cn_text_two_lines_under_one_transaction_id_are_quarantined(settle: Settle) -> None:
    data = _cn(settle, _day(_entry("T1", 400_000, False), _entry("T1", 12_345, True)))

    file = _fetch(settle, CN_NAME, data)

    assert file.status is InboundStatus.QUARANTINED
    reason = file.reason or ""
    assert "line 2 of the file and line 3 of the file" in reason  # after the header
    assert "'T1'" in reason
    assert "amount_fen 400000 and 12345" in reason
    _nothing_kept(settle)


def test_cn_text_a_line_repeated_exactly_is_kept_once(settle: Settle) -> None:
    line = _entry("T1", 400_000, False)
    file = _fetch(settle, CN_NAME, _cn(settle, _day(line, line)))

    assert file.status is InboundStatus.APPLIED
    lines = settle.fresh().scalars(select(StatementLine)).all()
    assert [(x.dedupe_key, x.amount_fen) for x in lines] == [("txn:T1", 400_000)]


def test_cn_text_a_statement_in_dollars_is_quarantined(settle: Settle) -> None:
    data = _cn(settle, _day(), lambda raw: raw.replace(b"|CNY|", b"|USD|", 1))

    file = _fetch(settle, CN_NAME, data)

    assert file.status is InboundStatus.QUARANTINED
    reason = file.reason or ""
    assert "line 1" in reason
    assert "currency" in reason
    assert "USD" in reason
    _nothing_kept(settle)


@pytest.mark.parametrize("booked", [date(2030, 7, 1), date(2024, 6, 1)])
def test_cn_text_a_line_booked_outside_the_statements_day_is_quarantined(
    settle: Settle, booked: date
) -> None:
    data = _cn(settle, _day(_entry("T1", 400_000, False), _entry("T3", 12_345, True, on=booked)))

    file = _fetch(settle, CN_NAME, data)

    assert file.status is InboundStatus.QUARANTINED
    reason = file.reason or ""
    assert f"line 3 of the file, account 6200001: booking_date {booked}" in reason
    assert "2024-07-01 to 2024-07-01" in reason
    _nothing_kept(settle)


def _with_sub_balances(settle: Settle, entries: list[StatementEntry]) -> bytes:
    """A cn_text statement with two sub-account balance lines after its header: its entry 1
    is the file's line 4, its entry 3 line 6."""
    subs = (SubAccountBalance(SUB, 0, 0), SubAccountBalance("6200001-2", 0, 0))
    raw = settle.profile.adapter.render_statement(statement(DAY1, entries, sub_balances=subs))
    assert raw.splitlines()[5].startswith(b"D|3|")
    return raw


def test_cn_text_two_lines_under_one_id_are_named_by_the_files_own_lines(settle: Settle) -> None:
    entries = [_entry("T1", 400_000, False), _entry("T2", 500, True), _entry("T1", 12_345, True)]

    file = _fetch(settle, CN_NAME, _with_sub_balances(settle, entries))

    assert file.status is InboundStatus.QUARANTINED
    reason = file.reason or ""
    assert "line 4 of the file and line 6 of the file" in reason
    assert "文件第 4 行与文件第 6 行" in reason
    _nothing_kept(settle)


def test_cn_text_a_line_booked_outside_the_period_is_named_by_the_files_own_line(
    settle: Settle,
) -> None:
    entries = [
        _entry("T2", 400_000, False),
        _entry("T3", 500, True),
        _entry("T1", 12_345, True, on=date(2030, 7, 1)),
    ]

    file = _fetch(settle, CN_NAME, _with_sub_balances(settle, entries))

    assert file.status is InboundStatus.QUARANTINED
    reason = file.reason or ""
    assert "line 6 of the file, account 6200001: booking_date 2030-07-01" in reason
    assert "文件第 6 行" in reason
    _nothing_kept(settle)


# --- iso20022 --------------------------------------------------------------------------

ISO_NAME = "CAMT053_20240701.xml"


def _iso(settle: Settle, entries: list[StatementEntry], mutate: Mutation = bytes) -> bytes:
    use_iso20022(settle)
    return mutate(settle.profile.adapter.render_statement(statement(DAY1, entries)))


def _second_stmt(*, same: bool) -> Mutation:
    """The file's statement written twice, the copy (unless ``same``) with another id and a
    line of 999.99 instead of 123.45."""

    def mutate(raw: bytes) -> bytes:
        start, end = raw.index(b"<Stmt>"), raw.index(b"</Stmt>") + len(b"</Stmt>")
        block = raw[start:end]
        if not same:
            block = block.replace(b"<Id>STMT20240701</Id>", b"<Id>STMT20240701B</Id>")
            block = block.replace(
                b"<AcctSvcrRef>T3</AcctSvcrRef>", b"<AcctSvcrRef>T9</AcctSvcrRef>"
            )
            block = block.replace(b'<Amt Ccy="CNY">123.45</Amt>', b'<Amt Ccy="CNY">999.99</Amt>')
        return raw[:end] + b"\n" + block + raw[end:]

    return mutate


def test_iso_two_statements_for_one_account_and_day_are_quarantined(settle: Settle) -> None:
    data = _iso(settle, _day(), _second_stmt(same=False))
    assert b"999.99" in data

    file = _fetch(settle, ISO_NAME, data)

    assert file.status is InboundStatus.QUARANTINED
    reason = file.reason or ""
    assert "two statements for account 6200001 on 2024-07-01" in reason
    assert "STMT20240701B" in reason
    _nothing_kept(settle)


def test_iso_the_same_statement_written_twice_is_kept_once(settle: Settle) -> None:
    file = _fetch(settle, ISO_NAME, _iso(settle, _day(), _second_stmt(same=True)))

    assert file.status is InboundStatus.APPLIED
    assert settle.fresh().scalar(select(func.count()).select_from(StatementLine)) == 2


def test_iso_two_lines_under_one_transaction_id_are_quarantined(settle: Settle) -> None:
    data = _iso(settle, _day(_entry("T1", 400_000, False), _entry("T1", 12_345, True)))

    file = _fetch(settle, ISO_NAME, data)

    assert file.status is InboundStatus.QUARANTINED
    reason = file.reason or ""
    assert "entry 1 (AcctSvcrRef T1) and entry 2 (AcctSvcrRef T1)" in reason
    assert "amount_fen 400000 and 12345" in reason
    _nothing_kept(settle)


@pytest.mark.parametrize("booked", [date(2030, 7, 1), date(2024, 6, 1)])
def test_iso_a_line_booked_outside_the_statements_day_is_quarantined(
    settle: Settle, booked: date
) -> None:
    data = _iso(settle, _day(_entry("T1", 400_000, False), _entry("T3", 12_345, True, on=booked)))

    file = _fetch(settle, ISO_NAME, data)

    assert file.status is InboundStatus.QUARANTINED
    reason = file.reason or ""
    assert f"entry 2 (AcctSvcrRef T3), account 6200001: booking_date {booked}" in reason
    _nothing_kept(settle)
