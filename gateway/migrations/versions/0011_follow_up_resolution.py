"""A follow-up records who resolved it, when, and the note saying what was done.

Revision ID: 0011_follow_up_resolution
Revises: 0010_seen_bank_transactions
Create Date: 2026-11-22 05:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_follow_up_resolution"
down_revision: str | Sequence[str] | None = "0010_seen_bank_transactions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("payment_follow_ups", schema=None) as batch_op:
        batch_op.add_column(sa.Column("resolved_by", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("resolution_note", sa.String(length=600), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("payment_follow_ups", schema=None) as batch_op:
        batch_op.drop_column("resolution_note")
        batch_op.drop_column("resolved_at")
        batch_op.drop_column("resolved_by")
