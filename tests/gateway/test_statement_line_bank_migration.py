"""Migration 0014 gives every statement line kept so far the bank of the file it came in, and
keeps lines once per (bank, account, key); going back keeps the earlier of two banks' lines
under one (account, key), as the old constraint demands. On SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from gateway.db import make_engine
from gateway.migrations import alembic_config, upgrade

REVISION = "0014_statement_line_bank"
BEFORE = "0013_batch_send_lease"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'migrate.db'}"
    found: str = request.getfixturevalue("postgres_database")
    return found


def _file(conn: sa.Connection, bank: str, name: str) -> int:
    files = sa.Table("inbound_files", sa.MetaData(), autoload_with=conn)
    row = conn.execute(
        files.insert()
        .values(
            bank_code=bank,
            name=name,
            remote_path=f"out/{name}",
            kind="statement",
            sha256="0" * 64,
            size=1,
            content=b"-",
            status="applied",
            summary_json="{}",
            business_date=date(2024, 7, 1),
            times_seen=1,
            received_at=datetime(2024, 7, 1, 20, 0),
        )
        .returning(files.c.id)
    ).scalar_one()
    return int(row)


def _line(conn: sa.Connection, file_id: int, amount_fen: int, **extra: object) -> None:
    lines = sa.Table("statement_lines", sa.MetaData(), autoload_with=conn)
    conn.execute(
        lines.insert().values(
            inbound_file_id=file_id,
            account="6200001",
            dedupe_key="txn:T1",
            booking_date=date(2024, 7, 1),
            amount_fen=amount_fen,
            credit=True,
            reversal=False,
            channel="transfer",
            bank_transaction_code="",
            remittance="",
            **extra,
        )
    )


def _lines(url: str) -> list[tuple[object, ...]]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            lines = sa.Table("statement_lines", sa.MetaData(), autoload_with=conn)
            columns = [lines.c.amount_fen]
            if "bank_code" in lines.c:
                columns.insert(0, lines.c.bank_code)
            return [tuple(r) for r in conn.execute(sa.select(*columns).order_by(lines.c.id))]
    finally:
        engine.dispose()


def test_0014_gives_each_line_its_files_bank_and_going_back_keeps_the_earlier(url: str) -> None:
    upgrade(url, BEFORE)
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            _line(conn, _file(conn, "tbank", "STMT_T.txt"), 50_000)
    finally:
        engine.dispose()

    upgrade(url, REVISION)
    assert _lines(url) == [("tbank", 50_000)]

    engine = make_engine(url)
    try:  # the same number and transaction id at another bank: now a line of its own
        with engine.begin() as conn:
            _line(conn, _file(conn, "obank", "STMT_O.txt"), 70_000, bank_code="obank")
    finally:
        engine.dispose()
    assert _lines(url) == [("tbank", 50_000), ("obank", 70_000)]

    command.downgrade(alembic_config(url), BEFORE)
    assert _lines(url) == [(50_000,)]
