"""The columnar form of the inputs: the engine works on Polars frames of these schemas.

A caller with a million lines builds the frames directly (from a statement file or a query);
``lines_frame`` and ``entries_frame`` build them from dataclasses for everything smaller.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from adapters.records import CreditDebit
from reconciliation.model import BankLine, BookEntry

LINE_SCHEMA: dict[str, pl.DataType] = {
    "line_id": pl.String(),
    "special_account": pl.String(),
    "sub_account": pl.String(),
    "booking_date": pl.Date(),
    "credit": pl.Boolean(),  # money into the special account
    "amount_fen": pl.Int64(),
    "value_date": pl.Date(),
    "bank_transaction_id": pl.String(),
    "end_to_end_id": pl.String(),
    "remittance": pl.String(),
    "counterparty_account": pl.String(),
    "counterparty_name": pl.String(),
    "channel": pl.String(),  # adapters.records.Channel values
    "bank_transaction_code": pl.String(),
    "reversal": pl.Boolean(),
    "return_reason_code": pl.String(),
    "occurrence": pl.Int64(),
}

ENTRY_SCHEMA: dict[str, pl.DataType] = {
    "entry_id": pl.String(),
    "association_id": pl.String(),
    "sub_account": pl.String(),
    "business_date": pl.Date(),
    "credit": pl.Boolean(),
    "amount_fen": pl.Int64(),
    "kind": pl.String(),  # BookKind values
    "end_to_end_id": pl.String(),
    "contract_number": pl.String(),
    "member_card": pl.String(),
    "card_is_member": pl.Boolean(),
    "borrower_id": pl.String(),
    "channel": pl.String(),
    "status": pl.String(),  # BookStatus values
    "first_expected": pl.Date(),
}


def lines_frame(lines: Sequence[BankLine]) -> pl.DataFrame:
    rows = [
        (
            x.line_id,
            x.special_account,
            x.sub_account,
            x.booking_date,
            x.credit_debit is CreditDebit.CREDIT,
            x.amount_fen,
            x.value_date,
            x.bank_transaction_id,
            x.end_to_end_id,
            x.remittance,
            x.counterparty_account,
            x.counterparty_name,
            x.channel.value,
            x.bank_transaction_code,
            x.reversal,
            x.return_reason_code,
            x.occurrence,
        )
        for x in lines
    ]
    return pl.DataFrame(rows, schema=LINE_SCHEMA, orient="row")


def entries_frame(entries: Sequence[BookEntry]) -> pl.DataFrame:
    rows = [
        (
            x.entry_id,
            x.association_id,
            x.sub_account,
            x.business_date,
            x.credit_debit is CreditDebit.CREDIT,
            x.amount_fen,
            x.kind.value,
            x.end_to_end_id,
            x.contract_number,
            x.member_card,
            x.card_is_member,
            x.borrower_id,
            x.channel.value,
            x.status.value,
            x.first_expected,
        )
        for x in entries
    ]
    return pl.DataFrame(rows, schema=ENTRY_SCHEMA, orient="row")


def check_schema(frame: pl.DataFrame, schema: dict[str, pl.DataType], what: str) -> pl.DataFrame:
    """Select the schema's columns in order, refusing a frame that lacks one or types it wrongly."""
    missing = [name for name in schema if name not in frame.columns]
    if missing:
        raise ValueError(f"{what} frame lacks columns: {', '.join(missing)}")
    wrong = [
        f"{name} is {frame.schema[name]}, expected {dtype}"
        for name, dtype in schema.items()
        if frame.schema[name] != dtype and frame.schema[name] != pl.Null
    ]
    if wrong:
        raise ValueError(f"{what} frame has wrong column types: {'; '.join(wrong)}")
    return frame.select(pl.col(name).cast(dtype) for name, dtype in schema.items())
