"""A step's run renews its lease while it works: ``job_runs.heartbeat_at`` is when the run
last said it was alive. A run is taken over only once neither its start nor its last heartbeat
is within the lease, so a step that takes longer than the lease is no longer run twice.

Revision ID: 0015_job_run_heartbeat
Revises: 0014_statement_line_bank
Create Date: 2026-12-08 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_job_run_heartbeat"
down_revision: str | Sequence[str] | None = "0014_statement_line_bank"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("job_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("job_runs", schema=None) as batch_op:
        batch_op.drop_column("heartbeat_at")
