"""Two people acting on one thing at the same moment, on PostgreSQL: the money is booked once
and the second is told it was done already. Before, each read the item (or the write-off
review) before the other had written, both passed the state check, and the second booking
went through beside the first, each balanced on its own, so nothing noticed."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.errors import Conflict
from gateway.ledger import service as ledger
from gateway.ledger.models import AccountCode, JournalTransaction
from gateway.liquidation import service as liquidation
from gateway.liquidation.models import WriteOffReview
from gateway.loans import service as loans
from gateway.migrations import upgrade
from gateway.queue import service as queue
from gateway.queue.models import QueueEvent
from gateway.reconcile.models import ManualMatch
from gateway.reconcile.source import entry_id_of
from tests.recon_support import Nights

pytestmark = pytest.mark.postgres

STRANGER = "6230000099998888"


@pytest.fixture
def nights(postgres_database: str, tmp_path: Path) -> Iterator[Nights]:
    upgrade(postgres_database)
    built = Nights(tmp_path, postgres_database)
    yield built
    built.close()


def _at_once(nights: Nights, *works: Callable[[Session], object]) -> list[object]:
    """Each work in its own session and thread, started together; what each returned or
    raised."""
    barrier = threading.Barrier(len(works))
    results: list[object] = [None] * len(works)

    def run(index: int, work: Callable[[Session], object]) -> None:
        with nights.settle.factory() as session:
            barrier.wait(10)
            try:
                results[index] = work(session)
                session.commit()
            except Exception as exc:  # the refusal is what the test looks at
                session.rollback()
                results[index] = exc

    threads = [threading.Thread(target=run, args=(i, w)) for i, w in enumerate(works)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def _refused(results: list[object]) -> list[Conflict]:
    refusals = [r for r in results if isinstance(r, Exception)]
    assert len(refusals) == 1, results
    (refusal,) = refusals
    assert isinstance(refusal, Conflict), repr(refusal)
    return [refusal]


def _booked(nights: Nights, item_id: int) -> int:
    session = nights.settle.fresh()
    return int(
        session.scalar(
            select(func.count())
            .select_from(JournalTransaction)
            .where(JournalTransaction.external_ref == f"queue:{item_id}")
        )
        or 0
    )


def test_two_adjusting_entries_on_one_balance_break_book_it_once(nights: Nights) -> None:
    nights.night(closing_delta={nights.sub_a: 500})
    (item,) = [i for i in nights.items("balance_break") if i.subject.startswith("ledger:")]

    results = _at_once(
        nights,
        *(
            lambda s, who=who: queue.resolve_adjusting_entry(s, item.id, actor=who, reason="结息差")
            for who in ("alice", "bob")
        ),
    )

    (refusal,) = _refused(results)
    assert refusal.code == "queue_item_state"
    assert _booked(nights, item.id) == 1
    assert ledger.balance(nights.settle.fresh(), nights.world.a.id, AccountCode.SUSPENSE) == -500


def test_a_large_adjustment_approved_by_two_reviewers_at_once_is_booked_once(
    nights: Nights,
) -> None:
    nights.night(closing_delta={nights.sub_a: 200_000})
    (item,) = [i for i in nights.items("balance_break") if i.subject.startswith("ledger:")]
    session = nights.settle.fresh()
    queue.resolve_adjusting_entry(session, item.id, actor="alice", reason="不明入账")
    session.commit()

    results = _at_once(
        nights,
        lambda s: queue.review(s, item.id, actor="bob", approve=True, note="已核对"),
        lambda s: queue.review(s, item.id, actor="carol", approve=False, note="退回"),
    )

    _refused(results)
    booked = _booked(nights, item.id)
    events = [
        e.action
        for e in nights.settle.fresh().scalars(
            select(QueueEvent).where(QueueEvent.item_id == item.id)
        )
    ]
    # one decision stands, and the books say the same as the item's history
    assert booked == events.count("adjustment_approved")
    assert events.count("adjustment_approved") + events.count("adjustment_rejected") == 1


def test_one_bank_line_matched_by_hand_twice_at_once_is_matched_once(nights: Nights) -> None:
    nights.night([nights.line(nights.sub_b, 33_300, counterparty_account=STRANGER)])
    session = nights.settle.fresh()
    entries = [
        entry_id_of(
            ledger.post(
                session,
                association_id=nights.world.b.id,
                business_date=nights.day,
                description=f"会员入会互助金 {k}",
                kind="member_deposit",
                legs=[
                    ledger.Posting.debit(AccountCode.BANK_SUB_ACCOUNT, 33_300),
                    ledger.Posting.credit(AccountCode.MEMBER_DEPOSITS, 33_300),
                ],
            ).id
        )
        for k in range(2)
    ]
    session.commit()
    for _ in range(3):  # until the two entries are unmatched book entries with items
        nights.night()
    line_item = nights.item("unmatched_bank")
    (line,) = queue.item_line_ids(line_item)
    book_items = {e: i for i in nights.items("unmatched_book") for e in queue.item_entry_ids(i)}

    results = _at_once(
        nights,
        lambda s: queue.resolve_manual_match(
            s, line_item.id, actor="alice", line_ids=[line], entry_ids=[entries[0]]
        ),
        lambda s: queue.resolve_manual_match(
            s, book_items[entries[1]].id, actor="bob", line_ids=[line], entry_ids=[entries[1]]
        ),
    )

    (refusal,) = _refused(results)
    assert refusal.code == "not_open"
    assert nights.settle.fresh().scalar(select(func.count()).select_from(ManualMatch)) == 1


def test_a_liquidation_write_off_decided_twice_at_once_is_booked_once(nights: Nights) -> None:
    on = date(2024, 7, 10)
    world, session = nights.world, nights.session
    loan = world.approve(world.apply(world.members_a[0], amount_fen=100_000))
    world.release(loan)
    loans.mark_disbursed(session, loan.id, business_date=on)
    loans.mark_overdue(session, loan.id)
    session.commit()
    opened = liquidation.start(session, world.a.id, on=on, reason="撤销", actor="县办")
    review = liquidation.list_for_write_off(
        session, opened.id, loan.id, on=on, reason="无力偿还", actor="会计"
    )
    session.commit()
    before = ledger.balance(nights.settle.fresh(), world.a.id, AccountCode.LOANS_RECEIVABLE)

    results = _at_once(
        nights,
        *(
            lambda s, who=who: liquidation.decide_write_off(
                s, review.id, approve=True, on=on, actor=who
            )
            for who in ("县办甲", "县办乙")
        ),
    )

    _refused(results)
    fresh = nights.settle.fresh()
    written_off = fresh.scalars(
        select(JournalTransaction).where(JournalTransaction.kind == "write_off")
    ).all()
    assert len(written_off) == 1
    after = ledger.balance(fresh, world.a.id, AccountCode.LOANS_RECEIVABLE)
    assert before - after == 100_000
    decided = fresh.get(WriteOffReview, review.id)
    assert decided is not None
    assert decided.decided_by in ("县办甲", "县办乙")
