"""Payment instructions and their transitions, repayment schedules, follow-up items,
payment batches with their stored bytes, inbound files and statement lines, nightly job runs.

Revision ID: 0003_payments
Revises: 0002_api_auth
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_payments"
down_revision: str | Sequence[str] | None = "0002_api_auth"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "job_runs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("step", sa.String(length=40), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("partition", sa.String(length=40), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "running", "succeeded", "failed", name="runstatus", native_enum=False, length=24
            ),
            nullable=False,
        ),
        sa.Column("owner", sa.String(length=120), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_runs")),
        sa.UniqueConstraint(
            "step",
            "business_date",
            "partition",
            name=op.f("uq_job_runs_step_business_date_partition"),
        ),
    )
    with op.batch_alter_table("job_runs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_job_runs_business_date"), ["business_date"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_job_runs_status"), ["status"], unique=False)

    op.create_table(
        "payment_batches",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("bank_code", sa.String(length=32), nullable=False),
        sa.Column("special_account_id", sa.Integer(), nullable=False),
        sa.Column(
            "direction",
            sa.Enum("disbursement", "collection", name="direction", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(length=35), nullable=False),
        sa.Column("file_name", sa.String(length=120), nullable=False),
        sa.Column(
            "status",
            sa.Enum("stored", "sent", "answered", name="batchstatus", native_enum=False, length=24),
            nullable=False,
        ),
        sa.Column("line_count", sa.Integer(), nullable=False),
        sa.Column("total_fen", sa.BigInteger(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("sidecars_json", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivery_attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=1000), nullable=True),
        sa.ForeignKeyConstraint(
            ["special_account_id"],
            ["special_accounts.id"],
            name=op.f("fk_payment_batches_special_account_id_special_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_batches")),
        sa.UniqueConstraint(
            "bank_code",
            "business_date",
            "direction",
            "sequence",
            name=op.f("uq_payment_batches_bank_code_business_date_direction_sequence"),
        ),
        sa.UniqueConstraint(
            "bank_code", "file_name", name=op.f("uq_payment_batches_bank_code_file_name")
        ),
        sa.UniqueConstraint("message_id", name=op.f("uq_payment_batches_message_id")),
    )
    with op.batch_alter_table("payment_batches", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_payment_batches_bank_code"), ["bank_code"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_payment_batches_business_date"), ["business_date"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_payment_batches_status"), ["status"], unique=False)

    op.create_table(
        "inbound_files",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("bank_code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("remote_path", sa.String(length=400), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("result", "statement", name="inboundkind", native_enum=False, length=24),
            nullable=False,
        ),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "received",
                "applied",
                "quarantined",
                name="inboundstatus",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("reason", sa.String(length=1000), nullable=True),
        sa.Column("summary_json", sa.Text(), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("batch_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("times_seen", sa.Integer(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["payment_batches.id"],
            name=op.f("fk_inbound_files_batch_id_payment_batches"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_files")),
        sa.UniqueConstraint("bank_code", "sha256", name=op.f("uq_inbound_files_bank_code_sha256")),
    )
    with op.batch_alter_table("inbound_files", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_inbound_files_bank_code"), ["bank_code"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_inbound_files_business_date"), ["business_date"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_inbound_files_status"), ["status"], unique=False)

    op.create_table(
        "statement_lines",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "inbound_file_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("account", sa.String(length=40), nullable=False),
        sa.Column("sub_account", sa.String(length=40), nullable=True),
        sa.Column("dedupe_key", sa.String(length=100), nullable=False),
        sa.Column("booking_date", sa.Date(), nullable=False),
        sa.Column("value_date", sa.Date(), nullable=True),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("credit", sa.Boolean(), nullable=False),
        sa.Column("reversal", sa.Boolean(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("bank_transaction_id", sa.String(length=100), nullable=True),
        sa.Column("bank_transaction_code", sa.String(length=60), nullable=False),
        sa.Column("end_to_end_id", sa.String(length=35), nullable=True),
        sa.Column("counterparty_account", sa.String(length=60), nullable=True),
        sa.Column("counterparty_name", sa.String(length=200), nullable=True),
        sa.Column("remittance", sa.String(length=400), nullable=False),
        sa.Column("return_reason_code", sa.String(length=16), nullable=True),
        sa.Column("balance_after_fen", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["inbound_file_id"],
            ["inbound_files.id"],
            name=op.f("fk_statement_lines_inbound_file_id_inbound_files"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_statement_lines")),
        sa.UniqueConstraint(
            "account", "dedupe_key", name=op.f("uq_statement_lines_account_dedupe_key")
        ),
    )
    with op.batch_alter_table("statement_lines", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_statement_lines_booking_date"), ["booking_date"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_statement_lines_end_to_end_id"), ["end_to_end_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_statement_lines_inbound_file_id"), ["inbound_file_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_statement_lines_sub_account"), ["sub_account"], unique=False
        )

    op.create_table(
        "repayment_schedule_lines",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("loan_id", sa.Integer(), nullable=False),
        sa.Column("instalment_no", sa.Integer(), nullable=False),
        sa.Column(
            "method",
            sa.Enum(
                "lump_sum",
                "equal_instalments",
                name="repaymentmethod",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("principal_fen", sa.BigInteger(), nullable=False),
        sa.Column("fee_fen", sa.BigInteger(), nullable=False),
        sa.Column("paid_principal_fen", sa.BigInteger(), nullable=False),
        sa.Column("paid_fee_fen", sa.BigInteger(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_on", sa.Date(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "open",
                "paid",
                "overdue",
                "cancelled",
                name="schedulelinestatus",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.CheckConstraint(
            "principal_fen >= 0 AND fee_fen >= 0",
            name=op.f("ck_repayment_schedule_lines_amounts_not_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["loan_id"], ["loans.id"], name=op.f("fk_repayment_schedule_lines_loan_id_loans")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_repayment_schedule_lines")),
        sa.UniqueConstraint(
            "loan_id",
            "instalment_no",
            name=op.f("uq_repayment_schedule_lines_loan_id_instalment_no"),
        ),
    )
    with op.batch_alter_table("repayment_schedule_lines", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_repayment_schedule_lines_due_on"), ["due_on"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_repayment_schedule_lines_loan_id"), ["loan_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_repayment_schedule_lines_next_attempt_on"),
            ["next_attempt_on"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_repayment_schedule_lines_status"), ["status"], unique=False
        )

    op.create_table(
        "payment_instructions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("end_to_end_id", sa.String(length=35), nullable=False),
        sa.Column(
            "direction",
            sa.Enum("disbursement", "collection", name="direction", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "batched",
                "sent",
                "accepted",
                "rejected",
                "settled",
                "failed",
                "returned",
                name="instructionstatus",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("association_id", sa.Integer(), nullable=False),
        sa.Column("special_account_id", sa.Integer(), nullable=False),
        sa.Column("loan_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column(
            "schedule_line_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("principal_fen", sa.BigInteger(), nullable=False),
        sa.Column("fee_fen", sa.BigInteger(), nullable=False),
        sa.Column("requested_date", sa.Date(), nullable=False),
        sa.Column("batch_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("settled_amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("settled_on", sa.Date(), nullable=True),
        sa.Column("reason_code", sa.String(length=16), nullable=True),
        sa.Column("reason_text", sa.String(length=400), nullable=True),
        sa.Column("journal_transaction_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount_fen > 0", name=op.f("ck_payment_instructions_amount_positive")),
        sa.CheckConstraint(
            "principal_fen + fee_fen = amount_fen",
            name=op.f("ck_payment_instructions_split_adds_up"),
        ),
        sa.CheckConstraint(
            "principal_fen >= 0 AND fee_fen >= 0",
            name=op.f("ck_payment_instructions_split_not_negative"),
        ),
        sa.CheckConstraint(
            "settled_amount_fen >= 0", name=op.f("ck_payment_instructions_settled_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["association_id"],
            ["associations.id"],
            name=op.f("fk_payment_instructions_association_id_associations"),
        ),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["payment_batches.id"],
            name=op.f("fk_payment_instructions_batch_id_payment_batches"),
        ),
        sa.ForeignKeyConstraint(
            ["loan_id"], ["loans.id"], name=op.f("fk_payment_instructions_loan_id_loans")
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_payment_instructions_member_id_members")
        ),
        sa.ForeignKeyConstraint(
            ["schedule_line_id"],
            ["repayment_schedule_lines.id"],
            name=op.f("fk_payment_instructions_schedule_line_id_repayment_schedule_lines"),
        ),
        sa.ForeignKeyConstraint(
            ["special_account_id"],
            ["special_accounts.id"],
            name=op.f("fk_payment_instructions_special_account_id_special_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_instructions")),
        sa.UniqueConstraint("end_to_end_id", name=op.f("uq_payment_instructions_end_to_end_id")),
    )
    with op.batch_alter_table("payment_instructions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_payment_instructions_association_id"), ["association_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_payment_instructions_batch_id"), ["batch_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_payment_instructions_loan_id"), ["loan_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_payment_instructions_requested_date"), ["requested_date"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_payment_instructions_schedule_line_id"),
            ["schedule_line_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_payment_instructions_special_account_id"),
            ["special_account_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_payment_instructions_status"), ["status"], unique=False
        )

    op.create_table(
        "instruction_transitions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "instruction_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("from_status", sa.String(length=24), nullable=True),
        sa.Column("to_status", sa.String(length=24), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("cause", sa.String(length=400), nullable=False),
        sa.Column("batch_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column(
            "inbound_file_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["payment_batches.id"],
            name=op.f("fk_instruction_transitions_batch_id_payment_batches"),
        ),
        sa.ForeignKeyConstraint(
            ["inbound_file_id"],
            ["inbound_files.id"],
            name=op.f("fk_instruction_transitions_inbound_file_id_inbound_files"),
        ),
        sa.ForeignKeyConstraint(
            ["instruction_id"],
            ["payment_instructions.id"],
            name=op.f("fk_instruction_transitions_instruction_id_payment_instructions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_instruction_transitions")),
    )
    with op.batch_alter_table("instruction_transitions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_instruction_transitions_instruction_id"),
            ["instruction_id"],
            unique=False,
        )

    op.create_table(
        "payment_follow_ups",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "disbursement_failed",
                "collection_failed",
                "collection_partial",
                "returned_after_settlement",
                "file_quarantined",
                "batch_not_built",
                "delivery_failed",
                "over_file_limit",
                "retries_exhausted",
                name="followupkind",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("association_id", sa.Integer(), nullable=True),
        sa.Column(
            "instruction_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("batch_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column(
            "inbound_file_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("reason_code", sa.String(length=16), nullable=True),
        sa.Column("message_zh", sa.String(length=400), nullable=False),
        sa.Column("message_en", sa.String(length=400), nullable=False),
        sa.Column("resolved", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["association_id"],
            ["associations.id"],
            name=op.f("fk_payment_follow_ups_association_id_associations"),
        ),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["payment_batches.id"],
            name=op.f("fk_payment_follow_ups_batch_id_payment_batches"),
        ),
        sa.ForeignKeyConstraint(
            ["inbound_file_id"],
            ["inbound_files.id"],
            name=op.f("fk_payment_follow_ups_inbound_file_id_inbound_files"),
        ),
        sa.ForeignKeyConstraint(
            ["instruction_id"],
            ["payment_instructions.id"],
            name=op.f("fk_payment_follow_ups_instruction_id_payment_instructions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_follow_ups")),
    )
    with op.batch_alter_table("payment_follow_ups", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_payment_follow_ups_business_date"), ["business_date"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_payment_follow_ups_kind"), ["kind"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("payment_follow_ups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payment_follow_ups_kind"))
        batch_op.drop_index(batch_op.f("ix_payment_follow_ups_business_date"))

    op.drop_table("payment_follow_ups")
    with op.batch_alter_table("instruction_transitions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_instruction_transitions_instruction_id"))

    op.drop_table("instruction_transitions")
    with op.batch_alter_table("payment_instructions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payment_instructions_status"))
        batch_op.drop_index(batch_op.f("ix_payment_instructions_special_account_id"))
        batch_op.drop_index(batch_op.f("ix_payment_instructions_schedule_line_id"))
        batch_op.drop_index(batch_op.f("ix_payment_instructions_requested_date"))
        batch_op.drop_index(batch_op.f("ix_payment_instructions_loan_id"))
        batch_op.drop_index(batch_op.f("ix_payment_instructions_batch_id"))
        batch_op.drop_index(batch_op.f("ix_payment_instructions_association_id"))

    op.drop_table("payment_instructions")
    with op.batch_alter_table("repayment_schedule_lines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_repayment_schedule_lines_status"))
        batch_op.drop_index(batch_op.f("ix_repayment_schedule_lines_next_attempt_on"))
        batch_op.drop_index(batch_op.f("ix_repayment_schedule_lines_loan_id"))
        batch_op.drop_index(batch_op.f("ix_repayment_schedule_lines_due_on"))

    op.drop_table("repayment_schedule_lines")
    with op.batch_alter_table("statement_lines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_statement_lines_sub_account"))
        batch_op.drop_index(batch_op.f("ix_statement_lines_inbound_file_id"))
        batch_op.drop_index(batch_op.f("ix_statement_lines_end_to_end_id"))
        batch_op.drop_index(batch_op.f("ix_statement_lines_booking_date"))

    op.drop_table("statement_lines")
    with op.batch_alter_table("inbound_files", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inbound_files_status"))
        batch_op.drop_index(batch_op.f("ix_inbound_files_business_date"))
        batch_op.drop_index(batch_op.f("ix_inbound_files_bank_code"))

    op.drop_table("inbound_files")
    with op.batch_alter_table("payment_batches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payment_batches_status"))
        batch_op.drop_index(batch_op.f("ix_payment_batches_business_date"))
        batch_op.drop_index(batch_op.f("ix_payment_batches_bank_code"))

    op.drop_table("payment_batches")
    with op.batch_alter_table("job_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_job_runs_status"))
        batch_op.drop_index(batch_op.f("ix_job_runs_business_date"))

    op.drop_table("job_runs")
