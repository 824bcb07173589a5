"""Migration 0009 moves the follow-ups raised for a refused file or an unanswered batch, which
0003–0008 stored as ``delivery_failed`` with a reason code, to the kinds of their own; on
SQLite and on PostgreSQL, and back on downgrade."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.orm import Session

from gateway.db import make_engine
from gateway.migrations import alembic_config, current_heads, upgrade
from gateway.payments.models import FollowUpItem, FollowUpKind

BEFORE = "0008_recon_journal_watermark"
REVISION = "0009_follow_up_kinds"

# (kind as 0008 stored it, reason code, kind expected from 0009 on)
ROWS = [
    ("delivery_failed", "FILE_REFUSED", "file_refused"),
    ("delivery_failed", "NO_ANSWER", "no_answer"),
    ("delivery_failed", None, "delivery_failed"),  # a file that could not be delivered
    ("collection_failed", "NO_ANSWER", "collection_failed"),  # a bank reason code, not ours
    ("file_quarantined", None, "file_quarantined"),
]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'migrate.db'}"
    url: str = request.getfixturevalue("postgres_database")
    return url


def _kinds(engine: sa.Engine) -> list[tuple[str, str | None]]:
    with engine.connect() as conn:
        return [
            (row.kind, row.reason_code)
            for row in conn.execute(
                sa.text("SELECT kind, reason_code FROM payment_follow_ups ORDER BY id")
            )
        ]


def test_0009_moves_refused_and_unanswered_follow_ups_to_their_own_kinds(empty_url: str) -> None:
    upgrade(empty_url, BEFORE)
    engine = make_engine(empty_url)
    try:
        with engine.begin() as conn:
            for n, (kind, code, _) in enumerate(ROWS, start=1):
                conn.execute(
                    sa.text(
                        "INSERT INTO payment_follow_ups (kind, business_date, amount_fen, "
                        "reason_code, message_zh, message_en, resolved, created_at) VALUES "
                        "(:kind, :day, :amount, :code, :zh, :en, :resolved, :at)"
                    ),
                    {
                        "kind": kind,
                        "day": date(2024, 7, n),
                        "amount": 100 * n,
                        "code": code,
                        "zh": f"事项 {n}",
                        "en": f"item {n}",
                        "resolved": False,
                        "at": "2024-07-01 08:00:00+00:00",
                    },
                )

        upgrade(empty_url, REVISION)
        assert current_heads(empty_url) == (REVISION,)
        assert _kinds(engine) == [(after, code) for _, code, after in ROWS]
        with Session(engine) as session:
            read = list(session.scalars(sa.select(FollowUpItem.kind).order_by(FollowUpItem.id)))
        assert read == [FollowUpKind(after) for _, _, after in ROWS]
        assert read[:2] == [FollowUpKind.FILE_REFUSED, FollowUpKind.NO_ANSWER]

        command.downgrade(alembic_config(empty_url), BEFORE)
        assert _kinds(engine) == [(before, code) for before, code, _ in ROWS]
    finally:
        engine.dispose()


def test_every_follow_up_kind_has_its_own_words_in_both_languages() -> None:
    labels = [(kind.label_zh, kind.label_en) for kind in FollowUpKind]
    assert len({zh for zh, _ in labels}) == len({en for _, en in labels}) == len(FollowUpKind)
    assert FollowUpKind.FILE_REFUSED.label_zh == "银行拒收文件"
    assert FollowUpKind.NO_ANSWER.label_zh == "银行逾期未回盘"
