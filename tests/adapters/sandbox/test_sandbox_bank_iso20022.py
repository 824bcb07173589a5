"""The sandbox bank speaking ISO 20022: pain.001/pain.008 in, pain.002 and camt.053 out."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from adapters.records import Channel, CreditDebit, Direction, ResultStatus
from adapters.registry import load_adapter
from adapters.sandbox import BankEngine
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

DAY2 = DAY1 + timedelta(days=1)


def _out(engine: BankEngine, name: str) -> bytes:
    return (engine.institution_root(INSTITUTION) / "out" / name).read_bytes()


def test_a_day_in_iso20022_files(tmp_path: Path) -> None:
    adapter = load_adapter("iso20022", {"name": "iso20022"}, config_dir=tmp_path)
    engine = seeded_engine(
        tmp_path,
        adapter,
        scheduled=[
            {"kind": "returned_payment", "end_to_end_id": "E1", "after_days": 1},
            {"kind": "cash_deposit", "date": DAY2, "sub_account": SUB_B, "amount_fen": 8_800},
        ],
    )
    disbursement = batch(
        Direction.DISBURSEMENT,
        [("E1", 1_500_000, SUB_A, CARD_WANG, "王五"), ("E2", 9_000_000, SUB_A, CARD_LI, "李四")],
        message_id="PAIN001-20250303-1",
    )
    collection = batch(
        Direction.COLLECTION, [("C1", 120_000, SUB_B, CARD_ZHANG, "张三")], message_id="PAIN008-1"
    )
    submit(engine, "pain001_1.xml", adapter.render_batch(disbursement))
    submit(engine, "pain008_1.xml", adapter.render_batch(collection))
    report = engine.run_cutoff(DAY1)
    outcome = {}
    for name in report.result_files:
        result = adapter.parse_result(_out(engine, name))
        outcome.update({r.end_to_end_id: (r.status, r.reason_code) for r in result.results})
    assert outcome == {
        "E1": (ResultStatus.SETTLED, None),
        "E2": (ResultStatus.REJECTED, "AM04"),
        "C1": (ResultStatus.SETTLED, None),
    }
    engine.end_of_day(DAY1)
    engine.end_of_day(DAY2)
    (day2,) = adapter.parse_statements(_out(engine, f"STMT_94000100200300001_{DAY2:%Y%m%d}.txt"))
    returned = next(e for e in day2.entries if e.end_to_end_id == "E1")
    assert returned.credit_debit is CreditDebit.CREDIT
    assert returned.amount_fen == 1_500_000
    assert returned.return_reason_code == "AC04"
    cash = next(e for e in day2.entries if e.channel is Channel.CASH)
    assert (cash.amount_fen, cash.credit_debit) == (8_800, CreditDebit.CREDIT)
    assert day2.opening_balance_fen is not None
    total = sum(e.signed_amount_fen for e in day2.entries)
    assert day2.opening_balance_fen + total == day2.closing_balance_fen == 8_128_800
