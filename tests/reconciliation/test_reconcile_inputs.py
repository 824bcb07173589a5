"""Inputs: statement conversion, frames, refusal of unusable input, the banking calendar."""

from __future__ import annotations

import gc
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime

import polars as pl
import pytest

from adapters.records import (
    Channel,
    CreditDebit,
    Statement,
    StatementEntry,
    SubAccountBalance,
)
from reconciliation import balances_from_statement
from reconciliation.calendar import BankingCalendar
from reconciliation.config import MatchConfig
from reconciliation.convert import lines_from_statement
from reconciliation.engine import ReconciliationInputError, reconcile_frames
from reconciliation.frames import LINE_SCHEMA, entries_frame, lines_frame
from tests.reconciliation.conftest import ACCOUNT, CARD_1, DAY, SUB_A, Scenario, entry, line


def _statement(entries: tuple[StatementEntry, ...]) -> Statement:
    return Statement(
        statement_id="ST-20260310",
        account=ACCOUNT,
        created_at=datetime(2026, 3, 11, 2, 0),
        from_date=DAY,
        to_date=DAY,
        entries=entries,
        sub_account=SUB_A,
    )


def test_statement_entries_become_bank_lines_with_occurrences() -> None:
    cash = StatementEntry(
        booking_date=DAY,
        amount_fen=20_000,
        credit_debit=CreditDebit.CREDIT,
        channel=Channel.CASH,
        bank_transaction_code="CAMT/CNTR/CDPT",
        remittance="现金存入",
    )
    transfer = StatementEntry(
        booking_date=DAY,
        amount_fen=50_000,
        credit_debit=CreditDebit.CREDIT,
        counterparty_account=CARD_1,
        sub_account="SUB-X",
        bank_transaction_id="T1",
    )
    lines = lines_from_statement(_statement((cash, transfer, cash)))
    assert [x.line_id for x in lines] == ["ST-20260310:1", "ST-20260310:2", "ST-20260310:3"]
    assert [x.occurrence for x in lines] == [0, 0, 1]
    assert [x.sub_account for x in lines] == [SUB_A, "SUB-X", SUB_A]
    assert lines[0].channel is Channel.CASH
    assert lines[0].bank_transaction_code == "CAMT/CNTR/CDPT"
    assert lines[1].signed_amount_fen == 50_000
    assert all(x.special_account == ACCOUNT for x in lines)


def test_converted_statement_reconciles() -> None:
    transfer = StatementEntry(
        booking_date=DAY,
        amount_fen=50_000,
        credit_debit=CreditDebit.CREDIT,
        counterparty_account=CARD_1,
    )
    lines = list(lines_from_statement(_statement((transfer,))))
    result = Scenario(lines=lines, entries=[entry("B1", 50_000, member_card=CARD_1)]).run()
    assert result.exceptions == ()
    assert [m.line_ids for m in result.matches()] == [("ST-20260310:1",)]


@pytest.mark.parametrize(
    ("lines", "entries", "message"),
    [
        ([line("L1", 100), line("L1", 200)], [], "line ids not unique: L1"),
        ([line("L1", 0)], [], "amount_fen must be a positive number of fen"),
        ([], [entry("B1", -5)], "entry B1: amount_fen must be a positive"),
        ([], [entry("B1", 5), entry("B1", 6)], "entry ids not unique: B1"),
    ],
)
def test_unusable_input_is_refused_whole(lines: list, entries: list, message: str) -> None:
    with pytest.raises(ReconciliationInputError, match=message):
        Scenario(lines=lines, entries=entries).run()


def test_a_line_of_another_special_account_is_refused() -> None:
    scenario = Scenario(lines=[line("L1", 100)])
    frame = lines_frame(scenario.lines).with_columns(special_account=pl.lit("999"))
    with pytest.raises(ReconciliationInputError, match="belongs to special account 999"):
        reconcile_frames(scenario.request(), frame, entries_frame([]))


