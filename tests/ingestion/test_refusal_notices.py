"""The bank's refusal notice (``NAME.refused.txt``) rejects the batch it names, and a batch
left without any answer is chased after the configured number of banking days."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from adapters.records import ResultStatus
from gateway.batches.models import BatchStatus, PaymentBatch
from gateway.ingestion.models import InboundFile, InboundKind, InboundStatus
from gateway.ingestion.refusals import NO_ANSWER_CODE, REFUSED_CODE, NoticeRefused, parse_notice
from gateway.jobs.pipeline import run_date
from gateway.ledger.models import JournalTransaction
from gateway.loans.models import Loan, LoanStatus
from gateway.payments.models import FollowUpItem, FollowUpKind, InstructionStatus
from tests.settle_support import DAY1, Settle, settle_in

DAY2 = DAY1 + timedelta(days=1)


@pytest.fixture
def settle(tmp_path: Path) -> Iterator[Settle]:
    yield from settle_in(tmp_path)


def _notice(name: str, reason: str) -> bytes:
    return f"文件被拒绝 (file refused): {name}\n原因 (reason): {reason}\n".encode()


def _sent_batch_name(settle: Settle) -> str:
    (path,) = settle.bank.batches()
    return path.removeprefix("in/")


def test_a_refused_file_rejects_its_batch_and_puts_the_loan_back_to_approved(
    settle: Settle,
) -> None:
    loan = settle.released_loan(400_000)
    run_date(settle.nightly, DAY1)
    booked = settle.fresh().scalar(select(func.count()).select_from(JournalTransaction))
    name = _sent_batch_name(settle)
    reason = "签名或加密不符 (signature or encryption refused): bad signature"
    settle.server.put(f"out/{name}.refused.txt", _notice(name, reason))

    outcomes = run_date(settle.nightly, DAY2)
    assert {o.step: o.status for o in outcomes}["results"] == "ran"

    session = settle.fresh()
    (batch,) = session.scalars(select(PaymentBatch)).all()
    assert batch.status is BatchStatus.REJECTED
    assert reason in (batch.last_error or "")
    (instruction,) = settle.instructions()
    assert instruction.status is InstructionStatus.FAILED
    assert reason in (instruction.reason_text or "")
    refreshed = session.get(Loan, loan.id)
    assert refreshed is not None
    assert refreshed.status in (LoanStatus.COUNCIL_APPROVED, LoanStatus.COUNTY_APPROVED)
    (notice,) = session.scalars(select(InboundFile)).all()
    assert notice.kind is InboundKind.REFUSAL
    assert notice.status is InboundStatus.APPLIED
    assert notice.batch_id == batch.id
    items = session.scalars(select(FollowUpItem).order_by(FollowUpItem.id)).all()
    refused = [i for i in items if i.reason_code == REFUSED_CODE]
    assert len(refused) == 1
    assert refused[0].kind is FollowUpKind.FILE_REFUSED
    assert refused[0].batch_id == batch.id
    assert "bad signature" in refused[0].message_zh
    assert FollowUpKind.DISBURSEMENT_FAILED in {i.kind for i in items}
    assert FollowUpKind.DELIVERY_FAILED not in {i.kind for i in items}  # it was delivered
    # nothing was booked
    assert session.scalar(select(func.count()).select_from(JournalTransaction)) == booked


def test_a_refusal_of_a_batch_already_answered_is_quarantined(settle: Settle) -> None:
    settle.released_loan(400_000)
    run_date(settle.nightly, DAY1)
    name = _sent_batch_name(settle)
    settle.bank.answer(DAY1)
    run_date(settle.nightly, DAY2)
    settle.server.put(f"out/{name}.refused.txt", _notice(name, "文件格式错误"))
    run_date(settle.nightly, DAY2 + timedelta(days=1))

    session = settle.fresh()
    notice = session.scalars(
        select(InboundFile).where(InboundFile.kind == InboundKind.REFUSAL)
    ).one()
    assert notice.status is InboundStatus.QUARANTINED
    assert "已回盘" in (notice.reason or "")
    (instruction,) = settle.instructions()
    assert instruction.status is InstructionStatus.SETTLED
    (batch,) = session.scalars(select(PaymentBatch)).all()
    assert batch.status is BatchStatus.ANSWERED


def test_a_refusal_of_a_batch_the_bank_partly_answered_is_quarantined(settle: Settle) -> None:
    settle.released_loan(400_000)
    settle.released_loan(300_000)
    run_date(settle.nightly, DAY1)
    name = _sent_batch_name(settle)
    ((_, batch),) = settle.bank.batches().items()
    first = batch.instructions[0]
    settle.bank.answer_one(batch, ResultStatus.SETTLED, first.amount_fen, DAY1, booked_on=DAY1)
    run_date(settle.nightly, DAY2)
    settle.server.put(f"out/{name}.refused.txt", _notice(name, "文件格式错误"))
    run_date(settle.nightly, DAY2 + timedelta(days=1))

    session = settle.fresh()
    notice = session.scalars(
        select(InboundFile).where(InboundFile.kind == InboundKind.REFUSAL)
    ).one()
    assert notice.status is InboundStatus.QUARANTINED
    assert f"{first.end_to_end_id} settled" in (notice.reason or "")
    statuses = {i.end_to_end_id: i.status for i in settle.instructions()}
    assert statuses[first.end_to_end_id] is InstructionStatus.SETTLED
    assert set(statuses.values()) == {InstructionStatus.SETTLED, InstructionStatus.SENT}
    (stored,) = session.scalars(select(PaymentBatch)).all()
    assert stored.status is not BatchStatus.REJECTED


def test_a_notice_naming_a_file_we_never_sent_is_quarantined(settle: Settle) -> None:
    settle.released_loan(400_000)
    run_date(settle.nightly, DAY1)
    settle.server.put("out/PAY_STRANGER.txt.refused.txt", _notice("PAY_STRANGER.txt", "格式错误"))
    run_date(settle.nightly, DAY2)
    session = settle.fresh()
    notice = session.scalars(select(InboundFile)).one()
    assert notice.status is InboundStatus.QUARANTINED
    assert "PAY_STRANGER.txt" in (notice.reason or "")
    (instruction,) = settle.instructions()
    assert instruction.status is InstructionStatus.SENT


@pytest.mark.parametrize(
    ("name", "content", "says"),
    [
        ("A.txt.refused.txt", b"\xff\xfe garbage", "UTF-8"),
        ("A.txt.refused.txt", _notice("B.txt", "x"), "B.txt"),
        ("A.txt.refused.txt", "文件被拒绝: A.txt\n".encode(), "no reason"),
        ("A.txt.refused.txt", "文件被拒绝: A.txt\n备注: x\n".encode(), "line 2"),
    ],
)
def test_a_broken_notice_is_refused_with_what_is_wrong(
    name: str, content: bytes, says: str
) -> None:
    with pytest.raises(NoticeRefused) as caught:
        parse_notice(name, content)
    assert says in caught.value.message_en


def test_a_notice_is_read_with_or_without_the_english_labels() -> None:
    notice = parse_notice("A.txt.refused.txt", "文件被拒绝: A.txt\n原因: 专户账号不符\n".encode())
    assert (notice.file_name, notice.reason) == ("A.txt", "专户账号不符")


def test_a_batch_left_unanswered_is_chased_once_after_the_banking_days(settle: Settle) -> None:
    settle.nightly = dataclasses.replace(settle.nightly, answer_within_banking_days=2)
    settle.released_loan(400_000)
    run_date(settle.nightly, DAY1)  # Monday: sent

    def chased() -> list[FollowUpItem]:
        return list(
            settle.fresh().scalars(
                select(FollowUpItem).where(FollowUpItem.reason_code == NO_ANSWER_CODE)
            )
        )

    for day in (DAY2, DAY1 + timedelta(days=2)):  # Tuesday, Wednesday: still in time
        run_date(settle.nightly, day)
        assert chased() == []
    run_date(settle.nightly, DAY1 + timedelta(days=3))  # Thursday: two banking days passed
    (item,) = chased()
    assert item.kind is FollowUpKind.NO_ANSWER
    assert item.batch_id is not None
    assert "2" in item.message_zh
    run_date(settle.nightly, DAY1 + timedelta(days=4))
    assert len(chased()) == 1


def test_weekends_are_not_banking_days_when_chasing(settle: Settle) -> None:
    settle.nightly = dataclasses.replace(settle.nightly, answer_within_banking_days=1)
    settle.released_loan(400_000)
    friday = DAY1 + timedelta(days=4)
    run_date(settle.nightly, DAY1)
    session = settle.fresh()
    batch = session.scalars(select(PaymentBatch)).one()
    batch.business_date = friday
    session.commit()
    run_date(settle.nightly, friday + timedelta(days=3))  # Monday: the one banking day
    assert settle.fresh().scalar(select(func.count()).select_from(FollowUpItem)) == 0
    run_date(settle.nightly, friday + timedelta(days=4))  # Tuesday
    items = settle.fresh().scalars(select(FollowUpItem)).all()
    assert [i.reason_code for i in items] == [NO_ANSWER_CODE]
