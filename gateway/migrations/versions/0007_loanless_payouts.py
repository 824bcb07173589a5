"""Payment instructions that are not loans: a purpose (loan, deposit refund, capital return),
``loan_id`` and ``member_id`` optional, a payee account for capital returned to the county,
and each liquidation payout linked to the instruction that carries it.

Revision ID: 0007_loanless_payouts
Revises: 0006_queue_worklist_index
Create Date: 2026-11-22 01:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_loanless_payouts"
down_revision: str | Sequence[str] | None = "0006_queue_worklist_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("payment_instructions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "purpose",
                sa.Enum(
                    "loan",
                    "deposit_refund",
                    "capital_return",
                    name="paymentpurpose",
                    native_enum=False,
                    length=16,
                ),
                server_default="loan",
                nullable=False,
            )
        )
        batch_op.add_column(sa.Column("payee_account", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("payee_name", sa.String(length=200), nullable=True))
        batch_op.alter_column("loan_id", existing_type=sa.Integer(), nullable=True)
        batch_op.alter_column("member_id", existing_type=sa.Integer(), nullable=True)
        batch_op.create_check_constraint(
            op.f("ck_payment_instructions_loan_has_loan"),
            "purpose <> 'loan' OR loan_id IS NOT NULL",
        )
        batch_op.create_check_constraint(
            op.f("ck_payment_instructions_refund_has_member"),
            "purpose <> 'deposit_refund' OR member_id IS NOT NULL",
        )
        batch_op.create_check_constraint(
            op.f("ck_payment_instructions_has_payee"),
            "member_id IS NOT NULL OR (payee_account IS NOT NULL AND payee_name IS NOT NULL)",
        )
    with op.batch_alter_table("liquidation_payouts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("instruction_id", _ID, nullable=True))
        batch_op.create_unique_constraint(
            op.f("uq_liquidation_payouts_instruction_id"), ["instruction_id"]
        )
        batch_op.create_foreign_key(
            op.f("fk_liquidation_payouts_instruction_id_payment_instructions"),
            "payment_instructions",
            ["instruction_id"],
            ["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("liquidation_payouts", schema=None) as batch_op:
        batch_op.drop_constraint(
            op.f("fk_liquidation_payouts_instruction_id_payment_instructions"),
            type_="foreignkey",
        )
        batch_op.drop_constraint(op.f("uq_liquidation_payouts_instruction_id"), type_="unique")
        batch_op.drop_column("instruction_id")
    with op.batch_alter_table("payment_instructions", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_payment_instructions_has_payee"), type_="check")
        batch_op.drop_constraint(op.f("ck_payment_instructions_refund_has_member"), type_="check")
        batch_op.drop_constraint(op.f("ck_payment_instructions_loan_has_loan"), type_="check")
        batch_op.alter_column("member_id", existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column("loan_id", existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column("payee_name")
        batch_op.drop_column("payee_account")
        batch_op.drop_column("purpose")