def test_unknown_entry_status_and_missing_columns_are_refused() -> None:
    scenario = Scenario(entries=[entry("B1", 100)])
    entries = entries_frame(scenario.entries).with_columns(status=pl.lit("maybe"))
    with pytest.raises(ReconciliationInputError, match="unknown entry status: maybe"):
        reconcile_frames(scenario.request(), lines_frame([]), entries)
    with pytest.raises(ValueError, match="bank line frame lacks columns: remittance"):
        reconcile_frames(scenario.request(), lines_frame([]).drop("remittance"), entries_frame([]))


def test_a_run_leaves_the_garbage_collector_as_it_found_it() -> None:
    """The engine pauses cyclic collection while it runs; the embedding process gets it back."""
    good = Scenario(lines=[line("L1", 100, counterparty_account=CARD_1)])
    refused = Scenario(lines=[line("L1", 100)]).request()
    other_account = lines_frame(good.lines).with_columns(special_account=pl.lit("999"))
    assert gc.isenabled()
    with ThreadPoolExecutor(max_workers=2) as pool:  # two runs at once, one of them refused
        ok = pool.submit(good.run)
        bad = pool.submit(reconcile_frames, refused, other_account, entries_frame([]))
        assert ok.result().exceptions
        with pytest.raises(ReconciliationInputError):
            bad.result()
    assert gc.isenabled()
    gc.disable()
    try:
        good.run()
        assert not gc.isenabled()  # left off, as the caller had it
    finally:
        gc.enable()


def test_frames_round_trip_the_schema() -> None:
    frame = lines_frame([line("L1", 100, counterparty_account=CARD_1)])
    assert dict(frame.schema) == LINE_SCHEMA
    assert frame.row(0, named=True)["credit"] is True


def test_banking_calendar_with_holidays_and_make_up_days() -> None:
    # 2026-10-01..07 National Day holiday; Sunday 2026-09-27 a make-up working day
    holidays = [date(2026, 10, d) for d in range(1, 8)]
    cal = BankingCalendar.of(holidays=holidays, working_days=[date(2026, 9, 27)])
    assert cal.is_banking_day(date(2026, 9, 27))
    assert not cal.is_banking_day(date(2026, 10, 5))
    assert cal.previous_banking_day(date(2026, 10, 8)) == date(2026, 9, 30)
    assert cal.banking_days_between(date(2026, 9, 30), date(2026, 10, 8)) == 1
    assert cal.banking_days_between(date(2026, 10, 8), date(2026, 9, 30)) == -1
    table = cal.ordinal_table(date(2026, 9, 25), date(2026, 10, 9))
    ordinal = dict(table.iter_rows())
    assert ordinal[date(2026, 10, 8)] - ordinal[date(2026, 9, 30)] == 1
    assert ordinal[date(2026, 9, 28)] - ordinal[date(2026, 9, 25)] == 2  # Sun 27th works


def test_pending_counts_banking_days_across_a_holiday() -> None:
    holidays = [date(2026, 10, d) for d in range(1, 8)]
    cal = BankingCalendar.of(holidays=holidays)
    book = [entry("B1", 50_000, member_card=CARD_1, business_date=date(2026, 9, 30))]
    scenario = Scenario(entries=book, config=MatchConfig(pending_days=2, calendar=cal))
    scenario.business_date = date(2026, 10, 8)
    assert scenario.run().pending_entry_ids == ("B1",)
    scenario.business_date = date(2026, 10, 9)
    assert [x.kind.value for x in scenario.run().exceptions] == ["unmatched_book"]


def test_statement_balances_for_the_request() -> None:
    statement = Statement(
        statement_id="ST-1",
        account=ACCOUNT,
        created_at=None,
        from_date=DAY,
        to_date=DAY,
        entries=(),
        opening_balance_fen=1_500_000,
        closing_balance_fen=1_450_000,
        sub_account_balances=(SubAccountBalance(SUB_A, 1_000_000, 950_000),),
    )
    balances = balances_from_statement(statement)
    assert (balances.statement_date, balances.opening_fen, balances.closing_fen) == (
        DAY,
        1_500_000,
        1_450_000,
    )
    assert balances.sub_accounts[0].closing_fen == 950_000
    without = Statement("ST-2", ACCOUNT, None, DAY, DAY, ())
    with pytest.raises(ValueError, match="ST-2 has no opening or closing balance"):
        balances_from_statement(without)
