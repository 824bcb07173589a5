"""A reconciliation run reads the books up to a watermark (the highest journal leg id) and
leaves the legs above it to the next night. On PostgreSQL a posting that took a lower id can
commit after one that took a higher id; the watermark must wait for it, or the next night,
taking only the legs above the watermark, would never see it."""

from __future__ import annotations

import threading
import time
from datetime import date

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from gateway.ledger import service as ledger
from gateway.ledger.fence import journal_watermark
from gateway.ledger.models import AccountCode, JournalLeg, TransactionKind
from gateway.org.models import Association
from gateway.testing import WorldFactory


def _post(
    session: Session, association: Association, on: date, amount_fen: int, ref: str
) -> list[int]:
    """A donation received on the association's sub-account; returns the ids of its legs."""
    posted = ledger.post(
        session,
        association_id=association.id,
        business_date=on,
        description=f"捐赠 {ref}",
        kind=TransactionKind.CAPITAL_CONTRIBUTION,
        legs=[
            ledger.Posting(AccountCode.BANK_SUB_ACCOUNT, debit_fen=amount_fen),
            ledger.Posting(AccountCode.DONATIONS, credit_fen=amount_fen),
        ],
        external_ref=ref,
    )
    return list(
        session.scalars(select(JournalLeg.id).where(JournalLeg.transaction_id == posted.id))
    )


@pytest.mark.postgres
@pytest.mark.parametrize("db_backend", ["postgres"], indirect=True)
def test_watermark_waits_for_a_posting_that_took_a_lower_id(
    make_world: WorldFactory, session_factory: sessionmaker[Session]
) -> None:
    world = make_world()
    slow = session_factory()
    fast = session_factory()
    reader = session_factory()
    try:
        # two associations: postings of one association wait for each other on its audit
        # chain, those of two do not
        slow_ids = _post(slow, world.a, world.today, 10_000, "SLOW")  # not committed yet
        fast_ids = _post(fast, world.b, world.today, 20_000, "FAST")
        fast.commit()
        assert max(slow_ids) < min(fast_ids)

        result: dict[str, int] = {}

        def read() -> None:
            result["watermark"] = journal_watermark(reader)
            result["visible"] = int(
                reader.scalar(
                    select(func.count())
                    .select_from(JournalLeg)
                    .where(JournalLeg.id <= result["watermark"])
                )
                or 0
            )

        thread = threading.Thread(target=read)
        thread.start()
        time.sleep(0.5)
        # the slow posting is still open: the watermark is not given out yet
        assert thread.is_alive()
        assert "watermark" not in result
        slow.commit()
        thread.join(timeout=30)
        assert not thread.is_alive()

        watermark = result["watermark"]
        assert watermark >= max(fast_ids)
        with session_factory() as check:
            below = check.scalar(
                select(func.count()).select_from(JournalLeg).where(JournalLeg.id <= watermark)
            )
        # every leg at or below the watermark was there for the run to read, the slow
        # posting's included
        assert result["visible"] == below
        assert set(slow_ids) <= set(
            reader.scalars(select(JournalLeg.id).where(JournalLeg.id <= watermark))
        )
    finally:
        for s in (slow, fast, reader):
            s.rollback()
            s.close()


@pytest.mark.postgres
@pytest.mark.parametrize("db_backend", ["postgres"], indirect=True)
def test_postings_started_after_the_watermark_do_not_wait_for_the_run(
    make_world: WorldFactory, session_factory: sessionmaker[Session]
) -> None:
    """The fence is held only while the watermark is read, not for the run's transaction."""
    world = make_world()
    with session_factory() as run, session_factory() as treasurer:
        watermark = journal_watermark(run)  # the run's transaction stays open
        started = time.monotonic()
        ids = _post(treasurer, world.a, world.today, 30_000, "DURING")
        treasurer.commit()
        assert time.monotonic() - started < 5
        assert min(ids) > watermark
        run.rollback()


def test_watermark_is_the_highest_leg_id(make_world: WorldFactory, session: Session) -> None:
    world = make_world()
    ids = _post(session, world.a, world.today, 40_000, "ONE")
    session.commit()
    assert journal_watermark(session) == max(ids)
