"""Each scenario the sandbox bank plays produces the result and statement lines a bank would."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from adapters.records import (
    Channel,
    CreditDebit,
    Direction,
    ResultFile,
    ResultStatus,
    Statement,
    StatementEntry,
    SubAccountBalance,
)
from adapters.sandbox import BankEngine, CardStatus, FaultKind
from adapters.sandbox.errors import BusinessDateError
from tests.adapters.sandbox.sandbox_support import (
    CARD_LI,
    CARD_WANG,
    CARD_ZHANG,
    DAY1,
    SUB_A,
    SUB_B,
    JsonRecordsAdapter,
    batch,
    out_files,
    read_result,
    read_statement,
    seeded_engine,
    submit,
)

DAY2 = DAY1 + timedelta(days=1)
DAY3 = DAY1 + timedelta(days=2)
JSON = JsonRecordsAdapter()


def _send(
    engine: BankEngine,
    direction: Direction,
    lines: list[tuple[str, int, str, str, str]],
    name: str = "DF_001.json",
    on: date = DAY1,
) -> bytes:
    data = JSON.render_batch(batch(direction, lines, on=on))
    submit(engine, name, data)
    return data


def _one_result(engine: BankEngine, day: date = DAY1) -> ResultFile:
    report = engine.run_cutoff(day)
    assert len(report.result_files) == 1
    return read_result(engine, report.result_files[0])


def _lines(statement: Statement | None, e2e: str) -> list[StatementEntry]:
    assert statement is not None
    return [e for e in statement.entries if e.end_to_end_id == e2e]


def _sub(statement: Statement, sub: str) -> SubAccountBalance:
    return next(b for b in statement.sub_account_balances if b.sub_account == sub)


def test_disbursement_settles_and_shows_on_the_statement(tmp_path: Path) -> None:
    engine = seeded_engine(tmp_path)
    _send(engine, Direction.DISBURSEMENT, [("E1", 1_000_000, SUB_A, CARD_ZHANG, "张三")])
    result = _one_result(engine)
    (line,) = result.results
    assert (line.status, line.settled_amount_fen, line.booking_date) == (
        ResultStatus.SETTLED,
        1_000_000,
        DAY1,
    )
    assert result.original_message_id == "HZ20250303001"
    assert engine.balance_fen(CARD_ZHANG) == 1_200_000
    engine.end_of_day(DAY1)
    statement = read_statement(engine, DAY1)
    (entry,) = _lines(statement, "E1")
    assert entry.credit_debit is CreditDebit.DEBIT
    assert entry.amount_fen == 1_000_000
    assert entry.sub_account == SUB_A
    assert (entry.counterparty_account, entry.counterparty_name) == (CARD_ZHANG, "张三")
    assert entry.channel is Channel.TRANSFER
    assert entry.bank_transaction_id
    assert statement is not None
    sub_a = _sub(statement, SUB_A)
    assert (sub_a.opening_fen, sub_a.closing_fen) == (0, 4_000_000)  # funded and paid on DAY1
    assert statement.closing_balance_fen == 7_000_000


@pytest.mark.parametrize(
    ("status", "code", "words"),
    [
        (CardStatus.CLOSED, "AC04", "已销户"),
        (CardStatus.FROZEN, "AC06", "冻结"),
        (CardStatus.NAME_MISMATCH, "BE01", "户名不符"),
    ],
)
def test_disbursement_to_a_card_that_cannot_take_it_is_rejected(
    tmp_path: Path, status: CardStatus, code: str, words: str
) -> None:
    engine = seeded_engine(tmp_path)
    engine.set_card_status(CARD_LI, status)
    _send(engine, Direction.DISBURSEMENT, [("E1", 300_000, SUB_A, CARD_LI, "李四")])
    (line,) = _one_result(engine).results
    assert (line.status, line.reason_code, line.settled_amount_fen) == (
        ResultStatus.REJECTED,
        code,
        0,
    )
    assert words in line.reason_text
    engine.end_of_day(DAY1)
    assert _lines(read_statement(engine, DAY1), "E1") == []
    assert engine.balance_fen(SUB_A) == 5_000_000


def test_name_on_the_instruction_differing_from_the_card_is_rejected_be01(tmp_path: Path) -> None:
    engine = seeded_engine(tmp_path)
    _send(engine, Direction.DISBURSEMENT, [("E1", 300_000, SUB_A, CARD_LI, "李思")])
    (line,) = _one_result(engine).results
    assert (line.status, line.reason_code) == (ResultStatus.REJECTED, "BE01")


def test_scheduled_card_faults_are_injected_and_recorded(tmp_path: Path) -> None:
    engine = seeded_engine(
        tmp_path,
        scheduled=[
            {"kind": "closed_card", "end_to_end_id": "E1"},
            {"kind": "frozen_card", "card": CARD_LI, "date": DAY1},
        ],
    )
    _send(
        engine,
        Direction.DISBURSEMENT,
        [("E1", 100_000, SUB_A, CARD_ZHANG, "张三"), ("E2", 100_000, SUB_B, CARD_LI, "李四")],
    )
    codes = [(r.end_to_end_id, r.reason_code) for r in _one_result(engine).results]
    assert codes == [("E1", "AC04"), ("E2", "AC06")]
    kinds = {(f.kind, f.reference) for f in engine.injected_faults()}
    assert (FaultKind.CLOSED_CARD, "E1") in kinds
    assert (FaultKind.FROZEN_CARD, CARD_LI) in kinds


def test_disbursement_beyond_the_sub_account_balance_is_rejected_am04(tmp_path: Path) -> None:
    engine = seeded_engine(tmp_path)
    _send(
        engine,
        Direction.DISBURSEMENT,
        [("E1", 2_000_000, SUB_B, CARD_ZHANG, "张三"), ("E2", 1_500_000, SUB_B, CARD_LI, "李四")],
    )
    result = _one_result(engine)
    assert [(r.status, r.reason_code) for r in result.results] == [
        (ResultStatus.SETTLED, None),
        (ResultStatus.REJECTED, "AM04"),
    ]
    assert result.group_status == "PART"
    assert engine.balance_fen(SUB_B) == 1_000_000


def test_collection_from_a_short_card_is_rejected_am04(tmp_path: Path) -> None:
    engine = seeded_engine(tmp_path)
    _send(engine, Direction.COLLECTION, [("C1", 80_000, SUB_A, CARD_LI, "李四")])
    (line,) = _one_result(engine).results
    assert (line.status, line.reason_code, line.settled_amount_fen) == (
        ResultStatus.REJECTED,
        "AM04",
        0,
    )
    assert engine.balance_fen(CARD_LI) == 50_000


def test_collection_from_a_short_card_debits_what_is_there_when_partial(tmp_path: Path) -> None:
    engine = seeded_engine(tmp_path, shortfall="partial")
    _send(engine, Direction.COLLECTION, [("C1", 80_000, SUB_A, CARD_LI, "李四")])
    (line,) = _one_result(engine).results
    assert (line.status, line.settled_amount_fen, line.requested_amount_fen) == (
        ResultStatus.PARTIALLY_SETTLED,
        50_000,
        80_000,
    )
    assert "部分扣款" in line.reason_text
    engine.end_of_day(DAY1)
    (entry,) = _lines(read_statement(engine, DAY1), "C1")
    assert (entry.credit_debit, entry.amount_fen) == (CreditDebit.CREDIT, 50_000)
    assert engine.balance_fen(CARD_LI) == 0


def test_injected_insufficient_funds_and_partial_debit(tmp_path: Path) -> None:
    engine = seeded_engine(
        tmp_path,
        scheduled=[
            {"kind": "insufficient_funds", "end_to_end_id": "C1"},
            {"kind": "partial_debit", "end_to_end_id": "C2", "amount_fen": 30_000},
        ],
    )
    engine.deposit(CARD_LI, 200_000, on=DAY1)
    _send(
        engine,
        Direction.COLLECTION,
        [("C1", 100_000, SUB_A, CARD_ZHANG, "张三"), ("C2", 100_000, SUB_B, CARD_LI, "李四")],
    )
    first, second = _one_result(engine).results
    assert (first.status, first.reason_code) == (ResultStatus.REJECTED, "AM04")
    assert (second.status, second.settled_amount_fen) == (ResultStatus.PARTIALLY_SETTLED, 30_000)
    faults = {f.kind: f for f in engine.injected_faults()}
    assert faults[FaultKind.PARTIAL_DEBIT].amount_fen == 70_000
    assert faults[FaultKind.INSUFFICIENT_FUNDS].reference == "C1"


def test_collection_settles_and_credits_the_sub_account(tmp_path: Path) -> None:
    engine = seeded_engine(tmp_path)
    _send(engine, Direction.COLLECTION, [("C1", 120_000, SUB_B, CARD_ZHANG, "张三")])
    (line,) = _one_result(engine).results
    assert line.status is ResultStatus.SETTLED
    engine.end_of_day(DAY1)
    (entry,) = _lines(read_statement(engine, DAY1), "C1")
    assert entry.credit_debit is CreditDebit.CREDIT
    assert entry.sub_account == SUB_B
    assert engine.balance_fen(SUB_B) == 3_120_000


@pytest.mark.parametrize(
    ("kind", "code", "channel", "sign"),
    [
        ("cash_withdrawal", "CAMT/CNTR/CWDL", Channel.CASH, -1),
        ("cash_deposit", "CAMT/CNTR/CDPT", Channel.CASH, 1),
        ("unexpected_credit", "PMNT/RCDT/ESCT", Channel.TRANSFER, 1),
    ],
)
def test_counter_and_unexpected_movements_appear_on_the_statement(
    tmp_path: Path, kind: str, code: str, channel: Channel, sign: int
) -> None:
    engine = seeded_engine(
        tmp_path,
        scheduled=[{"kind": kind, "date": DAY2, "sub_account": SUB_B, "amount_fen": 66_600}],
    )
    engine.end_of_day(DAY1)
    engine.end_of_day(DAY2)
    statement = read_statement(engine, DAY2)
    assert statement is not None
    (entry,) = statement.entries
    assert (entry.bank_transaction_code, entry.channel, entry.signed_amount_fen) == (
        code,
        channel,
        sign * 66_600,
    )
    assert entry.sub_account == SUB_B
    assert entry.end_to_end_id is None
    assert _sub(statement, SUB_B).closing_fen == 3_000_000 + sign * 66_600
    (fault,) = engine.injected_faults()
    assert (fault.kind.value, fault.date, fault.sub_account, fault.amount_fen) == (
        kind,
        DAY2,
        SUB_B,
        66_600,
    )
    assert fault.reference == entry.bank_transaction_id


def test_borrower_repaying_by_own_transfer_names_the_contract(tmp_path: Path) -> None:
    engine = seeded_engine(
        tmp_path,
        scheduled=[
            {
                "kind": "transfer_repayment",
                "date": DAY2,
                "sub_account": SUB_A,
                "card": CARD_ZHANG,
                "amount_fen": 150_000,
                "reference": "HT-2025-0007",
            }
        ],
    )
    engine.end_of_day(DAY1)
    engine.end_of_day(DAY2)
    statement = read_statement(engine, DAY2)
    assert statement is not None
    (entry,) = statement.entries
    assert entry.credit_debit is CreditDebit.CREDIT
    assert entry.amount_fen == 150_000
    assert (entry.counterparty_account, entry.counterparty_name) == (CARD_ZHANG, "张三")
    assert "HT-2025-0007" in entry.remittance
    assert engine.balance_fen(CARD_ZHANG) == 50_000


def test_duplicated_statement_line(tmp_path: Path) -> None:
    engine = seeded_engine(tmp_path, scheduled=[{"kind": "duplicate_line", "date": DAY1}])
    _send(engine, Direction.DISBURSEMENT, [("E1", 100_000, SUB_A, CARD_ZHANG, "张三")])
    engine.run_cutoff(DAY1)
    engine.end_of_day(DAY1)
    statement = read_statement(engine, DAY1)
    assert statement is not None
    ids = [e.bank_transaction_id for e in statement.entries]
    (fault,) = engine.injected_faults()
    assert fault.kind is FaultKind.DUPLICATE_LINE
    assert ids.count(fault.reference) == 2
    assert len(set(ids)) == len(ids) - 1
    # the balances are the bank's true ones: the extra line is what does not add up
    total = sum(e.signed_amount_fen for e in statement.entries)
    dup = next(e for e in statement.entries if e.bank_transaction_id == fault.reference)
    assert statement.opening_balance_fen is not None
    assert statement.opening_balance_fen + total - dup.signed_amount_fen == (
        statement.closing_balance_fen
    )


def test_booking_delayed_to_the_next_day(tmp_path: Path) -> None:
    engine = seeded_engine(tmp_path, scheduled=[{"kind": "delayed_booking", "end_to_end_id": "E1"}])
    _send(engine, Direction.DISBURSEMENT, [("E1", 100_000, SUB_A, CARD_ZHANG, "张三")])
    (line,) = _one_result(engine).results
    assert (line.status, line.booking_date) == (ResultStatus.SETTLED, DAY1)
    engine.end_of_day(DAY1)
    assert _lines(read_statement(engine, DAY1), "E1") == []
    engine.end_of_day(DAY2)
    statement2 = read_statement(engine, DAY2)
    (entry,) = _lines(statement2, "E1")
    assert (entry.booking_date, entry.value_date) == (DAY2, DAY1)
    assert statement2 is not None
    assert _sub(statement2, SUB_A).closing_fen == 4_900_000
    (fault,) = engine.injected_faults()
    assert (fault.kind, fault.reference, fault.amount_fen) == (
        FaultKind.DELAYED_BOOKING,
        "E1",
        100_000,
    )


def test_a_day_without_statement(tmp_path: Path) -> None:
    engine = seeded_engine(
        tmp_path,
        scheduled=[
            {"kind": "no_statement", "date": DAY2},
            {"kind": "cash_deposit", "date": DAY2, "sub_account": SUB_A, "amount_fen": 1_000},
        ],
    )
    engine.end_of_day(DAY1)
    made = engine.end_of_day(DAY2)
    engine.end_of_day(DAY3)
    assert read_statement(engine, DAY2) is None
    assert made[0].closing_balance_fen == 8_001_000  # built, kept, never delivered
    day1, day3 = read_statement(engine, DAY1), read_statement(engine, DAY3)
    assert day1 is not None
    assert day3 is not None
    assert day3.opening_balance_fen == 8_001_000 != day1.closing_balance_fen
    assert FaultKind.NO_STATEMENT in {f.kind for f in engine.injected_faults()}


def test_settled_payment_returned_days_later(tmp_path: Path) -> None:
    engine = seeded_engine(
        tmp_path, scheduled=[{"kind": "returned_payment", "end_to_end_id": "E1", "after_days": 2}]
    )
    _send(engine, Direction.DISBURSEMENT, [("E1", 400_000, SUB_A, CARD_WANG, "王五")])
    (line,) = _one_result(engine).results
    assert line.status is ResultStatus.SETTLED
    engine.end_of_day(DAY1)
    engine.end_of_day(DAY2)
    assert read_statement(engine, DAY2) is not None
    engine.end_of_day(DAY3)
    (entry,) = _lines(read_statement(engine, DAY3), "E1")
    assert entry.credit_debit is CreditDebit.CREDIT
    assert entry.amount_fen == 400_000
    assert entry.return_reason_code == "AC04"
    assert "退汇" in entry.remittance
    assert engine.balance_fen(SUB_A) == 5_000_000
    assert engine.card(CARD_WANG).status is CardStatus.CLOSED
    (fault,) = engine.injected_faults()
    assert (fault.kind, fault.date, fault.reference) == (FaultKind.RETURNED_PAYMENT, DAY3, "E1")


def test_a_malformed_file_is_refused_whole_with_a_notice(tmp_path: Path) -> None:
    engine = seeded_engine(tmp_path)
    submit(engine, "DF_bad.json", b'{"message_id": "X"')
    report = engine.run_cutoff(DAY1)
    assert report.refused_files == ("DF_bad.json",)
    assert report.result_files == ()
    notice = engine.institution_root("linyi") / "out" / "DF_bad.json.refused.txt"
    assert "文件格式错误" in notice.read_text(encoding="utf-8")
    assert engine.postings()[-1].remittance == ""  # only the opening deposits
    assert len(engine.postings()) == 2


def test_files_without_marker_or_still_parts_are_left_alone(tmp_path: Path) -> None:
    engine = seeded_engine(tmp_path)
    data = JSON.render_batch(
        batch(Direction.DISBURSEMENT, [("E1", 1_000, SUB_A, CARD_ZHANG, "张三")])
    )
    folder = engine.institution_root("linyi") / "in"
    (folder / "DF_001.json.part").write_bytes(data)
    (folder / "DF_002.json").write_bytes(data)
    assert engine.run_cutoff(DAY1).result_files == ()
    (folder / "DF_002.json.ok").write_bytes(b"")
    assert len(engine.run_cutoff(DAY1).result_files) == 1


def test_a_file_requested_for_a_later_day_waits_for_that_cutoff(tmp_path: Path) -> None:
    engine = seeded_engine(tmp_path)
    _send(engine, Direction.DISBURSEMENT, [("E1", 1_000, SUB_A, CARD_ZHANG, "张三")], on=DAY2)
    assert engine.run_cutoff(DAY1).result_files == ()
    engine.end_of_day(DAY1)
    (line,) = _one_result(engine, DAY2).results
    assert line.booking_date == DAY2


def test_a_closed_business_date_cannot_be_booked_again(tmp_path: Path) -> None:
    engine = seeded_engine(tmp_path)
    engine.end_of_day(DAY1)
    with pytest.raises(BusinessDateError, match="closed"):
        engine.run_cutoff(DAY1)
    with pytest.raises(BusinessDateError):
        engine.deposit(SUB_A, 100, on=DAY1)
    assert out_files(engine)  # the statement of DAY1 is there


def test_a_missing_or_wrong_statement_is_sent_again_on_request(tmp_path: Path) -> None:
    engine = seeded_engine(
        tmp_path,
        scheduled=[
            {"kind": "no_statement", "date": DAY2},
            {"kind": "cash_deposit", "date": DAY2, "sub_account": SUB_A, "amount_fen": 1_000},
            {"kind": "duplicate_line", "date": DAY3},
            {"kind": "unexpected_credit", "date": DAY3, "sub_account": SUB_B, "amount_fen": 500},
        ],
    )
    for day in (DAY1, DAY2, DAY3):
        engine.end_of_day(day)
    with pytest.raises(BusinessDateError, match="not closed"):
        engine.resend_statement("linyi", DAY3 + timedelta(days=1))
    name = engine.resend_statement("linyi", DAY2)
    assert name == f"STMT_94000100200300001_{DAY2:%Y%m%d}.txt"
    resent = read_statement(engine, DAY2)
    day1 = read_statement(engine, DAY1)
    assert resent is not None
    assert day1 is not None
    assert resent.opening_balance_fen == day1.closing_balance_fen == 8_000_000
    assert [e.amount_fen for e in resent.entries] == [1_000]
    assert resent.closing_balance_fen == 8_001_000

    again = engine.resend_statement("linyi", DAY3)
    assert again == f"STMT_94000100200300001_{DAY3:%Y%m%d}_2.txt"  # beside the faulty one
    fixed = JsonRecordsAdapter().parse_statements(
        (engine.institution_root("linyi") / "out" / again).read_bytes()
    )[0]
    faulty = read_statement(engine, DAY3)
    assert faulty is not None
    assert len(faulty.entries) == 2
    assert len(fixed.entries) == 1
    assert fixed.opening_balance_fen == 8_001_000
