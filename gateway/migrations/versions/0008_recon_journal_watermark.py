"""The journal watermark of a reconciliation run: the highest journal leg id the run read, so
the next night offers exactly the entries posted after it.

Revision ID: 0008_recon_journal_watermark
Revises: 0007_loanless_payouts
Create Date: 2026-11-22 01:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_recon_journal_watermark"
down_revision: str | Sequence[str] | None = "0007_loanless_payouts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("recon_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("journal_watermark", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("recon_runs", schema=None) as batch_op:
        batch_op.drop_column("journal_watermark")
