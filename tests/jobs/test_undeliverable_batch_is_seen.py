"""A batch the bank's server refuses every time (a different file already under its name)
fails the batches step each round, so the operator sees it and ``huzhu nightly`` exits 1; it
stays stored and is tried again each run, and the office gets one open follow-up for it,
not one more every round."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from gateway.batches.models import BatchStatus, PaymentBatch
from gateway.jobs.models import JobRun, RunStatus
from gateway.jobs.pipeline import run_date
from gateway.payments.follow_ups import resolve_follow_up
from gateway.payments.models import FollowUpItem, FollowUpKind, InstructionStatus
from tests.settle_support import DAY1, Settle, settle_in

NAME = "DF_tbank_20240701_001.txt"
DAY2 = DAY1 + timedelta(days=1)
DAY3 = DAY1 + timedelta(days=2)


@pytest.fixture
def settle(tmp_path: Path) -> Iterator[Settle]:
    yield from settle_in(tmp_path)


def _delivery_follow_ups(settle: Settle) -> list[FollowUpItem]:
    return list(
        settle.fresh().scalars(
            select(FollowUpItem)
            .where(FollowUpItem.kind == FollowUpKind.DELIVERY_FAILED)
            .order_by(FollowUpItem.id)
        )
    )


def test_a_batch_refused_every_round_fails_each_round_with_one_follow_up(settle: Settle) -> None:
    settle.released_loan(400_000)
    settle.server.put(f"in/{NAME}", b"someone else's file")

    outcomes = run_date(settle.nightly, DAY1, ("batches",))
    outcomes += run_date(settle.nightly, DAY1, ("batches_late",))
    outcomes += run_date(settle.nightly, DAY2, ("batches",))
    outcomes += run_date(settle.nightly, DAY3, ("batches",))

    assert [o.status for o in outcomes] == ["failed"] * 4
    for outcome in outcomes:
        assert NAME in (outcome.error or "")
        assert "refusing to overwrite" in (outcome.error or "")
        assert "无法送达" in (outcome.error or "")
        assert outcome.summary["failed_files"] == [NAME]
    (batch,) = settle.fresh().scalars(select(PaymentBatch)).all()
    assert batch.status is BatchStatus.STORED  # kept, and tried again each round
    assert batch.delivery_attempts == 4
    assert settle.server.files()[f"in/{NAME}"] == b"someone else's file"
    (item,) = _delivery_follow_ups(settle)
    assert item.batch_id == batch.id
    assert item.business_date == DAY1
    assert NAME in item.message_en
    runs = settle.fresh().scalars(select(JobRun).where(JobRun.step.startswith("batches"))).all()
    assert {r.status for r in runs} == {RunStatus.FAILED}


def test_a_batch_still_refused_after_the_office_resolved_its_follow_up_raises_a_new_one(
    settle: Settle,
) -> None:
    settle.released_loan(400_000)
    settle.server.put(f"in/{NAME}", b"someone else's file")
    run_date(settle.nightly, DAY1, ("batches",))
    (first,) = _delivery_follow_ups(settle)
    resolve_follow_up(settle.session, first.id, actor="county", note="asked the bank to clear it")
    settle.session.commit()

    run_date(settle.nightly, DAY2, ("batches",))
    run_date(settle.nightly, DAY3, ("batches",))

    items = _delivery_follow_ups(settle)
    assert [(i.resolved, i.business_date) for i in items] == [(True, DAY1), (False, DAY2)]


def test_once_the_other_file_is_gone_the_next_run_delivers_the_stored_batch(
    settle: Settle,
) -> None:
    settle.released_loan(400_000)
    settle.server.put(f"in/{NAME}", b"someone else's file")
    (failed,) = run_date(settle.nightly, DAY1, ("batches",))
    (batch,) = settle.fresh().scalars(select(PaymentBatch)).all()
    stored = batch.content
    settle.server.delete(f"in/{NAME}")  # the bank clears the stray file

    (sent,) = run_date(settle.nightly, DAY2, ("batches",))

    assert failed.status == "failed"
    assert sent.status == "ran", sent.error
    assert sent.summary["delivered"] == 1
    assert settle.server.files()[f"in/{NAME}"] == stored
    (instruction,) = settle.instructions()
    assert instruction.status is InstructionStatus.SENT
    # the office's follow-up says how the failure ended
    ((resolved, by, note),) = [
        (f.resolved, f.resolved_by, f.resolution_note) for f in _delivery_follow_ups(settle)
    ]
    assert (resolved, by) == (True, "system")
    assert note == f"批次文件已于 {DAY2.isoformat()} 送达银行 delivered: in/{NAME}"
