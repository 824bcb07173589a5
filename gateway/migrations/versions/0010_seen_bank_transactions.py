"""The bank transaction ids the statements of a special account have shown, so that a later
statement repeating one is reported as a duplicate.

Revision ID: 0010_seen_bank_transactions
Revises: 0009_follow_up_kinds
Create Date: 2026-11-22 05:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_seen_bank_transactions"
down_revision: str | Sequence[str] | None = "0009_follow_up_kinds"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "recon_seen_transactions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("special_account_id", sa.Integer(), nullable=False),
        sa.Column("bank_transaction_id", sa.String(length=120), nullable=False),
        sa.Column("line_id", sa.String(length=120), nullable=False),
        sa.Column("booking_date", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["special_account_id"],
            ["special_accounts.id"],
            name=op.f("fk_recon_seen_transactions_special_account_id_special_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recon_seen_transactions")),
        sa.UniqueConstraint(
            "special_account_id",
            "bank_transaction_id",
            name=op.f("uq_recon_seen_transactions_special_account_id_bank_transaction_id"),
        ),
    )
    with op.batch_alter_table("recon_seen_transactions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_recon_seen_transactions_booking_date"), ["booking_date"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("recon_seen_transactions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recon_seen_transactions_booking_date"))
    op.drop_table("recon_seen_transactions")
