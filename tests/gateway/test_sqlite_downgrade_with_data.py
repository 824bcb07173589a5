"""Going back on SQLite works on a database with real data: a table other rows refer to
(``payment_batches``, ``queue_items``) is copied and swapped without the foreign keys refusing
the swap, every row stays, and going forward again reaches the head."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from gateway.jobs.pipeline import run_date
from gateway.migrations import alembic_config, current_heads, head_revisions, upgrade
from tests.settle_support import DAY1, Settle, settle_in

TABLES = (
    "payment_batches",
    "payment_instructions",
    "inbound_files",
    "queue_items",
    "queue_events",
    "statement_lines",
    "job_runs",
)


@pytest.fixture
def settle(tmp_path: Path) -> Iterator[Settle]:
    yield from settle_in(tmp_path)


def _counts(url: str) -> dict[str, int]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return {
                table: int(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())
                for table in TABLES
            }
    finally:
        engine.dispose()


def test_going_back_to_0012_and_forward_again_keeps_every_row(settle: Settle) -> None:
    # two nights: a batch sent and answered, and the reconciler's queue items with their events
    settle.released_loan(300_000)
    run_date(settle.nightly, DAY1)
    settle.bank.answer(DAY1 + timedelta(days=1))
    run_date(settle.nightly, DAY1 + timedelta(days=1))
    url = settle.engine.url.render_as_string(hide_password=False)
    before = _counts(url)
    assert all(before[t] > 0 for t in ("payment_batches", "payment_instructions", "queue_events"))
    settle.close()

    command.downgrade(alembic_config(url), "0012_idempotency_checks")
    assert current_heads(url) == ("0012_idempotency_checks",)
    assert _counts(url) == before

    upgrade(url)
    assert current_heads(url) == head_revisions()
    assert _counts(url) == before
