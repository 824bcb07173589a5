"""Batches: banking days and cut-offs, the bank's limits, deterministic names, bytes stored
once, one bad batch never stopping the others, and resending only what the bank lacks."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from adapters.records import Direction
from adapters.transport.errors import ConnectFailedError
from gateway.batches.builder import execution_date, split_by_limits
from gateway.batches.calendar import load_calendar, next_cutoff
from gateway.batches.models import BatchStatus, PaymentBatch
from gateway.batches.sender import resend
from gateway.errors import Conflict
from gateway.jobs.models import JobRun, RunStatus
from gateway.jobs.pipeline import run_date
from gateway.members.models import Member
from gateway.payments.models import FollowUpItem, FollowUpKind, InstructionStatus
from tests.settle_support import DAY1, REPO, Settle, bank_profile, settle_in

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def settle(tmp_path: Path) -> Iterator[Settle]:
    yield from settle_in(tmp_path)


def _batches(settle: Settle) -> list[PaymentBatch]:
    return list(settle.fresh().scalars(select(PaymentBatch).order_by(PaymentBatch.id)))


def test_banking_days_and_the_next_cutoff() -> None:
    calendar = load_calendar(REPO / "config" / "calendar" / "cn.toml")
    assert not calendar.is_banking_day(date(2024, 10, 1))  # National Day
    assert calendar.is_banking_day(date(2024, 9, 29))  # a Sunday worked in exchange
    assert not calendar.is_banking_day(date(2024, 7, 6))  # an ordinary Saturday
    bank = bank_profile().config
    before = datetime(2024, 9, 30, 15, 0, tzinfo=SHANGHAI)
    assert next_cutoff(bank, calendar, Direction.COLLECTION, before) == datetime(
        2024, 9, 30, 15, 30, tzinfo=SHANGHAI
    )
    after = datetime(2024, 9, 30, 16, 30, tzinfo=SHANGHAI)
    assert next_cutoff(bank, calendar, Direction.DISBURSEMENT, after) == datetime(
        2024, 10, 8, 16, 0, tzinfo=SHANGHAI
    )


def test_a_batch_built_past_the_cutoff_asks_for_the_next_banking_day() -> None:
    profile = bank_profile()  # disbursements by 16:00, collections by 15:30
    monday = date(2024, 9, 30)  # the last banking day before the National Day week

    def asked(direction: Direction, hour: int, minute: int, today: date | None = None) -> date:
        now = datetime(2024, 9, 30, hour, minute, tzinfo=SHANGHAI)
        return execution_date(profile, direction, monday, today=today, now=now)

    assert asked(Direction.DISBURSEMENT, 15, 45) == monday
    assert asked(Direction.COLLECTION, 15, 45) == date(2024, 10, 8)
    assert asked(Direction.DISBURSEMENT, 16, 0) == date(2024, 10, 8)
    # run on a later day: that day's next banking day, whatever the hour there
    later = datetime(2024, 10, 8, 9, 0, tzinfo=SHANGHAI)
    assert execution_date(
        profile, Direction.DISBURSEMENT, monday, today=date(2024, 10, 2), now=later
    ) == date(2024, 10, 8)
    assert execution_date(
        profile, Direction.DISBURSEMENT, monday, today=date(2024, 10, 8), now=later
    ) == date(2024, 10, 8)


def test_split_respects_lines_and_amount_and_leaves_out_the_oversized() -> None:
    assert split_by_limits([1, 1, 1, 1, 1], max_lines=2, max_amount_fen=None) == [
        [0, 1],
        [2, 3],
        [4],
    ]
    assert split_by_limits([60, 50, 40, 200, 10], max_lines=10, max_amount_fen=100) == [
        [0],
        [1, 2, 4],
    ]


def test_limits_split_the_window_into_deterministically_named_files(settle: Settle) -> None:
    settle.profile = bank_profile(limits={"max_lines_per_file": 2})
    for amount in (100_000, 200_000, 300_000):
        settle.released_loan(amount)
    run_date(settle.nightly, DAY1)
    batches = _batches(settle)
    assert [(b.file_name, b.line_count, b.total_fen) for b in batches] == [
        ("DF_tbank_20240701_001.txt", 2, 300_000),
        ("DF_tbank_20240701_002.txt", 1, 300_000),
    ]
    files = settle.server.files()
    for b in batches:
        assert b.status is BatchStatus.SENT
        assert files[f"in/{b.file_name}"] == b.content
        assert hashlib.sha256(b.content).hexdigest() == b.sha256
        assert f"in/{b.file_name}.done" in files


def test_nothing_is_built_on_a_holiday(settle: Settle) -> None:
    settle.released_loan(100_000)
    outcomes = run_date(settle.nightly, date(2024, 10, 1))
    assert outcomes[-1].summary["banking_day"] is False
    assert _batches(settle) == []
    run_date(settle.nightly, date(2024, 10, 8))
    assert [b.file_name for b in _batches(settle)] == ["DF_tbank_20241008_001.txt"]


def test_one_batch_that_cannot_be_delivered_does_not_stop_the_others(settle: Settle) -> None:
    settle.profile = bank_profile(limits={"max_lines_per_file": 1})
    settle.released_loan(100_000)
    settle.released_loan(200_000)
    # a different file already sits under the first batch's name: it is never overwritten
    settle.server.put("in/DF_tbank_20240701_001.txt", b"someone else's file")
    outcomes = run_date(settle.nightly, DAY1)
    assert outcomes[-1].summary["failed"] == 1
    first, second = _batches(settle)
    assert first.status is BatchStatus.STORED
    assert "refusing to overwrite" in (first.last_error or "")
    assert second.status is BatchStatus.SENT
    assert settle.server.files()["in/DF_tbank_20240701_001.txt"] == b"someone else's file"
    kinds = [i.kind for i in settle.fresh().scalars(select(FollowUpItem))]
    assert kinds == [FollowUpKind.DELIVERY_FAILED]


def test_an_unreachable_server_for_hours_loses_nothing_and_sends_once(settle: Settle) -> None:
    settle.released_loan(100_000)
    settle.server.fail_next(10_000, lambda op: ConnectFailedError(f"connection refused ({op})"))
    outcomes = run_date(settle.nightly, DAY1)
    status = {o.step: o.status for o in outcomes}
    assert status["fetch"] == "failed"
    assert status["batches"] == "failed"
    (batch,) = _batches(settle)
    assert batch.status is BatchStatus.STORED
    assert "connection refused" in (batch.last_error or "")
    runs = settle.fresh().scalars(select(JobRun).where(JobRun.status == RunStatus.FAILED)).all()
    assert sorted(r.step for r in runs) == ["batches", "fetch"]

    settle.server.fail_next(0)
    run_date(settle.nightly, DAY1)  # the failed steps of the day run again, the rest do not
    run_date(settle.nightly, DAY1)
    (batch,) = _batches(settle)
    assert batch.status is BatchStatus.SENT
    assert [p for p in settle.server.files() if p.startswith("in/DF")] == [
        "in/DF_tbank_20240701_001.txt",
        "in/DF_tbank_20240701_001.txt.done",
    ]
    (instruction,) = settle.instructions()
    assert instruction.status is InstructionStatus.SENT


def test_resend_delivers_stored_bytes_only_while_the_bank_lacks_them(settle: Settle) -> None:
    settle.released_loan(100_000)
    run_date(settle.nightly, DAY1)
    (batch,) = _batches(settle)
    # the bank lost the file: resend puts back exactly the stored bytes
    settle.server.delete(f"in/{batch.file_name}")
    settle.server.delete(f"in/{batch.file_name}.done")
    again = resend(settle.factory, settle.profile, settle.server, batch.id, business_date=DAY1)
    assert again.status.value == "delivered"
    assert settle.server.files()[f"in/{batch.file_name}"] == batch.content
    # once the bank has answered, a resend is refused
    settle.bank.answer(DAY1)
    run_date(settle.nightly, DAY1 + timedelta(days=1))
    with pytest.raises(Conflict, match="answered"):
        resend(settle.factory, settle.profile, settle.server, batch.id, business_date=DAY1)


def test_a_batch_that_cannot_be_rendered_stays_pending_and_the_others_go(
    settle: Settle,
) -> None:
    settle.profile = bank_profile(limits={"max_lines_per_file": 1})
    first = settle.released_loan(100_000)
    settle.released_loan(200_000)
    borrower = settle.session.get(Member, first.member_id)
    assert borrower is not None
    borrower.name = "王|五"  # the bank's delimiter inside a field: the file cannot be written
    settle.session.commit()
    outcomes = run_date(settle.nightly, DAY1)
    assert outcomes[-1].status == "ran"
    assert outcomes[-1].summary["refused"] == 1
    (batch,) = _batches(settle)
    assert (batch.file_name, batch.line_count, batch.status) == (
        "DF_tbank_20240701_001.txt",
        1,
        BatchStatus.SENT,
    )
    stuck, sent = settle.instructions()
    assert stuck.status is InstructionStatus.PENDING
    assert stuck.batch_id is None
    assert sent.status is InstructionStatus.SENT
    (item,) = settle.fresh().scalars(select(FollowUpItem)).all()
    assert item.kind is FollowUpKind.BATCH_NOT_BUILT
