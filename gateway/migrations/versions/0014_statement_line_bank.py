"""A statement line records its bank, and is kept once per (bank, account, dedupe key): an
account number is unique only at its bank, so a line of one bank's account is no longer taken
for a copy of another bank's line on an account of the same number (and its return skipped).

Revision ID: 0014_statement_line_bank
Revises: 0013_batch_send_lease
Create Date: 2026-12-07 16:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_statement_line_bank"
down_revision: str | Sequence[str] | None = "0013_batch_send_lease"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("statement_lines", schema=None) as batch_op:
        batch_op.add_column(sa.Column("bank_code", sa.String(length=32), nullable=True))
    # every line came in a file of one bank
    op.execute(
        "UPDATE statement_lines SET bank_code = (SELECT inbound_files.bank_code "
        "FROM inbound_files WHERE inbound_files.id = statement_lines.inbound_file_id)"
    )
    with op.batch_alter_table("statement_lines", schema=None) as batch_op:
        batch_op.alter_column("bank_code", existing_type=sa.String(length=32), nullable=False)
        batch_op.drop_constraint("uq_statement_lines_account_dedupe_key", type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_statement_lines_bank_code_account_dedupe_key"),
            ["bank_code", "account", "dedupe_key"],
        )


def downgrade() -> None:
    # Lines of two banks under one (account, key) cannot both stay under the old constraint:
    # the later one is dropped, as the old code would never have kept it.
    op.execute(
        "DELETE FROM statement_lines WHERE id IN (SELECT later.id FROM statement_lines later "
        "JOIN statement_lines earlier ON earlier.account = later.account "
        "AND earlier.dedupe_key = later.dedupe_key AND earlier.id < later.id)"
    )
    with op.batch_alter_table("statement_lines", schema=None) as batch_op:
        batch_op.drop_constraint("uq_statement_lines_bank_code_account_dedupe_key", type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_statement_lines_account_dedupe_key"), ["account", "dedupe_key"]
        )
        batch_op.drop_column("bank_code")
