"""Recorded association evaluations (grades), yearly member credit reviews, and the
liquidation workflow: liquidations, capital return accounts, payouts and write-off reviews.

Revision ID: 0004_reports_liquidation
Revises: 0003_payments
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_reports_liquidation"
down_revision: str | Sequence[str] | None = "0003_payments"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "association_evaluations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("association_id", sa.Integer(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=True),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column(
            "suggested_grade",
            sa.Enum("A", "B", "C", "D", name="associationgrade", native_enum=False, length=2),
            nullable=False,
        ),
        sa.Column("suggested_score", sa.Integer(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column(
            "self_grade",
            sa.Enum("A", "B", "C", "D", name="associationgrade", native_enum=False, length=2),
            nullable=True,
        ),
        sa.Column(
            "decided_grade",
            sa.Enum("A", "B", "C", "D", name="associationgrade", native_enum=False, length=2),
            nullable=False,
        ),
        sa.Column("method", sa.String(length=100), nullable=False),
        sa.Column("decided_by", sa.String(length=100), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.String(length=400), nullable=False),
        sa.ForeignKeyConstraint(
            ["association_id"],
            ["associations.id"],
            name=op.f("fk_association_evaluations_association_id_associations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_association_evaluations")),
        sa.UniqueConstraint(
            "association_id",
            "period_end",
            name=op.f("uq_association_evaluations_association_id_period_end"),
        ),
    )
    with op.batch_alter_table("association_evaluations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_association_evaluations_association_id"),
            ["association_id"],
            unique=False,
        )

    op.create_table(
        "liquidations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("association_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("open", "closed", name="liquidationstatus", native_enum=False, length=24),
            nullable=False,
        ),
        sa.Column("reason", sa.String(length=400), nullable=False),
        sa.Column("started_by", sa.String(length=100), nullable=False),
        sa.Column("started_on", sa.Date(), nullable=False),
        sa.Column("books_closed_on", sa.Date(), nullable=True),
        sa.Column("closed_on", sa.Date(), nullable=True),
        sa.Column("closed_by", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["association_id"],
            ["associations.id"],
            name=op.f("fk_liquidations_association_id_associations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_liquidations")),
        sa.UniqueConstraint("association_id", name=op.f("uq_liquidations_association_id")),
    )
    op.create_table(
        "liquidation_capital_accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("liquidation_id", sa.Integer(), nullable=False),
        sa.Column(
            "level",
            sa.Enum(
                "central_provincial",
                "municipal",
                "county",
                name="capitallevel",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("account_number", sa.String(length=40), nullable=False),
        sa.Column("account_name", sa.String(length=200), nullable=False),
        sa.Column("named_by", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["liquidation_id"],
            ["liquidations.id"],
            name=op.f("fk_liquidation_capital_accounts_liquidation_id_liquidations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_liquidation_capital_accounts")),
        sa.UniqueConstraint(
            "liquidation_id",
            "level",
            name=op.f("uq_liquidation_capital_accounts_liquidation_id_level"),
        ),
    )
    with op.batch_alter_table("liquidation_capital_accounts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_liquidation_capital_accounts_liquidation_id"),
            ["liquidation_id"],
            unique=False,
        )

    op.create_table(
        "liquidation_payouts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("liquidation_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "deposit_refund",
                "capital_return",
                "surplus_return",
                name="payoutkind",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column(
            "level",
            sa.Enum(
                "central_provincial",
                "municipal",
                "county",
                name="capitallevel",
                native_enum=False,
                length=24,
            ),
            nullable=True,
        ),
        sa.Column("payee_account", sa.String(length=40), nullable=True),
        sa.Column("payee_name", sa.String(length=200), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("end_to_end_id", sa.String(length=35), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "requested", "settled", "failed", name="payoutstatus", native_enum=False, length=24
            ),
            nullable=False,
        ),
        sa.Column("requested_on", sa.Date(), nullable=False),
        sa.Column("settled_on", sa.Date(), nullable=True),
        sa.Column("journal_transaction_id", sa.Uuid(), nullable=True),
        sa.Column("failure_reason", sa.String(length=400), nullable=True),
        sa.CheckConstraint("amount_fen > 0", name=op.f("ck_liquidation_payouts_amount_positive")),
        sa.ForeignKeyConstraint(
            ["liquidation_id"],
            ["liquidations.id"],
            name=op.f("fk_liquidation_payouts_liquidation_id_liquidations"),
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_liquidation_payouts_member_id_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_liquidation_payouts")),
        sa.UniqueConstraint("end_to_end_id", name=op.f("uq_liquidation_payouts_end_to_end_id")),
    )
    with op.batch_alter_table("liquidation_payouts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_liquidation_payouts_liquidation_id"), ["liquidation_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_liquidation_payouts_status"), ["status"], unique=False)

    op.create_table(
        "member_credit_reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("association_id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("from_grade", sa.String(length=8), nullable=False),
        sa.Column("to_grade", sa.String(length=8), nullable=False),
        sa.Column("limit_fen", sa.BigInteger(), nullable=False),
        sa.Column("on_time_loans", sa.Integer(), nullable=False),
        sa.Column("late_loans", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("reviewed_by", sa.String(length=100), nullable=False),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["association_id"],
            ["associations.id"],
            name=op.f("fk_member_credit_reviews_association_id_associations"),
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_member_credit_reviews_member_id_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_credit_reviews")),
        sa.UniqueConstraint(
            "member_id", "year", name=op.f("uq_member_credit_reviews_member_id_year")
        ),
    )
    with op.batch_alter_table("member_credit_reviews", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_member_credit_reviews_association_id"), ["association_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_member_credit_reviews_member_id"), ["member_id"], unique=False
        )

    op.create_table(
        "liquidation_write_offs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("liquidation_id", sa.Integer(), nullable=False),
        sa.Column("loan_id", sa.Integer(), nullable=False),
        sa.Column("outstanding_fen", sa.BigInteger(), nullable=False),
        sa.Column("listed_on", sa.Date(), nullable=False),
        sa.Column("listed_by", sa.String(length=100), nullable=False),
        sa.Column("reason", sa.String(length=400), nullable=False),
        sa.Column(
            "decision",
            sa.Enum(
                "pending",
                "approved",
                "rejected",
                name="writeoffdecision",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        sa.Column("decided_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["liquidation_id"],
            ["liquidations.id"],
            name=op.f("fk_liquidation_write_offs_liquidation_id_liquidations"),
        ),
        sa.ForeignKeyConstraint(
            ["loan_id"], ["loans.id"], name=op.f("fk_liquidation_write_offs_loan_id_loans")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_liquidation_write_offs")),
        sa.UniqueConstraint("loan_id", name=op.f("uq_liquidation_write_offs_loan_id")),
    )
    with op.batch_alter_table("liquidation_write_offs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_liquidation_write_offs_liquidation_id"), ["liquidation_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("liquidation_write_offs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_liquidation_write_offs_liquidation_id"))

    op.drop_table("liquidation_write_offs")
    with op.batch_alter_table("member_credit_reviews", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_member_credit_reviews_member_id"))
        batch_op.drop_index(batch_op.f("ix_member_credit_reviews_association_id"))

    op.drop_table("member_credit_reviews")
    with op.batch_alter_table("liquidation_payouts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_liquidation_payouts_status"))
        batch_op.drop_index(batch_op.f("ix_liquidation_payouts_liquidation_id"))

    op.drop_table("liquidation_payouts")
    with op.batch_alter_table("liquidation_capital_accounts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_liquidation_capital_accounts_liquidation_id"))

    op.drop_table("liquidation_capital_accounts")
    op.drop_table("liquidations")
    with op.batch_alter_table("association_evaluations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_association_evaluations_association_id"))

    op.drop_table("association_evaluations")
