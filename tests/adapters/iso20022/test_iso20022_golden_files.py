"""Golden files: each renderer's output for a fixed input, byte for byte.

Inputs are JSON in ``golden/`` (dates ISO, amounts in fen); the expected output sits beside
each as ``<input>.expected.xml``. After a deliberate change of output, run with
``HUZHU_REGENERATE_GOLDEN=1``: the expected files are rewritten and each test fails, so the
new output is reviewed in the diff before it is committed.
"""

from __future__ import annotations

import json
import os
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from adapters.iso20022 import Iso20022Adapter
from adapters.records import (
    Batch,
    Channel,
    CreditDebit,
    Direction,
    InstructionResult,
    PaymentInstruction,
    ResultFile,
    ResultStatus,
    Statement,
    StatementEntry,
    SubAccountBalance,
)

GOLDEN = Path(__file__).resolve().parent / "golden"
REGENERATE = os.environ.get("HUZHU_REGENERATE_GOLDEN") == "1"


def _day(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


def load_batch(name: str) -> Batch:
    raw: dict[str, Any] = json.loads((GOLDEN / name).read_text(encoding="utf-8"))
    items = tuple(
        PaymentInstruction(
            end_to_end_id=i["end_to_end_id"],
            amount_fen=i["amount_fen"],
            debtor_account=i["debtor_account"],
            debtor_name=i["debtor_name"],
            creditor_account=i["creditor_account"],
            creditor_name=i["creditor_name"],
            requested_date=date.fromisoformat(i["requested_date"]),
            remittance=i["remittance"],
            purpose=i["purpose"],
            mandate_id=i.get("mandate_id"),
            mandate_signed_on=_day(i.get("mandate_signed_on")),
        )
        for i in raw["instructions"]
    )
    return Batch(
        message_id=raw["message_id"],
        direction=Direction(raw["direction"]),
        special_account=raw["special_account"],
        special_account_name=raw["special_account_name"],
        created_at=datetime.fromisoformat(raw["created_at"]),
        requested_date=date.fromisoformat(raw["requested_date"]),
        instructions=items,
        bank_code=raw["bank_code"],
        initiator_name=raw["initiator_name"],
        creditor_scheme_id=raw.get("creditor_scheme_id"),
    )


def load_result(name: str) -> tuple[ResultFile, Batch]:
    raw: dict[str, Any] = json.loads((GOLDEN / name).read_text(encoding="utf-8"))
    result = ResultFile(
        message_id=raw["message_id"],
        original_message_id=raw["original_message_id"],
        created_at=datetime.fromisoformat(raw["created_at"]),
        group_status=raw["group_status"],
        group_reason_code=raw["group_reason_code"],
        results=tuple(
            InstructionResult(
                end_to_end_id=r["end_to_end_id"],
                status=ResultStatus(r["status"]),
                settled_amount_fen=r["settled_amount_fen"],
                requested_amount_fen=r["requested_amount_fen"],
                reason_code=r["reason_code"],
                reason_text=r["reason_text"],
                booking_date=_day(r["booking_date"]),
            )
            for r in raw["results"]
        ),
    )
    return result, load_batch(raw["batch"])


def load_statement(name: str) -> Statement:
    raw: dict[str, Any] = json.loads((GOLDEN / name).read_text(encoding="utf-8"))
    entries = tuple(
        StatementEntry(
            booking_date=date.fromisoformat(e["booking_date"]),
            amount_fen=e["amount_fen"],
            credit_debit=CreditDebit(e["credit_debit"]),
            bank_transaction_id=e.get("bank_transaction_id"),
            value_date=_day(e.get("value_date")),
            reversal=e.get("reversal", False),
            channel=Channel(e["channel"]),
            bank_transaction_code=e.get("bank_transaction_code", ""),
            counterparty_account=e.get("counterparty_account"),
            counterparty_name=e.get("counterparty_name"),
            end_to_end_id=e.get("end_to_end_id"),
            references=tuple((k, v) for k, v in e.get("references", [])),
            remittance=e.get("remittance", ""),
            sub_account=e.get("sub_account"),
            return_reason_code=e.get("return_reason_code"),
        )
        for e in raw["entries"]
    )
    return Statement(
        statement_id=raw["statement_id"],
        account=raw["account"],
        account_name=raw["account_name"],
        currency=raw["currency"],
        created_at=datetime.fromisoformat(raw["created_at"]),
        from_date=_day(raw["from_date"]),
        to_date=_day(raw["to_date"]),
        opening_balance_fen=raw["opening_balance_fen"],
        closing_balance_fen=raw["closing_balance_fen"],
        sub_account_balances=tuple(
            SubAccountBalance(s["sub_account"], s["opening_fen"], s["closing_fen"])
            for s in raw["sub_account_balances"]
        ),
        entries=entries,
    )


def _check(name: str, rendered: bytes) -> None:
    expected = GOLDEN / (Path(name).stem + ".expected.xml")
    if REGENERATE:
        expected.write_bytes(rendered)
        pytest.fail(f"regenerated {expected.name}: review the diff, then run without the flag")
    assert expected.exists(), f"{expected.name} is missing: run with HUZHU_REGENERATE_GOLDEN=1"
    assert rendered.decode("utf-8") == expected.read_text(encoding="utf-8")


@pytest.fixture
def adapter() -> Iso20022Adapter:
    return Iso20022Adapter()


def test_disbursement_golden(adapter: Iso20022Adapter) -> None:
    batch = load_batch("disbursement.json")
    rendered = adapter.render_disbursement(batch)
    _check("disbursement.json", rendered)
    assert adapter.parse_instructions(rendered) == batch


def test_collection_golden(adapter: Iso20022Adapter) -> None:
    batch = load_batch("collection.json")
    rendered = adapter.render_collection(batch)
    _check("collection.json", rendered)
    assert adapter.parse_instructions(rendered) == batch


def test_result_golden(adapter: Iso20022Adapter) -> None:
    result, batch = load_result("result.json")
    rendered = adapter.render_result(result, batch)
    _check("result.json", rendered)
    assert adapter.parse_result(rendered) == result


def test_statement_golden(adapter: Iso20022Adapter) -> None:
    statement = load_statement("statement.json")
    rendered = adapter.render_statement(statement)
    _check("statement.json", rendered)
    (parsed,) = adapter.parse_statements(rendered)
    assert parsed.entries == statement.entries
    assert parsed.sub_account_balances == statement.sub_account_balances
    assert (parsed.opening_balance_fen, parsed.closing_balance_fen) == (5_000_000, 5_049_801)
