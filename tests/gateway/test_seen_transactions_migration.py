"""Migration 0010 adds the record of the bank transaction ids seen, and takes it away again, on
SQLite and on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from gateway.db import make_engine
from gateway.migrations import alembic_config, current_heads, upgrade

REVISION = "0010_seen_bank_transactions"
BEFORE = "0009_follow_up_kinds"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'migrate.db'}"
    url: str = request.getfixturevalue("postgres_database")
    return url


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_0010_adds_the_seen_transactions_table_and_takes_it_away(empty_url: str) -> None:
    upgrade(empty_url, REVISION)
    assert current_heads(empty_url) == (REVISION,)
    assert "recon_seen_transactions" in _tables(empty_url)
    command.downgrade(alembic_config(empty_url), BEFORE)
    assert "recon_seen_transactions" not in _tables(empty_url)
    assert "recon_runs" in _tables(empty_url)
