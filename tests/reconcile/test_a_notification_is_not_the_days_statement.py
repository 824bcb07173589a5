"""A camt.054 notification is not a day's statement: a day with a camt.053 statement and a
notification for the same account is reconciled against the statement (its balances and
every line), whichever file came last; a day with only a notification has no statement."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from adapters.records import CreditDebit, StatementEntry
from gateway.ingestion.models import InboundFile, InboundStatus
from gateway.jobs.pipeline import run_date
from gateway.reconcile.models import ReconRun
from tests.settle_support import DAY1, Settle, settle_on_database, statement, use_iso20022

DAY2 = DAY1 + timedelta(days=1)
OPENING = 10_000_000


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def settle(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settle]:
    for built in settle_on_database(request, tmp_path):
        use_iso20022(built)
        yield built


def _entries(settle: Settle) -> list[StatementEntry]:
    """The day's lines: the two disbursements paid and a transfer in."""
    paid = [
        StatementEntry(
            booking_date=DAY1,
            amount_fen=i.amount_fen,
            credit_debit=CreditDebit.DEBIT,
            bank_transaction_id=f"T{n}",
            sub_account="6200001-1",
            counterparty_name="借款人",
            remittance="批量代发",
            end_to_end_id=i.end_to_end_id,
            bank_transaction_code="PMNT/ICDT/ESCT",
        )
        for n, i in enumerate(settle.instructions(), 1)
    ]
    transfer = StatementEntry(
        booking_date=DAY1,
        amount_fen=12_345,
        credit_debit=CreditDebit.CREDIT,
        bank_transaction_id="T3",
        sub_account="6200001-1",
        counterparty_name="张三",
        remittance="转账",
        bank_transaction_code="PMNT/RCDT/ESCT",
    )
    return [*paid, transfer]


def _notification_of(camt053: bytes, keep_last: int) -> bytes:
    """The camt.054 a bank sends during the day: the statement's last ``keep_last`` entries,
    no balances (the adapter writes camt.053 only)."""
    text = camt053.replace(b"camt.053.001.08", b"camt.054.001.08")
    text = text.replace(b"BkToCstmrStmt", b"BkToCstmrDbtCdtNtfctn")
    text = text.replace(b"<Stmt>", b"<Ntfctn>").replace(b"</Stmt>", b"</Ntfctn>")
    text = re.sub(rb"<Bal>.*?</Bal>\s*", b"", text, flags=re.S)
    entries = [m.start() for m in re.finditer(rb"<Ntry>", text)]
    return text[: entries[0]] + text[entries[-keep_last] :]


def test_the_day_is_reconciled_against_the_statement_not_the_later_notification(
    settle: Settle,
) -> None:
    settle.released_loan(400_000)
    settle.released_loan(300_000)
    run_date(settle.nightly, DAY1)
    settle.bank.answer(DAY1)
    day = statement(DAY1, _entries(settle), opening_fen=OPENING)
    camt053 = settle.profile.adapter.render_statement(day)
    settle.server.put("out/CAMT053_20240701.xml", camt053)
    # the notification is fetched after the statement: the newer file of the day
    settle.server.put("out/CAMT054_20240701.xml", _notification_of(camt053, keep_last=1))

    run_date(settle.nightly, DAY2)

    session = settle.fresh()
    files = session.scalars(select(InboundFile).order_by(InboundFile.id)).all()
    assert {f.status for f in files} == {InboundStatus.APPLIED}
    run = session.scalar(select(ReconRun).where(ReconRun.business_date == DAY1))
    assert run is not None
    assert run.has_statement
    assert (run.opening_fen, run.closing_fen) == (OPENING, day.closing_balance_fen)
    assert run.line_count == 3  # every line of the statement, not the notification's one
    assert run.matched_count == 2  # the two disbursements


def test_a_day_with_only_a_notification_has_no_statement(settle: Settle) -> None:
    settle.released_loan(400_000)
    run_date(settle.nightly, DAY1)
    settle.bank.answer(DAY1)
    day = statement(DAY1, _entries(settle), opening_fen=OPENING)
    camt053 = settle.profile.adapter.render_statement(day)
    settle.server.put("out/CAMT054_20240701.xml", _notification_of(camt053, keep_last=1))

    run_date(settle.nightly, DAY2)

    run = settle.fresh().scalar(select(ReconRun).where(ReconRun.business_date == DAY1))
    assert run is not None
    assert not run.has_statement
