"""The sandbox bank speaking a real format: the cn_text adapter with the rcb_pipe layout.

The institution side renders the batches and parses what the bank sends back, exactly as
production will, so these files are what a rural commercial bank would exchange.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from adapters.base import Adapter
from adapters.records import Channel, CreditDebit, Direction, ResultStatus
from adapters.registry import load_adapter
from adapters.sandbox import BankEngine, CardStatus
from adapters.sandbox.config import parse_config
from tests.adapters.sandbox.sandbox_support import (
    CARD_LI,
    CARD_WANG,
    CARD_ZHANG,
    DAY1,
    INSTITUTION,
    SUB_A,
    SUB_B,
    batch,
    seeded_engine,
    submit,
)

REPO = Path(__file__).resolve().parents[3]
BANKS = REPO / "config" / "banks"
OPTIONS = {"layout": "layouts/rcb_pipe.toml"}
DAY2 = DAY1 + timedelta(days=1)


def _cn_text() -> Adapter:
    return load_adapter("cn_text", OPTIONS, config_dir=BANKS)


def _engine(tmp_path: Path, **kwargs: object) -> tuple[BankEngine, Adapter]:
    adapter = _cn_text()
    engine = seeded_engine(tmp_path, adapter, **kwargs)
    return engine, adapter


def _out(engine: BankEngine, name: str) -> bytes:
    return (engine.institution_root(INSTITUTION) / "out" / name).read_bytes()


def test_engine_from_config_loads_cn_text_through_the_registry(tmp_path: Path) -> None:
    from tests.adapters.sandbox.sandbox_support import raw_config

    raw = raw_config(tmp_path, adapter="cn_text", adapter_options=OPTIONS)
    config = parse_config(raw, config_dir=BANKS)
    engine = BankEngine.from_config(config)
    engine.open_sub_account(INSTITUTION, SUB_A, "东庄村扶贫互助协会", on=DAY1, initial_fen=100)
    engine.end_of_day(DAY1)
    (statement,) = _cn_text().parse_statements(
        _out(engine, f"STMT_94000100200300001_{DAY1:%Y%m%d}.txt")
    )
    assert statement.closing_balance_fen == 100


def test_a_day_in_rcb_pipe_files(tmp_path: Path) -> None:
    engine, adapter = _engine(
        tmp_path,
        shortfall="partial",
        scheduled=[
            {"kind": "cash_withdrawal", "date": DAY1, "sub_account": SUB_B, "amount_fen": 20_000}
        ],
    )
    engine.set_card_status(CARD_WANG, CardStatus.CLOSED)
    disbursement = batch(
        Direction.DISBURSEMENT,
        [("E1", 1_000_000, SUB_A, CARD_ZHANG, "张三"), ("E2", 500_000, SUB_A, CARD_WANG, "王五")],
        message_id="DF20250303001",
    )
    collection = batch(
        Direction.COLLECTION,
        [("C1", 80_000, SUB_B, CARD_LI, "李四")],
        message_id="DK20250303001",
    )
    submit(engine, "DF_DF20250303001.txt", adapter.render_batch(disbursement))
    submit(engine, "DK_DK20250303001.txt", adapter.render_batch(collection), marker=".ok")
    report = engine.run_cutoff(DAY1)
    assert len(report.result_files) == 2
    results = {}
    for name in report.result_files:
        parsed = adapter.parse_result(_out(engine, name))
        results.update({r.end_to_end_id: r for r in parsed.results})
    assert (results["E1"].status, results["E1"].settled_amount_fen) == (
        ResultStatus.SETTLED,
        1_000_000,
    )
    assert (results["E2"].status, results["E2"].reason_code) == (ResultStatus.REJECTED, "AC04")
    assert "已销户" in results["E2"].reason_text
    assert (results["C1"].status, results["C1"].settled_amount_fen) == (
        ResultStatus.PARTIALLY_SETTLED,
        50_000,
    )

    engine.end_of_day(DAY1)
    (statement,) = adapter.parse_statements(
        _out(engine, f"STMT_94000100200300001_{DAY1:%Y%m%d}.txt")
    )
    by_ref = {e.end_to_end_id: e for e in statement.entries if e.end_to_end_id}
    assert by_ref["E1"].credit_debit is CreditDebit.DEBIT
    assert (by_ref["E1"].counterparty_account, by_ref["E1"].counterparty_name) == (
        CARD_ZHANG,
        "张三",
    )
    assert by_ref["C1"].amount_fen == 50_000
    assert "E2" not in by_ref
    (cash,) = [e for e in statement.entries if e.channel is Channel.CASH]
    assert (cash.credit_debit, cash.amount_fen, cash.sub_account) == (
        CreditDebit.DEBIT,
        20_000,
        SUB_B,
    )
    for sub in statement.sub_account_balances:
        moved = sum(
            e.signed_amount_fen for e in statement.entries if e.sub_account == sub.sub_account
        )
        assert sub.opening_fen + moved == sub.closing_fen
    closing = {s.sub_account: s.closing_fen for s in statement.sub_account_balances}
    assert closing == {SUB_A: 4_000_000, SUB_B: 3_030_000}
    assert statement.closing_balance_fen == 7_030_000


def test_duplicate_file_in_rcb_pipe_is_answered_am05(tmp_path: Path) -> None:
    engine, adapter = _engine(tmp_path)
    data = adapter.render_batch(
        batch(
            Direction.DISBURSEMENT,
            [("E1", 10_000, SUB_A, CARD_ZHANG, "张三")],
            message_id="DF20250303001",
        )
    )
    submit(engine, "DF_DF20250303001.txt", data)
    engine.run_cutoff(DAY1)
    submit(engine, "DF_DF20250303001_again.txt", data)
    report = engine.run_cutoff(DAY1)
    assert report.duplicate_files == ("DF_DF20250303001_again.txt",)
    (line,) = adapter.parse_result(_out(engine, report.result_files[0])).results
    assert (line.status, line.reason_code) == (ResultStatus.REJECTED, "AM05")
    assert engine.balance_fen(SUB_A) == 4_990_000
