"""Migration 0016 gives each queue item raised before it the bank lines of it still open, so
the item's page shows them once they close; going back drops what was kept. On SQLite."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import sqlalchemy as sa
from alembic import command

from gateway.migrations import alembic_config, upgrade

REVISION = "0016_queue_item_evidence"
BEFORE = "0015_job_run_heartbeat"
LINE = {"line_id": "S1:1", "amount_fen": 12_300, "credit": True, "counterparty_name": "张三"}


def test_0016_keeps_the_open_lines_of_each_item(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'migrate.db'}"
    upgrade(url, BEFORE)
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            meta = sa.MetaData()
            for table, row in (
                ("counties", {"id": 1, "code": "C", "name": "县", "fund_office_name": "办",
                              "fund_office_contact": "", "loan_cap_fen": 1, "notice_days": 1,
                              "county_approval_above_fen": 1, "guarantors_required": 3,
                              "cash_mode": "refuse", "created_at": datetime(2024, 1, 1)}),
                ("banks", {"id": 1, "code": "b", "name": "行"}),
                ("special_accounts", {"id": 1, "county_id": 1, "bank_id": 1, "level": "county",
                                      "account_number": "62", "name": "专户"}),
            ):  # fmt: skip
                conn.execute(sa.Table(table, meta, autoload_with=conn).insert().values(**row))
            opened = sa.Table("recon_open_items", meta, autoload_with=conn)
            items = sa.Table("queue_items", meta, autoload_with=conn)
            conn.execute(opened.insert().values(
                special_account_id=1, item_type="line", item_id="S1:1", since=date(2024, 6, 27),
                line_json=json.dumps(LINE, ensure_ascii=False)))  # fmt: skip
            for n, line_ids in ((1, ["S1:1"]), (2, ["S9:9"]), (3, [])):
                conn.execute(items.insert().values(
                    id=n, special_account_id=1, fingerprint=f"f{n}", kind="village_cash",
                    severity=3, priority=3, status="open", night_state="new",
                    first_seen=date(2024, 6, 27), last_seen=date(2024, 6, 27), times_seen=1,
                    subject="", line_ids_json=json.dumps(line_ids), entry_ids_json="[]",
                    explanation="", created_at=datetime(2024, 6, 27),
                    updated_at=datetime(2024, 6, 27)))  # fmt: skip
        upgrade(url, REVISION)
        with engine.connect() as conn:
            items = sa.Table("queue_items", sa.MetaData(), autoload_with=conn)
            kept = dict(conn.execute(sa.select(items.c.id, items.c.evidence_json)).all())
        assert json.loads(kept[1]) == {"S1:1": LINE}
        assert kept[2] is None  # its line had closed already: nothing to keep
        assert kept[3] is None
        command.downgrade(alembic_config(url), BEFORE)
        with engine.connect() as conn:
            items = sa.Table("queue_items", sa.MetaData(), autoload_with=conn)
            assert "evidence_json" not in items.c
    finally:
        engine.dispose()
