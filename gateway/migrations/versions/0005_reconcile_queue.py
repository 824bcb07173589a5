"""Reconciliation runs with their chained daily statements, open items carried to the next
night, manual matches, automatic postings; the mismatch queue and its history.

Revision ID: 0005_reconcile_queue
Revises: 0004_reports_liquidation
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_reconcile_queue"
down_revision: str | Sequence[str] | None = "0004_reports_liquidation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "recon_open_items",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("special_account_id", sa.Integer(), nullable=False),
        sa.Column("item_type", sa.String(length=8), nullable=False),
        sa.Column("item_id", sa.String(length=120), nullable=False),
        sa.Column("since", sa.Date(), nullable=False),
        sa.Column("line_json", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["special_account_id"],
            ["special_accounts.id"],
            name=op.f("fk_recon_open_items_special_account_id_special_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recon_open_items")),
        sa.UniqueConstraint(
            "special_account_id",
            "item_type",
            "item_id",
            name=op.f("uq_recon_open_items_special_account_id_item_type_item_id"),
        ),
    )
    with op.batch_alter_table("recon_open_items", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_recon_open_items_special_account_id"),
            ["special_account_id"],
            unique=False,
        )

    op.create_table(
        "recon_runs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("special_account_id", sa.Integer(), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("has_statement", sa.Boolean(), nullable=False),
        sa.Column("statement_id", sa.String(length=100), nullable=True),
        sa.Column("opening_fen", sa.BigInteger(), nullable=True),
        sa.Column("closing_fen", sa.BigInteger(), nullable=True),
        sa.Column("sub_closings_json", sa.Text(), nullable=False),
        sa.Column("line_count", sa.Integer(), nullable=False),
        sa.Column("entry_count", sa.Integer(), nullable=False),
        sa.Column("matched_count", sa.Integer(), nullable=False),
        sa.Column("exception_count", sa.Integer(), nullable=False),
        sa.Column("auto_posted_count", sa.Integer(), nullable=False),
        sa.Column("open_line_count", sa.Integer(), nullable=False),
        sa.Column("open_entry_count", sa.Integer(), nullable=False),
        sa.Column("previous_hash", sa.String(length=64), nullable=False),
        sa.Column("statement_hash", sa.String(length=64), nullable=False),
        sa.Column("statement_json", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["special_account_id"],
            ["special_accounts.id"],
            name=op.f("fk_recon_runs_special_account_id_special_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recon_runs")),
        sa.UniqueConstraint(
            "special_account_id",
            "business_date",
            name=op.f("uq_recon_runs_special_account_id_business_date"),
        ),
    )
    with op.batch_alter_table("recon_runs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_recon_runs_business_date"), ["business_date"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_recon_runs_special_account_id"), ["special_account_id"], unique=False
        )

    op.create_table(
        "queue_items",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("special_account_id", sa.Integer(), nullable=False),
        sa.Column("association_id", sa.Integer(), nullable=True),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("severity", sa.Integer(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "open",
                "awaiting_approval",
                "waiting_bank",
                "write_off_review",
                "resolved",
                "closed",
                name="itemstatus",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column(
            "night_state",
            sa.Enum(
                "new",
                "persisting",
                "reopened",
                "gone",
                name="nightstate",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("first_seen", sa.Date(), nullable=False),
        sa.Column("last_seen", sa.Date(), nullable=False),
        sa.Column("times_seen", sa.Integer(), nullable=False),
        sa.Column("sub_account", sa.String(length=40), nullable=True),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("line_ids_json", sa.Text(), nullable=False),
        sa.Column("entry_ids_json", sa.Text(), nullable=False),
        sa.Column("expected_fen", sa.BigInteger(), nullable=True),
        sa.Column("actual_fen", sa.BigInteger(), nullable=True),
        sa.Column("explanation", sa.String(length=600), nullable=False),
        sa.Column("assignee", sa.String(length=100), nullable=True),
        sa.Column(
            "resolution",
            sa.Enum(
                "manual_match",
                "adjusting_entry",
                "bank_error",
                "write_off",
                "reassign",
                "dismiss",
                "cleared",
                name="resolution",
                native_enum=False,
                length=24,
            ),
            nullable=True,
        ),
        sa.Column("resolution_note", sa.String(length=600), nullable=True),
        sa.Column("resolved_by", sa.String(length=100), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("approved_by", sa.String(length=100), nullable=True),
        sa.Column("proposal_json", sa.Text(), nullable=True),
        sa.Column("journal_transaction_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["association_id"],
            ["associations.id"],
            name=op.f("fk_queue_items_association_id_associations"),
        ),
        sa.ForeignKeyConstraint(
            ["special_account_id"],
            ["special_accounts.id"],
            name=op.f("fk_queue_items_special_account_id_special_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_queue_items")),
        sa.UniqueConstraint(
            "special_account_id",
            "fingerprint",
            name=op.f("uq_queue_items_special_account_id_fingerprint"),
        ),
    )
    with op.batch_alter_table("queue_items", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_queue_items_association_id"), ["association_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_queue_items_kind"), ["kind"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_queue_items_special_account_id"), ["special_account_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_queue_items_status"), ["status"], unique=False)

    op.create_table(
        "queue_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("item_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("note", sa.String(length=600), nullable=False),
        sa.Column("data_json", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"], ["queue_items.id"], name=op.f("fk_queue_events_item_id_queue_items")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_queue_events")),
    )
    with op.batch_alter_table("queue_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_queue_events_item_id"), ["item_id"], unique=False)

    op.create_table(
        "recon_manual_matches",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("special_account_id", sa.Integer(), nullable=False),
        sa.Column(
            "queue_item_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("line_ids_json", sa.Text(), nullable=False),
        sa.Column("entry_ids_json", sa.Text(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["queue_item_id"],
            ["queue_items.id"],
            name=op.f("fk_recon_manual_matches_queue_item_id_queue_items"),
        ),
        sa.ForeignKeyConstraint(
            ["special_account_id"],
            ["special_accounts.id"],
            name=op.f("fk_recon_manual_matches_special_account_id_special_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recon_manual_matches")),
    )
    with op.batch_alter_table("recon_manual_matches", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_recon_manual_matches_special_account_id"),
            ["special_account_id"],
            unique=False,
        )

    op.create_table(
        "recon_auto_postings",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("association_id", sa.Integer(), nullable=False),
        sa.Column("journal_transaction_id", sa.Uuid(), nullable=False),
        sa.Column(
            "schedule_line_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("principal_fen", sa.BigInteger(), nullable=False),
        sa.Column("fee_fen", sa.BigInteger(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("lines_json", sa.Text(), nullable=False),
        sa.Column("reason", sa.String(length=400), nullable=False),
        sa.Column("undone_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("undone_by", sa.String(length=100), nullable=True),
        sa.Column("undo_reason", sa.String(length=400), nullable=True),
        sa.Column("reversal_transaction_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["association_id"],
            ["associations.id"],
            name=op.f("fk_recon_auto_postings_association_id_associations"),
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["recon_runs.id"], name=op.f("fk_recon_auto_postings_run_id_recon_runs")
        ),
        sa.ForeignKeyConstraint(
            ["schedule_line_id"],
            ["repayment_schedule_lines.id"],
            name=op.f("fk_recon_auto_postings_schedule_line_id_repayment_schedule_lines"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recon_auto_postings")),
    )
    with op.batch_alter_table("recon_auto_postings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_recon_auto_postings_association_id"), ["association_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_recon_auto_postings_run_id"), ["run_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("recon_auto_postings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recon_auto_postings_run_id"))
        batch_op.drop_index(batch_op.f("ix_recon_auto_postings_association_id"))

    op.drop_table("recon_auto_postings")
    with op.batch_alter_table("recon_manual_matches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recon_manual_matches_special_account_id"))

    op.drop_table("recon_manual_matches")
    with op.batch_alter_table("queue_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_queue_events_item_id"))

    op.drop_table("queue_events")
    with op.batch_alter_table("queue_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_queue_items_status"))
        batch_op.drop_index(batch_op.f("ix_queue_items_special_account_id"))
        batch_op.drop_index(batch_op.f("ix_queue_items_kind"))
        batch_op.drop_index(batch_op.f("ix_queue_items_association_id"))

    op.drop_table("queue_items")
    with op.batch_alter_table("recon_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recon_runs_special_account_id"))
        batch_op.drop_index(batch_op.f("ix_recon_runs_business_date"))

    op.drop_table("recon_runs")
    with op.batch_alter_table("recon_open_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recon_open_items_special_account_id"))

    op.drop_table("recon_open_items")
