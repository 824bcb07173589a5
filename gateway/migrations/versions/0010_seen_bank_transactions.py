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
        sa.Column("special_account_id", sa.Integer(), nullable=False),
        sa.Column("bank_transaction_id", sa.String(length=120), nullable=False),
        sa.Column("line_id", sa.String(length=120), nullable=False),
        sa.Column("booking_date", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["special_account_id"],
            ["special_accounts.id"],
            name=op.f("fk_recon_seen_transactions_special_account_id_special_accounts"),
        ),
        sa.PrimaryKeyConstraint(
            "special_account_id", "bank_transaction_id", name=op.f("pk_recon_seen_transactions")
        ),
        sqlite_with_rowid=False,
    )
    # rows arrive night by night in booking-date order: a block-range index on PostgreSQL
    op.create_index(
        op.f("ix_recon_seen_transactions_booking_date"),
        "recon_seen_transactions",
        ["booking_date"],
        unique=False,
        postgresql_using="brin",
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_recon_seen_transactions_booking_date"), table_name="recon_seen_transactions"
    )
    op.drop_table("recon_seen_transactions")
