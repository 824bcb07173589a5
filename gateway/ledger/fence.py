"""The journal fence: a watermark below which every journal leg is committed.

A reconciliation run reads the books up to the highest journal leg id it can see and leaves the
legs above it to the next night. On PostgreSQL, ids come from a sequence when a row is inserted,
not when its transaction commits, so a posting that took id 100 can commit after one that took
id 101: a run reading "up to 101" between the two would not see 100, and the next night, taking
the legs above 101, would never offer it.

The fence closes that gap. Every transaction that writes journal legs first takes a shared
advisory lock, held until it ends; reading the watermark takes the same lock exclusively, which
waits for every writer already under way to commit or roll back, then reads the highest id and
lets go at once. Writers that start later get ids above the watermark. SQLite has one writer at a
time and commits in id order, so it needs no fence.
"""

from __future__ import annotations

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from gateway.ledger.models import JournalLeg

# The advisory lock key of the journal fence ("HZJOURNL" as a big-endian 64-bit integer).
JOURNAL_FENCE_KEY = int.from_bytes(b"HZJOURNL", "big", signed=True)


def _on_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def enter_journal_write(session: Session) -> None:
    """Called before journal legs are inserted: holds the fence open until the transaction ends
    (taking it again in the same transaction costs nothing)."""
    if _on_postgresql(session):
        session.execute(
            text("SELECT pg_advisory_xact_lock_shared(:key)"), {"key": JOURNAL_FENCE_KEY}
        )


def journal_watermark(session: Session) -> int:
    """The highest journal leg id, with every leg at or below it committed (0: none yet).

    On PostgreSQL this waits for the journal writes under way in other sessions to end. It is
    read with a lock held only for the moment of the read, so postings are not held up for the
    rest of the caller's transaction; statements the caller runs afterwards (READ COMMITTED)
    see every leg at or below the watermark.
    """
    query = select(func.coalesce(func.max(JournalLeg.id), 0))
    if not _on_postgresql(session):
        return int(session.scalar(query) or 0)
    connection = session.connection()
    connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": JOURNAL_FENCE_KEY})
    try:
        watermark = int(connection.scalar(query) or 0)
    except BaseException:
        # The transaction is aborted and could not unlock: drop the connection, which
        # releases the lock, rather than return it to the pool still holding it.
        connection.invalidate()
        raise
    connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": JOURNAL_FENCE_KEY})
    return watermark
