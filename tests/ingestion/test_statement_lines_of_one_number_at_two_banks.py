"""An account number is unique only at its bank: a line on another bank's account of the same
number, under the same bank transaction id, is that account's own line, kept and applied, not
taken for a copy of ours. A copy within one bank is still kept once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.records import CreditDebit, StatementEntry
from gateway.ingestion.models import InboundFile, InboundKind, InboundStatus, StatementLine
from gateway.ingestion.service import apply_statement_file
from gateway.org import service as org
from tests.settle_support import BANK, DAY1, Settle, settle_in, statement


@pytest.fixture
def settle(tmp_path: Path) -> Iterator[Settle]:
    yield from settle_in(tmp_path)


def _apply(session: Session, bank: str, name: str, amount_fen: int) -> dict[str, int]:
    file = InboundFile(
        bank_code=bank,
        name=name,
        remote_path=f"out/{name}",
        kind=InboundKind.STATEMENT,
        sha256=f"{abs(hash((bank, name))):064d}"[:64],
        size=1,
        content=b"-",
        status=InboundStatus.RECEIVED,
        business_date=DAY1,
    )
    session.add(file)
    session.flush()
    entry = StatementEntry(
        booking_date=DAY1,
        amount_fen=amount_fen,
        credit_debit=CreditDebit.CREDIT,
        bank_transaction_id="T1",
        counterparty_name="张三",
        remittance="转账",
    )
    return apply_statement_file(session, file, (statement(DAY1, [entry]),), business_date=DAY1)


def test_the_same_transaction_id_on_the_same_number_at_another_bank_is_kept(
    settle: Settle,
) -> None:
    session = settle.session
    other_bank = org.get_or_create_bank(session, code="obank", name="邻县农商行")
    org.create_special_account(
        session, settle.world.county, other_bank, account_number="6200001", name="同号专户"
    )

    assert _apply(session, BANK, "STMT_T_20240701.txt", 50_000) == {"new_lines": 1}
    assert _apply(session, "obank", "STMT_O_20240701.txt", 70_000) == {"new_lines": 1}
    # the same bank's own copy of its line is still a copy
    assert _apply(session, "obank", "STMT_O_20240701_again.txt", 70_000) == {"duplicate_lines": 1}
    session.commit()

    lines = settle.fresh().execute(
        select(StatementLine.bank_code, StatementLine.account, StatementLine.amount_fen).order_by(
            StatementLine.id
        )
    )
    assert [tuple(row) for row in lines] == [
        (BANK, "6200001", 50_000),
        ("obank", "6200001", 70_000),
    ]
