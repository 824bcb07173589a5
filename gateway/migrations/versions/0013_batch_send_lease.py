"""A batch records the one run delivering it now and since when (its send lease), so that two
senders (two nights' steps, or a step and ``resend``) never write the same file at once.

Revision ID: 0013_batch_send_lease
Revises: 0012_idempotency_checks
Create Date: 2026-12-07 16:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_batch_send_lease"
down_revision: str | Sequence[str] | None = "0012_idempotency_checks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("payment_batches", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sending_owner", sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column("sending_since", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("payment_batches", schema=None) as batch_op:
        batch_op.drop_column("sending_since")
        batch_op.drop_column("sending_owner")
