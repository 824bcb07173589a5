"""Result files: the same file twice, a re-issued answer, an unknown batch — never applied
twice, never half-applied, and every file kept with its outcome."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from adapters.records import InstructionResult, ResultFile, ResultStatus
from gateway.ingestion.models import InboundFile, InboundStatus
from gateway.jobs.pipeline import run_date
from gateway.ledger.models import AccountCode, JournalTransaction
from gateway.ledger.service import balance
from gateway.payments.models import FollowUpItem, FollowUpKind, InstructionStatus
from tests.settle_support import DAY1, Settle, settle_in

DAY2 = DAY1 + timedelta(days=1)
DAY3 = DAY1 + timedelta(days=2)


@pytest.fixture
def settle(tmp_path: Path) -> Iterator[Settle]:
    yield from settle_in(tmp_path)


def _journal_count(settle: Settle) -> int:
    return int(settle.fresh().scalar(select(func.count()).select_from(JournalTransaction)) or 0)


def test_the_same_result_file_twice_books_once(settle: Settle) -> None:
    settle.released_loan(400_000)
    run_date(settle.nightly, DAY1)
    (name,) = settle.bank.answer(DAY1)
    data = settle.server.files()[f"out/{name}"]
    run_date(settle.nightly, DAY2)
    booked = _journal_count(settle)

    # the bank puts the very same file out again, under its name and under another
    settle.server.put(f"out/{name}", data)
    settle.server.put("out/RESULT_again.txt", data)
    run_date(settle.nightly, DAY3)

    session = settle.fresh()
    (stored,) = session.scalars(select(InboundFile)).all()
    assert stored.times_seen == 3
    assert stored.status is InboundStatus.APPLIED
    assert _journal_count(settle) == booked
    assert balance(session, settle.world.a.id, AccountCode.LOANS_RECEIVABLE) == 400_000


def _answer_again(settle: Settle, status: ResultStatus, settled_fen: int) -> int:
    """Settle a 4,000-yuan disbursement, then have the bank answer it once more."""
    settle.released_loan(400_000)
    run_date(settle.nightly, DAY1)
    batch = next(iter(settle.bank.batches().values()))
    settle.bank.answer(DAY1)
    run_date(settle.nightly, DAY2)
    booked = _journal_count(settle)
    settle.bank.answer_one(
        batch,
        status,
        settled_fen,
        DAY2,
        booked_on=DAY2 if settled_fen else None,
        reason_code="AM05" if status is ResultStatus.REJECTED else None,
    )
    run_date(settle.nightly, DAY3)
    return booked


def test_a_reissued_answer_for_a_settled_instruction_changes_nothing(settle: Settle) -> None:
    booked = _answer_again(settle, ResultStatus.SETTLED, 400_000)
    (instruction,) = settle.instructions()
    assert instruction.status is InstructionStatus.SETTLED
    assert _journal_count(settle) == booked
    files = settle.fresh().scalars(select(InboundFile).order_by(InboundFile.id)).all()
    assert [f.status for f in files] == [InboundStatus.APPLIED, InboundStatus.APPLIED]
    assert '"ignored": 1' in files[1].summary_json
    assert not settle.fresh().scalars(select(FollowUpItem)).all()


def test_a_later_answer_refusing_a_settled_payment_changes_nothing_and_goes_to_the_office(
    settle: Settle,
) -> None:
    booked = _answer_again(settle, ResultStatus.REJECTED, 0)
    (instruction,) = settle.instructions()
    assert instruction.status is InstructionStatus.SETTLED
    assert _journal_count(settle) == booked
    files = settle.fresh().scalars(select(InboundFile).order_by(InboundFile.id)).all()
    assert [f.status for f in files] == [InboundStatus.APPLIED, InboundStatus.APPLIED]
    assert '"contradicted": 1' in files[1].summary_json
    (item,) = settle.fresh().scalars(select(FollowUpItem)).all()
    assert item.kind is FollowUpKind.ANSWER_CONTRADICTED
    assert item.instruction_id == instruction.id
    assert "settled 400000 fen before, not settled now" in item.message_en


def test_a_result_for_an_unknown_batch_is_quarantined_and_the_others_still_apply(
    settle: Settle,
) -> None:
    settle.released_loan(400_000)
    run_date(settle.nightly, DAY1)
    batch = next(iter(settle.bank.batches().values()))
    stranger = type(batch)(
        message_id="DFTBANK20240701999",
        direction=batch.direction,
        special_account=batch.special_account,
        special_account_name=batch.special_account_name,
        created_at=batch.created_at,
        requested_date=batch.requested_date,
        instructions=batch.instructions,
    )
    (item,) = batch.instructions
    settle.bank.put_result(
        stranger,
        [
            InstructionResult(
                end_to_end_id=item.end_to_end_id,
                status=ResultStatus.SETTLED,
                settled_amount_fen=item.amount_fen,
                booking_date=DAY1,
            )
        ],
        DAY1,
    )
    settle.bank.answer(DAY1)
    outcomes = run_date(settle.nightly, DAY2)
    assert {o.step: o.status for o in outcomes}["results"] == "ran"

    session = settle.fresh()
    files = {f.name: f for f in session.scalars(select(InboundFile))}
    unknown = next(f for n, f in files.items() if "999" in n)
    assert unknown.status is InboundStatus.QUARANTINED
    assert "DFTBANK20240701999" in (unknown.reason or "")
    (good,) = [f for f in files.values() if f is not unknown]
    assert good.status is InboundStatus.APPLIED
    # settled once, by the genuine answer only
    assert balance(session, settle.world.a.id, AccountCode.LOANS_RECEIVABLE) == 400_000
    kinds = [i.kind for i in session.scalars(select(FollowUpItem))]
    assert kinds == [FollowUpKind.FILE_QUARANTINED]
    # the quarantined file is kept whole for the fund office to look at
    assert unknown.content
    assert unknown.sha256


def test_a_result_naming_an_instruction_outside_its_batch_is_refused_whole(
    settle: Settle,
) -> None:
    settle.released_loan(400_000)
    settle.released_loan(300_000)
    run_date(settle.nightly, DAY1)
    batch = next(iter(settle.bank.batches().values()))
    first, second = batch.instructions
    stranger = dataclasses.replace(second, end_to_end_id="HZD999999999901")
    settle.bank.put_result(
        dataclasses.replace(batch, instructions=(first, stranger)),
        [
            InstructionResult(first.end_to_end_id, ResultStatus.SETTLED, first.amount_fen),
            InstructionResult("HZD999999999901", ResultStatus.SETTLED, second.amount_fen),
        ],
        DAY1,
    )
    run_date(settle.nightly, DAY2)
    assert [i.status for i in settle.instructions()] == [InstructionStatus.SENT] * 2
    assert balance(settle.fresh(), settle.world.a.id, AccountCode.LOANS_RECEIVABLE) == 0
    (stored,) = settle.fresh().scalars(select(InboundFile)).all()
    assert stored.status is InboundStatus.QUARANTINED
    assert "HZD999999999901" in (stored.reason or "")


def test_a_later_answer_settling_a_refused_payment_goes_to_the_office(settle: Settle) -> None:
    settle.released_loan(400_000)
    run_date(settle.nightly, DAY1)
    batch = next(iter(settle.bank.batches().values()))
    settle.bank.answer(DAY1, lambda e2e, amount: (ResultStatus.REJECTED, 0, "AC04"))
    run_date(settle.nightly, DAY2)
    (instruction,) = settle.instructions()
    assert instruction.status is InstructionStatus.FAILED
    booked = _journal_count(settle)
    settle.bank.answer_one(batch, ResultStatus.SETTLED, 400_000, DAY2, booked_on=DAY2)
    run_date(settle.nightly, DAY3)

    (instruction,) = settle.instructions()
    assert instruction.status is InstructionStatus.FAILED  # nothing booked on a guess
    assert _journal_count(settle) == booked
    items = settle.fresh().scalars(
        select(FollowUpItem).where(FollowUpItem.kind == FollowUpKind.ANSWER_CONTRADICTED)
    )
    (contradicted,) = items.all()
    assert contradicted.amount_fen == 400_000
    assert "not settled (failed) before, settled 400000 fen now" in contradicted.message_en


@pytest.mark.parametrize(
    ("settled_without_amount", "booked_on", "reason"),
    [
        (True, DAY1, "settled but gives no amount"),
        (False, DAY1 - timedelta(days=400), "before its batch"),
        (False, DAY1 + timedelta(days=400), "after today"),
    ],
    ids=["settled-without-an-amount", "booked-before-the-batch", "booked-in-the-future"],
)
def test_an_answer_that_cannot_be_booked_is_quarantined_whole(
    settle: Settle,
    monkeypatch: pytest.MonkeyPatch,
    settled_without_amount: bool,
    booked_on: date,
    reason: str,
) -> None:
    settle.released_loan(400_000)
    run_date(settle.nightly, DAY1)
    batch = next(iter(settle.bank.batches().values()))
    booked = _journal_count(settle)
    settle.bank.answer_one(batch, ResultStatus.SETTLED, 400_000, DAY1, booked_on=booked_on)
    if settled_without_amount:
        # as a pain.002 saying ACSC with no amounts reads: settled, nothing named as moved
        real = settle.profile.adapter.parse_result

        def without_amount(content: bytes) -> ResultFile:
            parsed = real(content)
            results = tuple(
                dataclasses.replace(r, settled_amount_fen=0, requested_amount_fen=None)
                for r in parsed.results
            )
            return dataclasses.replace(parsed, results=results)

        monkeypatch.setattr(settle.profile.adapter, "parse_result", without_amount)
    run_date(settle.nightly, DAY2)

    (instruction,) = settle.instructions()
    assert instruction.status is InstructionStatus.SENT  # neither settled nor failed
    assert _journal_count(settle) == booked
    (file,) = settle.fresh().scalars(select(InboundFile)).all()
    assert file.status is InboundStatus.QUARANTINED
    assert reason in (file.reason or "")
    kinds = [i.kind for i in settle.fresh().scalars(select(FollowUpItem))]
    assert kinds == [FollowUpKind.FILE_QUARANTINED]
