"""Refused files and unanswered batches get follow-up kinds of their own.

Before, a bank's refusal notice and a batch left unanswered both raised a ``delivery_failed``
follow-up, told apart only by the reason code (``FILE_REFUSED``, ``NO_ANSWER``). They are now
``file_refused`` (银行拒收文件) and ``no_answer`` (银行逾期未回盘). The kind column is a
VARCHAR(32) without a check constraint on either database, so no column changes: existing
rows are moved to the new kinds by their reason code, and back on downgrade. A batch chased
before the upgrade is then still known as chased, and is not chased a second time.

Revision ID: 0009_follow_up_kinds
Revises: 0008_recon_journal_watermark
Create Date: 2026-11-22 02:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_follow_up_kinds"
down_revision: str | Sequence[str] | None = "0008_recon_journal_watermark"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (reason code, kind before 0009, kind from 0009 on)
MOVES: tuple[tuple[str, str, str], ...] = (
    ("FILE_REFUSED", "delivery_failed", "file_refused"),
    ("NO_ANSWER", "delivery_failed", "no_answer"),
)

_follow_ups = sa.table(
    "payment_follow_ups",
    sa.column("kind", sa.String(32)),
    sa.column("reason_code", sa.String(16)),
)


def _move(reason_code: str, from_kind: str, to_kind: str) -> None:
    op.execute(
        _follow_ups.update()
        .where(_follow_ups.c.kind == from_kind, _follow_ups.c.reason_code == reason_code)
        .values(kind=to_kind)
    )


def upgrade() -> None:
    for reason_code, old_kind, new_kind in MOVES:
        _move(reason_code, old_kind, new_kind)


def downgrade() -> None:
    for reason_code, old_kind, new_kind in MOVES:
        _move(reason_code, new_kind, old_kind)
