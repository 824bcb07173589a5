"""The statements a stored bank file holds, by account and the day each reports
(``inbound_statement_days``), so that the reconciler finds a day's statement by that day and
not by the night that fetched the file. Files applied before keep none: the reconciler reads
them as it did, within a fortnight of the night that fetched them.

Revision ID: 0017_statement_days
Revises: 0016_queue_item_evidence
Create Date: 2026-12-10 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_statement_days"
down_revision: str | Sequence[str] | None = "0016_queue_item_evidence"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "inbound_statement_days",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "inbound_file_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("bank_code", sa.String(length=32), nullable=False),
        sa.Column("account", sa.String(length=40), nullable=False),
        sa.Column("statement_date", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["inbound_file_id"],
            ["inbound_files.id"],
            name=op.f("fk_inbound_statement_days_inbound_file_id_inbound_files"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_statement_days")),
        sa.UniqueConstraint(
            "inbound_file_id",
            "account",
            "statement_date",
            "kind",
            name="uq_inbound_statement_days",
        ),
    )
    op.create_index(
        "ix_inbound_statement_days_day",
        "inbound_statement_days",
        ["bank_code", "account", "statement_date"],
        unique=False,
    )
    op.create_index(
        op.f("ix_inbound_statement_days_inbound_file_id"),
        "inbound_statement_days",
        ["inbound_file_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_inbound_statement_days_inbound_file_id"), table_name="inbound_statement_days"
    )
    op.drop_index("ix_inbound_statement_days_day", table_name="inbound_statement_days")
    op.drop_table("inbound_statement_days")
