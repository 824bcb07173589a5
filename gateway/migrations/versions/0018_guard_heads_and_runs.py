"""The audit chain heads only move forward, and a stored daily statement stays as it was stored.

``audit_chain_heads`` names each chain's last event, and ``huzhu audit verify`` reports a log
that ends before its head. A head moved back after the newest events were deleted, or deleted
with them, would hide that; the database now refuses both: an update must raise ``last_seq``
(and keep the chain's name), and a head is never deleted. Whoever may drop triggers can still
do both: ``huzhu audit heads`` prints the heads for the operator to keep elsewhere, and ``huzhu
audit verify --against FILE`` finds a chain shorter than, or different from, the kept copy.

``recon_runs`` is not wholly append-only: a run is inserted first, the postings it books refer
to it, and only then, in the same transaction, does it get its counts (lines matched,
exceptions, postings booked, items left open) and its finish time. Everything else — the
account, the date, the figures, the daily statement, its hash and its link to the day before —
never changes once stored, and a run is never deleted; the database refuses both.

Revision ID: 0018_guard_heads_and_runs
Revises: 0017_statement_days
Create Date: 2026-12-08 12:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0018_guard_heads_and_runs"
down_revision: str | Sequence[str] | None = "0017_statement_days"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The columns of a run that never change once stored (all but the counts filled in at the end
# of the run and its finish time).
SEALED_RUN_COLUMNS = (
    "id",
    "special_account_id",
    "business_date",
    "has_statement",
    "statement_id",
    "opening_fen",
    "closing_fen",
    "sub_closings_json",
    "line_count",
    "entry_count",
    "previous_hash",
    "statement_hash",
    "statement_json",
    "actor",
    "started_at",
    "journal_watermark",
)


def _changed(distinct: str) -> str:
    return " OR ".join(f"NEW.{c} {distinct} OLD.{c}" for c in SEALED_RUN_COLUMNS)


SQLITE_GUARDS = [
    """
    CREATE TRIGGER audit_chain_heads_forward_only BEFORE UPDATE ON audit_chain_heads
    WHEN NEW.last_seq <= OLD.last_seq OR NEW.chain IS NOT OLD.chain
    BEGIN SELECT RAISE(ABORT,
        'audit_chain_heads only move forward: a head cannot go back or change its chain');
    END
    """,
    """
    CREATE TRIGGER audit_chain_heads_no_delete BEFORE DELETE ON audit_chain_heads
    BEGIN SELECT RAISE(ABORT, 'audit_chain_heads are never deleted: DELETE refused'); END
    """,
    f"""
    CREATE TRIGGER recon_runs_sealed BEFORE UPDATE ON recon_runs
    WHEN {_changed("IS NOT")}
    BEGIN SELECT RAISE(ABORT,
        'recon_runs: a stored daily statement never changes: UPDATE refused');
    END
    """,
    """
    CREATE TRIGGER recon_runs_no_delete BEFORE DELETE ON recon_runs
    BEGIN SELECT RAISE(ABORT, 'recon_runs are never deleted: DELETE refused'); END
    """,
]

POSTGRES_GUARDS = [
    """
    CREATE FUNCTION huzhu_chain_head_forward() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'DELETE' THEN
            RAISE EXCEPTION 'audit_chain_heads are never deleted: DELETE refused'
                USING ERRCODE = 'restrict_violation';
        END IF;
        IF NEW.chain IS DISTINCT FROM OLD.chain OR NEW.last_seq <= OLD.last_seq THEN
            RAISE EXCEPTION
                'audit_chain_heads only move forward: chain % at % cannot become % at %',
                OLD.chain, OLD.last_seq, NEW.chain, NEW.last_seq
                USING ERRCODE = 'restrict_violation';
        END IF;
        RETURN NEW;
    END $$
    """,
    """
    CREATE FUNCTION huzhu_refuse_sealed_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '%: a stored daily statement never changes: % refused',
            TG_TABLE_NAME, TG_OP USING ERRCODE = 'restrict_violation';
    END $$
    """,
    """
    CREATE TRIGGER audit_chain_heads_forward_only BEFORE UPDATE OR DELETE ON audit_chain_heads
    FOR EACH ROW EXECUTE FUNCTION huzhu_chain_head_forward()
    """,
    # huzhu_refuse_change: the append-only tables' function (0001_foundation)
    """
    CREATE TRIGGER audit_chain_heads_no_truncate BEFORE TRUNCATE ON audit_chain_heads
    FOR EACH STATEMENT EXECUTE FUNCTION huzhu_refuse_change()
    """,
    f"""
    CREATE TRIGGER recon_runs_sealed BEFORE UPDATE ON recon_runs
    FOR EACH ROW WHEN ({_changed("IS DISTINCT FROM")})
    EXECUTE FUNCTION huzhu_refuse_sealed_change()
    """,
    """
    CREATE TRIGGER recon_runs_no_delete BEFORE DELETE ON recon_runs
    FOR EACH ROW EXECUTE FUNCTION huzhu_refuse_sealed_change()
    """,
    """
    CREATE TRIGGER recon_runs_no_truncate BEFORE TRUNCATE ON recon_runs
    FOR EACH STATEMENT EXECUTE FUNCTION huzhu_refuse_sealed_change()
    """,
]


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        guards = SQLITE_GUARDS
    elif dialect == "postgresql":
        guards = POSTGRES_GUARDS
    else:
        raise NotImplementedError(f"no guards for the {dialect} dialect")
    for statement in guards:
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for name in (
            "audit_chain_heads_forward_only",
            "audit_chain_heads_no_delete",
            "recon_runs_sealed",
            "recon_runs_no_delete",
        ):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    elif dialect == "postgresql":
        for name, table in (
            ("audit_chain_heads_forward_only", "audit_chain_heads"),
            ("audit_chain_heads_no_truncate", "audit_chain_heads"),
            ("recon_runs_sealed", "recon_runs"),
            ("recon_runs_no_delete", "recon_runs"),
            ("recon_runs_no_truncate", "recon_runs"),
        ):
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
        for function in ("huzhu_chain_head_forward", "huzhu_refuse_sealed_change"):
            op.execute(f"DROP FUNCTION IF EXISTS {function}()")
