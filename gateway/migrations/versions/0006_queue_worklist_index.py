"""Queue work list: an index on ``queue_items (priority, id)`` so every page of the
priority-ordered list is an index range, whatever the queue's size.

Revision ID: 0006_queue_worklist_index
Revises: 0005_reconcile_queue
Create Date: 2026-11-22 00:31:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006_queue_worklist_index"
down_revision: str | Sequence[str] | None = "0005_reconcile_queue"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("queue_items", schema=None) as batch_op:
        batch_op.create_index("ix_queue_items_priority_id", ["priority", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("queue_items", schema=None) as batch_op:
        batch_op.drop_index("ix_queue_items_priority_id")
