"""A queue item keeps the bank lines it is about (``evidence_json``: line id -> the line as
the run saw it), so its page still shows them once they are matched, dismissed or written
off and no longer open. Items raised before keep what is still open of their lines.

Revision ID: 0016_queue_item_evidence
Revises: 0015_job_run_heartbeat
Create Date: 2026-12-08 10:00:00
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_queue_item_evidence"
down_revision: str | Sequence[str] | None = "0015_job_run_heartbeat"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("queue_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("evidence_json", sa.Text(), nullable=True))
    bind = op.get_bind()
    items = sa.table(
        "queue_items",
        sa.column("id", sa.BigInteger),
        sa.column("special_account_id", sa.BigInteger),
        sa.column("line_ids_json", sa.Text),
        sa.column("evidence_json", sa.Text),
    )
    open_items = sa.table(
        "recon_open_items",
        sa.column("special_account_id", sa.BigInteger),
        sa.column("item_type", sa.String),
        sa.column("item_id", sa.String),
        sa.column("line_json", sa.Text),
    )
    open_lines: dict[tuple[int, str], str] = {
        (int(account), str(line_id)): text
        for account, line_id, text in bind.execute(
            sa.select(
                open_items.c.special_account_id, open_items.c.item_id, open_items.c.line_json
            ).where(open_items.c.item_type == "line", open_items.c.line_json.is_not(None))
        )
    }
    if not open_lines:
        return
    for item_id, account, line_ids in bind.execute(
        sa.select(items.c.id, items.c.special_account_id, items.c.line_ids_json).where(
            items.c.line_ids_json != "[]"
        )
    ).all():
        kept = {
            line_id: json.loads(open_lines[(int(account), line_id)])
            for line_id in json.loads(line_ids or "[]")
            if (int(account), line_id) in open_lines
        }
        if kept:
            bind.execute(
                items.update()
                .where(items.c.id == item_id)
                .values(evidence_json=json.dumps(kept, ensure_ascii=False, sort_keys=True))
            )


def downgrade() -> None:
    with op.batch_alter_table("queue_items", schema=None) as batch_op:
        batch_op.drop_column("evidence_json")
