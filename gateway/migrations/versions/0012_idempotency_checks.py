"""An idempotency record keeps the permission checks its request passed, passed again before a
replay; the records stored so far are dropped: they hold no checks, and those of unmask requests
hold clear card and resident-ID numbers.

Revision ID: 0012_idempotency_checks
Revises: 0011_follow_up_resolution
Create Date: 2026-11-23 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_idempotency_checks"
down_revision: str | Sequence[str] | None = "0011_follow_up_resolution"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A record answers a client's retry, sent within minutes; a retry sent across the upgrade
    # runs as a new request (a loan application already made is refused as a duplicate).
    op.execute("DELETE FROM idempotency_records")
    with op.batch_alter_table("idempotency_records", schema=None) as batch_op:
        batch_op.add_column(sa.Column("checks", sa.Text(), nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("idempotency_records", schema=None) as batch_op:
        batch_op.drop_column("checks")
